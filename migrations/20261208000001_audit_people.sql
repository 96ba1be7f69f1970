-- The audit log names people: the role a call used (a person's role such as "approver",
-- or the machine token, "token:admin"), and the person's name and email when their token
-- carries them. Events recorded before have no role.
ALTER TABLE audit_events ADD COLUMN role text NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN actor_name text;
ALTER TABLE audit_events ADD COLUMN actor_email text;
