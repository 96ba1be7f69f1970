-- See the Postgres migration of the same name.
ALTER TABLE applications ADD COLUMN attention TEXT NOT NULL DEFAULT '';

CREATE UNIQUE INDEX idp_operations_one_client_change ON idp_operations (application_id)
    WHERE state = 'pending'
      AND (kind = 'regenerate_secret' OR kind = 'add_secret' OR kind = 'update_client');
