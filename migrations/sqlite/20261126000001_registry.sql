-- dcr registry schema for SQLite (dev mode and single-node runs); the Postgres schema in
-- ../ is the reference, and this one must keep the same constraints (the store contract
-- suite runs against both). sqlx's migrate! ignores subfolders, so Postgres never sees
-- this file.
--
-- Encodings: ids are lower-case hyphenated UUID text (sorts like Postgres uuid); times
-- are fixed-width UTC text with microseconds, 'YYYY-MM-DDTHH:MM:SS.ffffffZ', so they sort
-- and compare as text; lists and maps are JSON text. Secret material lives only in
-- *_sealed columns (AEAD, see common/src/seal.rs).

CREATE TABLE providers (
    id              TEXT PRIMARY KEY NOT NULL,
    name            TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    type            TEXT NOT NULL,
    config          TEXT NOT NULL,
    secrets_sealed  BLOB NOT NULL,
    labels          TEXT NOT NULL DEFAULT '{}',
    active          INTEGER NOT NULL,
    create_time     TEXT NOT NULL,
    update_time     TEXT NOT NULL
);

CREATE TABLE auth_strategies (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL UNIQUE,
    provider_id         TEXT NOT NULL REFERENCES providers (id),
    credential_claims   TEXT NOT NULL,
    scopes              TEXT NOT NULL,
    audience            TEXT NOT NULL,
    auth_methods        TEXT NOT NULL,
    session_cookie_name TEXT NOT NULL,
    session_ttl_seconds INTEGER NOT NULL,
    auto_approve        INTEGER NOT NULL,
    create_time         TEXT NOT NULL,
    update_time         TEXT NOT NULL
);
CREATE INDEX auth_strategies_provider ON auth_strategies (provider_id);

CREATE TABLE api_products (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    strategy_id TEXT NOT NULL REFERENCES auth_strategies (id),
    audience    TEXT NOT NULL,
    create_time TEXT NOT NULL,
    update_time TEXT NOT NULL
);
CREATE INDEX api_products_strategy ON api_products (strategy_id);

CREATE TABLE applications (
    id               TEXT PRIMARY KEY NOT NULL,
    developer_id     TEXT NOT NULL,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    strategy_id      TEXT NOT NULL REFERENCES auth_strategies (id),
    client_id        TEXT UNIQUE,
    redirect_uris    TEXT NOT NULL,
    state            TEXT NOT NULL,
    failure_reason   TEXT NOT NULL DEFAULT '',
    idp_state_sealed BLOB,
    request_id       TEXT,
    create_time      TEXT NOT NULL,
    update_time      TEXT NOT NULL
);
CREATE UNIQUE INDEX applications_developer_name ON applications (developer_id, name)
    WHERE state <> 'FAILED';
CREATE UNIQUE INDEX applications_developer_request ON applications (developer_id, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX applications_developer ON applications (developer_id, id);
CREATE INDEX applications_strategy ON applications (strategy_id);

CREATE TABLE credentials (
    id              TEXT PRIMARY KEY NOT NULL,
    application_id  TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    secret_hint     TEXT NOT NULL,
    idp_ref         TEXT NOT NULL DEFAULT '',
    create_time     TEXT NOT NULL,
    expire_time     TEXT,
    revoke_time     TEXT
);
CREATE INDEX credentials_application ON credentials (application_id);

CREATE TABLE registrations (
    id              TEXT PRIMARY KEY NOT NULL,
    application_id  TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    product_id      TEXT NOT NULL REFERENCES api_products (id),
    status          TEXT NOT NULL,
    -- The developer's chosen scopes (JSON list); empty means the strategy's.
    scopes          TEXT NOT NULL DEFAULT '[]',
    create_time     TEXT NOT NULL,
    update_time     TEXT NOT NULL,
    UNIQUE (application_id, product_id)
);
CREATE INDEX registrations_product ON registrations (product_id);

-- Intent of an IdP side effect (invariant 1). SQLite has one writer, so claiming under
-- BEGIN IMMEDIATE does what FOR UPDATE SKIP LOCKED does in Postgres.
CREATE TABLE idp_operations (
    id              TEXT PRIMARY KEY NOT NULL,
    application_id  TEXT NOT NULL,
    provider_id     TEXT NOT NULL,
    kind            TEXT NOT NULL,      -- create | delete
    state           TEXT NOT NULL,      -- pending | done
    journal_sealed  BLOB,
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease_until     TEXT NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    create_time     TEXT NOT NULL,
    update_time     TEXT NOT NULL
);
CREATE INDEX idp_operations_pending ON idp_operations (lease_until) WHERE state = 'pending';

-- The ordered change stream. Writers are serialised (one writer), so seq order is commit
-- order; AUTOINCREMENT never reuses a seq, and rows are never deleted, so it has no gaps.
CREATE TABLE change_log (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL,
    action          TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    application_id  TEXT NOT NULL DEFAULT '',
    client_id       TEXT NOT NULL DEFAULT '',
    time            TEXT NOT NULL
);

CREATE TABLE audit_events (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    time            TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    resource_type   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    outcome         TEXT NOT NULL
);
CREATE INDEX audit_events_filter ON audit_events (actor, action, resource_type, resource_id);
