-- Tokens token-svc handed out (see the Postgres migration of the same name).
CREATE TABLE issued_tokens (
    client_id     TEXT NOT NULL,
    token_digest  BLOB NOT NULL,
    expire_time   TEXT NOT NULL,
    PRIMARY KEY (client_id, token_digest)
);
CREATE INDEX issued_tokens_expire ON issued_tokens (expire_time);
