-- An IdP operation may concern one credential (see the Postgres migration of the same
-- name): a secret revoked locally first, pushed to the IdP until it confirms.
ALTER TABLE idp_operations ADD COLUMN credential_id TEXT;
