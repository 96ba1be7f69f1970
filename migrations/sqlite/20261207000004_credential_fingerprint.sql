-- A fingerprint of each credential's secret (see the Postgres migration of the same name).
ALTER TABLE credentials ADD COLUMN secret_salt BLOB;
ALTER TABLE credentials ADD COLUMN secret_digest BLOB;
