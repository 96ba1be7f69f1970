-- The audit log names people (see the Postgres migration of the same name).
ALTER TABLE audit_events ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN actor_name TEXT;
ALTER TABLE audit_events ADD COLUMN actor_email TEXT;
