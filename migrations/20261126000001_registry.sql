-- dcr registry schema. Secret material lives only in *_sealed columns (AEAD, see
-- common/src/seal.rs); client secrets issued by IdPs are never stored at all.

CREATE TABLE providers (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    display_name    text NOT NULL,
    issuer          text NOT NULL,
    type            text NOT NULL,
    -- Non-secret, type-specific settings.
    config          jsonb NOT NULL,
    -- Secret settings (initial_client_secret, dcr_token, initial_access_token, api_key).
    secrets_sealed  bytea NOT NULL,
    labels          jsonb NOT NULL DEFAULT '{}',
    active          boolean NOT NULL,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL
);

CREATE TABLE auth_strategies (
    id                  uuid PRIMARY KEY,
    name                text NOT NULL UNIQUE,
    provider_id         uuid NOT NULL REFERENCES providers (id),
    credential_claims   text[] NOT NULL,
    scopes              text[] NOT NULL,
    audience            text NOT NULL,
    auth_methods        text[] NOT NULL,
    session_cookie_name text NOT NULL,
    session_ttl_seconds bigint NOT NULL,
    auto_approve        boolean NOT NULL,
    create_time         timestamptz NOT NULL,
    update_time         timestamptz NOT NULL
);

CREATE TABLE api_products (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    description text NOT NULL,
    strategy_id uuid NOT NULL REFERENCES auth_strategies (id),
    audience    text NOT NULL,
    create_time timestamptz NOT NULL,
    update_time timestamptz NOT NULL
);

CREATE TABLE applications (
    id              uuid PRIMARY KEY,
    developer_id    text NOT NULL,
    name            text NOT NULL,
    description     text NOT NULL,
    strategy_id     uuid NOT NULL REFERENCES auth_strategies (id),
    client_id       text UNIQUE,
    redirect_uris   text[] NOT NULL,
    state           text NOT NULL,
    failure_reason  text NOT NULL DEFAULT '',
    -- Adapter state for the IdP client (e.g. RFC 7592 registration access token).
    idp_state_sealed bytea,
    request_id      text,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL
);
CREATE UNIQUE INDEX applications_developer_name ON applications (developer_id, name)
    WHERE state <> 'FAILED';
CREATE UNIQUE INDEX applications_developer_request ON applications (developer_id, request_id)
    WHERE request_id IS NOT NULL;
CREATE INDEX applications_developer ON applications (developer_id, id);

CREATE TABLE credentials (
    id              uuid PRIMARY KEY,
    application_id  uuid NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    secret_hint     text NOT NULL,
    -- The IdP's own id for this secret, where it has one (e.g. an Entra keyId).
    idp_ref         text NOT NULL DEFAULT '',
    create_time     timestamptz NOT NULL,
    expire_time     timestamptz,
    revoke_time     timestamptz
);
CREATE INDEX credentials_application ON credentials (application_id);

CREATE TABLE registrations (
    id              uuid PRIMARY KEY,
    application_id  uuid NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    product_id      uuid NOT NULL REFERENCES api_products (id),
    status          text NOT NULL,
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL,
    UNIQUE (application_id, product_id)
);
CREATE INDEX registrations_product ON registrations (product_id);

-- Intent of an IdP side effect, written in the same transaction as the state change that
-- needs it (invariant 1). A request works its own operation; the reconciler claims those
-- whose lease ran out (FOR UPDATE SKIP LOCKED, so replicas never share one).
CREATE TABLE idp_operations (
    id              uuid PRIMARY KEY,
    application_id  uuid NOT NULL,
    provider_id     uuid NOT NULL,
    kind            text NOT NULL,      -- create | delete
    state           text NOT NULL,      -- pending | done
    -- What the IdP answered, written the moment it answered (sealed: it may hold a
    -- registration access token), so a crash before the final commit can be undone.
    journal_sealed  bytea,
    attempts        integer NOT NULL DEFAULT 0,
    lease_until     timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT '',
    create_time     timestamptz NOT NULL,
    update_time     timestamptz NOT NULL
);
CREATE INDEX idp_operations_pending ON idp_operations (lease_until) WHERE state = 'pending';

-- The ordered change stream for the other services' caches. Writers take an advisory
-- transaction lock before inserting, so rows commit in seq order and a reader that
-- resumes after seq N can never miss a row that commits later with a smaller seq.
CREATE TABLE change_log (
    seq             bigserial PRIMARY KEY,
    kind            text NOT NULL,
    action          text NOT NULL,
    resource_id     text NOT NULL,
    application_id  text NOT NULL DEFAULT '',
    client_id       text NOT NULL DEFAULT '',
    time            timestamptz NOT NULL
);

CREATE TABLE audit_events (
    id              bigserial PRIMARY KEY,
    time            timestamptz NOT NULL,
    actor           text NOT NULL,
    action          text NOT NULL,
    resource_type   text NOT NULL,
    resource_id     text NOT NULL,
    outcome         text NOT NULL
);
CREATE INDEX audit_events_filter ON audit_events (actor, action, resource_type, resource_id);
