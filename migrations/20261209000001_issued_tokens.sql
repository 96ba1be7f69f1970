-- Tokens token-svc handed out for a client one of whose revoked secrets the IdP may still
-- take (directory.proto, RecordIssuedToken): gateways then accept only these. A token is
-- kept as its SHA-256 digest, never itself, and only until it expires.
CREATE TABLE issued_tokens (
    client_id     text NOT NULL,
    token_digest  bytea NOT NULL,
    expire_time   timestamptz NOT NULL,
    PRIMARY KEY (client_id, token_digest)
);
CREATE INDEX issued_tokens_expire ON issued_tokens (expire_time);
