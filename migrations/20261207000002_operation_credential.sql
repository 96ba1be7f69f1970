-- An IdP operation may concern one credential: revoking a secret is committed locally
-- first (gateways refuse it at once) and pushed to the IdP as an operation that the
-- reconciler retries until the IdP confirms.
ALTER TABLE idp_operations ADD COLUMN credential_id uuid;
