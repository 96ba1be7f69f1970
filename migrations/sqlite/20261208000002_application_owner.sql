-- An application's owner is a principal (see the Postgres migration of the same name).
ALTER TABLE applications ADD COLUMN owner_kind TEXT NOT NULL DEFAULT 'developer'
    CHECK (owner_kind = 'developer' OR owner_kind = 'team');
-- Names and request ids are unique per owner, so a team and a developer with the same id
-- never collide.
DROP INDEX applications_developer_name;
DROP INDEX applications_developer_request;
DROP INDEX applications_developer;
CREATE UNIQUE INDEX applications_owner_name ON applications (owner_kind, developer_id, name)
    WHERE state <> 'FAILED';
CREATE UNIQUE INDEX applications_owner_request ON applications (owner_kind, developer_id, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX applications_owner ON applications (owner_kind, developer_id, id);
