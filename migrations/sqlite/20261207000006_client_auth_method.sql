-- How each application's IdP client sends its secret to the token endpoint (see the
-- Postgres migration of the same name).
ALTER TABLE applications ADD COLUMN token_endpoint_auth_method TEXT;
