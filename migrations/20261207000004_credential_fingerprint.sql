-- A fingerprint of each credential's secret (common/src/fingerprint.rs: a salted, keyed
-- BLAKE3 digest, never the secret): token-svc refuses a revoked secret by it, where the
-- IdP cannot revoke one secret of several or has not confirmed yet. Older rows have none.
ALTER TABLE credentials ADD COLUMN secret_salt bytea;
ALTER TABLE credentials ADD COLUMN secret_digest bytea;
