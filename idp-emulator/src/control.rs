//! Test control under `/__emulator/` (no authentication): seed clients, manage Okta API
//! tokens and Auth0 APIs, inject faults, read call statistics, rotate keys, move the
//! clock, and dump state (secrets only as their last four characters).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::faults::{Fault, MAX_FAULTS};
use crate::http::{json, no_content, rfc3339};
use crate::ids::last4;
use crate::state::{EmulatorState, Vendor, World};
use crate::urls::Urls;
use crate::{auth0, curity, okta};

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route("/__emulator/health", get(health))
        .route("/__emulator/clients", post(create_client))
        .route(
            "/__emulator/auth0/resource-servers",
            post(create_resource_server),
        )
        .route("/__emulator/okta/api-tokens", post(create_api_token))
        .route(
            "/__emulator/okta/api-tokens/{token}",
            delete(revoke_api_token),
        )
        .route(
            "/__emulator/okta/service-apps",
            post(okta::service_apps::create),
        )
        .route(
            "/__emulator/faults",
            post(add_fault).get(list_faults).delete(clear_faults),
        )
        .route("/__emulator/stats", get(stats).delete(clear_stats))
        .route("/__emulator/rotate-keys", post(rotate_keys))
        .route("/__emulator/clock", post(clock))
        .route("/__emulator/state", get(dump))
}

fn bad(message: &str) -> Response {
    json(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| bad(&format!("invalid body: {e}")))
}

async fn health() -> Response {
    json(StatusCode::OK, json!({ "status": "ok" }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantSpec {
    audience: String,
    #[serde(default)]
    scope: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSpec {
    vendor: Vendor,
    client_id: Option<String>,
    client_secret: Option<String>,
    name: Option<String>,
    /// Auth0: Management API scopes. Curity: scopes the client may request. Okta: ignored.
    #[serde(default)]
    scopes: Vec<String>,
    /// Entra: app roles (application permissions) on Microsoft Graph.
    #[serde(default)]
    roles: Vec<String>,
    /// Auth0: client grants for other APIs (each audience becomes an API of the tenant).
    #[serde(default)]
    grants: Vec<GrantSpec>,
    /// Auth0 and Okta: the only way the token endpoint accepts the secret,
    /// `client_secret_post` or `client_secret_basic` (default: Post at Auth0, as its
    /// dashboard sets M2M apps; Basic at Okta, its default for registered clients).
    token_endpoint_auth_method: Option<String>,
    /// Auth0: the client's `client_metadata` (string values).
    #[serde(default)]
    client_metadata: serde_json::Map<String, Value>,
    /// Entra: the application's `tags`.
    #[serde(default)]
    tags: Vec<String>,
    /// Entra: the client id (appId) of an app whose service principal owns this one, as
    /// it owns what it creates (so `Application.ReadWrite.OwnedBy` reaches it).
    owner: Option<String>,
    /// How many such clients to make (1 by default, at most [`MAX_SEEDED`]), each named
    /// `"{name} {n}"`: a crowded tenant for paging tests, in one call. Several cannot share
    /// a `client_id` or `client_secret`.
    count: Option<usize>,
}

/// Clients one `POST /__emulator/clients` makes at most.
const MAX_SEEDED: usize = 2_000;

/// `POST /__emulator/clients`: create a client directly at a vendor (management or
/// initial clients). 201 `{vendor, client_id, client_secret, ...}`; with `count`, 201
/// `{vendor, client_ids}`.
async fn create_client(State(st): State<EmulatorState>, body: Bytes) -> Response {
    let spec: ClientSpec = match parse(&body) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if let Some(method) = &spec.token_endpoint_auth_method
        && !["client_secret_post", "client_secret_basic"].contains(&method.as_str())
    {
        return bad("token_endpoint_auth_method must be client_secret_post or client_secret_basic");
    }
    let Some(count) = spec.count else {
        let name = spec.name.clone().unwrap_or_else(|| "seeded client".into());
        return st.with_mut(|w| seed_one(w, st.urls(), &spec, name));
    };
    if !(1..=MAX_SEEDED).contains(&count) {
        return bad(&format!("count must be 1..{MAX_SEEDED}"));
    }
    if spec.client_id.is_some() || spec.client_secret.is_some() {
        return bad("several clients cannot share a client_id or client_secret");
    }
    let base = spec.name.clone().unwrap_or_else(|| "seeded client".into());
    let made: Result<Vec<Value>, Response> = st.with_mut(|w| {
        (1..=count)
            .map(|n| {
                let answer = seed_one(w, st.urls(), &spec, format!("{base} {n}"));
                match answer.status() {
                    StatusCode::CREATED => Ok(json!(last_seeded(w, spec.vendor))),
                    _ => Err(answer),
                }
            })
            .collect()
    });
    match made {
        Ok(ids) => json(
            StatusCode::CREATED,
            json!({ "vendor": spec.vendor, "client_ids": ids }),
        ),
        Err(resp) => resp,
    }
}

/// The id of the client a vendor's seeding just added (each pushes it last).
fn last_seeded(w: &World, vendor: Vendor) -> Option<&str> {
    match vendor {
        Vendor::Auth0 => w.auth0.clients.last().map(|c| c.client_id.as_str()),
        Vendor::Okta => w.okta.apps.last().map(|a| a.client_id.as_str()),
        Vendor::Curity => w.curity.clients.last().map(|c| c.client_id.as_str()),
        Vendor::AzureAd => w.entra.apps.last().map(|a| a.app_id.as_str()),
    }
}

fn seed_one(w: &mut World, urls: &Urls, spec: &ClientSpec, name: String) -> Response {
    let now = w.now();
    match spec.vendor {
        Vendor::Auth0 => seed_auth0_client(w, urls, spec, name),
        Vendor::Okta => seed_okta_client(w, spec, name, now),
        Vendor::Curity => seed_curity_client(w, spec, now),
        Vendor::AzureAd => seed_entra_app(w, spec, name, now),
    }
}

/// An M2M application (replacing one of the same id, with its grants), granted the
/// Management API scopes and the other APIs the spec names.
fn seed_auth0_client(w: &mut World, urls: &Urls, spec: &ClientSpec, name: String) -> Response {
    let id = spec.client_id.clone().unwrap_or_else(auth0::new_client_id);
    let secret = spec
        .client_secret
        .clone()
        .unwrap_or_else(auth0::new_client_secret);
    let mut client = auth0::Client::new(id.clone(), secret.clone(), name);
    if let Some(method) = &spec.token_endpoint_auth_method {
        client.token_endpoint_auth_method.clone_from(method);
    }
    client.client_metadata.clone_from(&spec.client_metadata);
    w.auth0.clients.retain(|c| c.client_id != id);
    w.auth0.grants.retain(|g| g.client_id != id);
    client.app_type = Some("non_interactive".into());
    client.grant_types = vec!["client_credentials".into()];
    w.auth0.clients.push(client);
    if !spec.scopes.is_empty() {
        w.auth0
            .upsert_grant(&id, &urls.auth0_management_audience(), spec.scopes.clone());
    }
    for g in &spec.grants {
        w.auth0.upsert_grant(&id, &g.audience, g.scope.clone());
    }
    json(
        StatusCode::CREATED,
        json!({ "vendor": "auth0", "client_id": id, "client_secret": secret }),
    )
}

/// A service app with one active secret, replacing one of the same id.
fn seed_okta_client(
    w: &mut World,
    spec: &ClientSpec,
    name: String,
    now: DateTime<Utc>,
) -> Response {
    let id = spec.client_id.clone().unwrap_or_else(okta::new_client_id);
    let secret = spec.client_secret.clone().unwrap_or_else(okta::new_secret);
    w.okta.apps.retain(|a| a.client_id != id);
    w.okta.apps.push(okta::App {
        client_id: id.clone(),
        issued_at: now.timestamp(),
        client_name: name,
        application_type: "service".into(),
        grant_types: vec!["client_credentials".into()],
        response_types: vec!["token".into()],
        redirect_uris: Vec::new(),
        token_endpoint_auth_method: spec
            .token_endpoint_auth_method
            .clone()
            .unwrap_or_else(|| "client_secret_basic".into()),
        optional: serde_json::Map::new(),
        secrets: vec![okta::Secret::new(
            secret.clone(),
            okta::SecretStatus::Active,
            now,
        )],
    });
    json(
        StatusCode::CREATED,
        json!({ "vendor": "okta", "client_id": id, "client_secret": secret }),
    )
}

/// A client credentials client allowed the spec's scopes, replacing one of the same id.
fn seed_curity_client(w: &mut World, spec: &ClientSpec, now: DateTime<Utc>) -> Response {
    let id = spec.client_id.clone().unwrap_or_else(crate::ids::guid);
    let secret = spec
        .client_secret
        .clone()
        .unwrap_or_else(|| crate::ids::url_safe(48));
    w.curity.clients.retain(|c| c.client_id != id);
    w.curity.clients.push(curity::Client {
        client_id: id.clone(),
        secret: secret.clone(),
        scopes: spec.scopes.clone(),
        grant_types: vec!["client_credentials".into()],
        metadata: serde_json::Map::new(),
        issued_at: now.timestamp(),
        rat: None,
    });
    json(
        StatusCode::CREATED,
        json!({ "vendor": "curity", "client_id": id, "client_secret": secret }),
    )
}

/// An app registration with its service principal, granted the spec's Graph roles.
fn seed_entra_app(w: &mut World, spec: &ClientSpec, name: String, now: DateTime<Utc>) -> Response {
    let secret = spec
        .client_secret
        .clone()
        .unwrap_or_else(|| crate::ids::url_safe(40));
    let app = w.entra.seed_app(
        spec.client_id.clone(),
        name,
        secret.clone(),
        spec.roles.clone(),
        now,
    );
    let (app_id, object_id) = (app.app_id.clone(), app.id.clone());
    let owner = spec
        .owner
        .as_deref()
        .and_then(|app_id| w.entra.sp_for(app_id))
        .map(|sp| sp.id.clone());
    if spec.owner.is_some() && owner.is_none() {
        return bad("owner names no application with a service principal");
    }
    if let Some(made) = w.entra.apps.last_mut() {
        made.tags.clone_from(&spec.tags);
        made.owners.extend(owner);
    }
    let sp_id = w.entra.sp_for(&app_id).map(|s| s.id.clone());
    json(
        StatusCode::CREATED,
        json!({ "vendor": "azure_ad", "client_id": app_id, "client_secret": secret,
                "object_id": object_id, "service_principal_id": sp_id }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceServerSpec {
    identifier: String,
}

/// `POST /__emulator/auth0/resource-servers {"identifier"}`: add an API to the Auth0
/// tenant, so client grants and tokens may name it as audience.
async fn create_resource_server(State(st): State<EmulatorState>, body: Bytes) -> Response {
    let spec: ResourceServerSpec = match parse(&body) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    st.with_mut(|w| {
        if !w.auth0.resource_servers.contains(&spec.identifier) {
            w.auth0.resource_servers.push(spec.identifier.clone());
        }
    });
    json(
        StatusCode::CREATED,
        json!({ "identifier": spec.identifier }),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ApiTokenSpec {
    token: String,
    #[serde(default)]
    read_only: bool,
}

/// `POST /__emulator/okta/api-tokens {"token", "read_only"?}`: a read-only token gets
/// E0000006 on every write.
async fn create_api_token(State(st): State<EmulatorState>, body: Bytes) -> Response {
    let spec: ApiTokenSpec = match parse(&body) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if spec.token.is_empty() || spec.token.len() > 256 {
        return bad("token must be 1..256 characters");
    }
    st.with_mut(|w| {
        w.okta.api_tokens.retain(|t| t.token != spec.token);
        w.okta.api_tokens.push(okta::ApiToken {
            token: spec.token.clone(),
            read_only: spec.read_only,
        });
    });
    json(
        StatusCode::CREATED,
        json!({ "token": spec.token, "read_only": spec.read_only }),
    )
}

/// `DELETE /__emulator/okta/api-tokens/{token}`: revoke; later calls with it get E0000011.
async fn revoke_api_token(State(st): State<EmulatorState>, Path(token): Path<String>) -> Response {
    let removed = st.with_mut(|w| {
        let before = w.okta.api_tokens.len();
        w.okta.api_tokens.retain(|t| t.token != token);
        before != w.okta.api_tokens.len()
    });
    if removed {
        no_content()
    } else {
        json(StatusCode::NOT_FOUND, json!({ "error": "no such token" }))
    }
}

/// `POST /__emulator/faults`: add a fault rule; 201 with it (and its `id`).
async fn add_fault(State(st): State<EmulatorState>, body: Bytes) -> Response {
    let mut fault: Fault = match parse(&body) {
        Ok(f) => f,
        Err(resp) => return resp,
    };
    if !fault.path_prefix.starts_with('/') {
        return bad("path_prefix must start with '/'");
    }
    if fault.status.is_some_and(|s| !(100..=599).contains(&s)) {
        return bad("status must be 100..599");
    }
    if fault.status.is_none()
        && fault.delay_ms.is_none()
        && !fault.drop
        && !fault.garble
        && fault.lag_requests.is_none()
    {
        return bad("a fault needs status, delay_ms, drop, garble or lag_requests");
    }
    if fault.garble && (fault.status.is_some() || fault.drop) {
        return bad("garble changes the handler's answer: not with status or drop");
    }
    if fault.lag_requests == Some(0) {
        return bad("lag_requests must be at least 1");
    }
    if fault.times == 0 {
        return bad("times must be at least 1");
    }
    fault.id = crate::ids::guid();
    let added = st.with_instruments(|i| {
        if i.faults.list.len() >= MAX_FAULTS {
            return false;
        }
        i.faults.list.push(fault.clone());
        true
    });
    if added {
        json(StatusCode::CREATED, json!(fault))
    } else {
        bad("too many faults")
    }
}

async fn list_faults(State(st): State<EmulatorState>) -> Response {
    let list = st.with_instruments(|i| json!(i.faults.list));
    json(StatusCode::OK, list)
}

async fn clear_faults(State(st): State<EmulatorState>) -> Response {
    st.with_instruments(|i| {
        i.faults.list.clear();
        i.lagging.clear();
    });
    no_content()
}

/// `GET /__emulator/stats`: `{"METHOD /route/{id}": count, ...}`.
async fn stats(State(st): State<EmulatorState>) -> Response {
    let body = st.with_instruments(|i| json!(i.stats));
    json(StatusCode::OK, body)
}

async fn clear_stats(State(st): State<EmulatorState>) -> Response {
    st.with_instruments(|i| i.stats.clear());
    no_content()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateSpec {
    vendor: Vendor,
}

/// `POST /__emulator/rotate-keys {"vendor"}`: a new key signs from now on; the old one
/// stays in the JWKS. 200 `{vendor, kid}`.
async fn rotate_keys(State(st): State<EmulatorState>, body: Bytes) -> Response {
    let spec: RotateSpec = match parse(&body) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    match st.with_mut(|w| w.keys.get_mut(spec.vendor).rotate()) {
        Ok(kid) => json(StatusCode::OK, json!({ "vendor": spec.vendor, "kid": kid })),
        Err(_) => json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "key generation failed" }),
        ),
    }
}

/// Furthest the clock can be moved ahead in total (100 years).
const MAX_SKEW_SECS: i64 = 100 * 365 * 86_400;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockSpec {
    advance_secs: i64,
}

/// `POST /__emulator/clock {"advance_secs"}`: move the emulator's clock forward (tokens
/// and secrets expire by it). 200 `{now}`.
async fn clock(State(st): State<EmulatorState>, body: Bytes) -> Response {
    let spec: ClockSpec = match parse(&body) {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    if !(0..=MAX_SKEW_SECS).contains(&spec.advance_secs) {
        return bad("advance_secs must be 0..100 years");
    }
    let now = st.with_mut(|w| {
        // Capped so dates stay far inside chrono's range.
        w.skew_secs = w
            .skew_secs
            .saturating_add(spec.advance_secs)
            .min(MAX_SKEW_SECS);
        w.now()
    });
    json(StatusCode::OK, json!({ "now": rfc3339(now) }))
}

/// `GET /__emulator/state`: every vendor's clients, without secrets.
async fn dump(State(st): State<EmulatorState>) -> Response {
    let body = st.with(|w| {
        json!({
            "auth0": dump_auth0(w),
            "okta": dump_okta(w),
            "curity": dump_curity(w),
            "azure_ad": dump_entra(w),
        })
    });
    json(StatusCode::OK, body)
}

fn dump_auth0(w: &World) -> Value {
    let clients: Vec<Value> = w
        .auth0
        .clients
        .iter()
        .map(|c| {
            json!({
                "client_id": c.client_id, "name": c.name, "description": c.description,
                "app_type": c.app_type, "grant_types": c.grant_types,
                "token_endpoint_auth_method": c.token_endpoint_auth_method,
                "client_metadata": c.client_metadata, "secret_last4": last4(&c.client_secret),
            })
        })
        .collect();
    let grants: Vec<Value> = w
        .auth0
        .grants
        .iter()
        .map(|g| json!({ "id": g.id, "client_id": g.client_id, "audience": g.audience, "scope": g.scope }))
        .collect();
    json!({ "clients": clients, "client_grants": grants, "resource_servers": w.auth0.resource_servers })
}

fn dump_okta(w: &World) -> Value {
    let clients: Vec<Value> = w
        .okta
        .apps
        .iter()
        .map(|a| {
            let secrets: Vec<Value> = a
                .secrets
                .iter()
                .map(|s| json!({ "id": s.id, "status": s.status.as_str(), "secret_last4": last4(&s.value) }))
                .collect();
            json!({
                "client_id": a.client_id, "client_name": a.client_name,
                "application_type": a.application_type, "grant_types": a.grant_types,
                "token_endpoint_auth_method": a.token_endpoint_auth_method, "secrets": secrets,
            })
        })
        .collect();
    json!({ "clients": clients, "api_tokens": w.okta.api_tokens.len(),
            "service_apps": okta::service_apps::dump(w) })
}

fn dump_curity(w: &World) -> Value {
    let clients: Vec<Value> = w
        .curity
        .clients
        .iter()
        .map(|c| {
            json!({
                "client_id": c.client_id, "client_name": c.metadata.get("client_name"),
                "scope": c.scopes, "grant_types": c.grant_types, "dynamic": c.rat.is_some(),
                "metadata": c.metadata, "secret_last4": last4(&c.secret),
            })
        })
        .collect();
    json!({ "clients": clients })
}

fn dump_entra(w: &World) -> Value {
    let apps: Vec<Value> = w
        .entra
        .apps
        .iter()
        .map(|a| {
            let passwords: Vec<Value> = a
                .passwords
                .iter()
                .map(|p| {
                    json!({ "keyId": p.key_id, "displayName": p.display_name, "hint": p.hint(),
                                 "endDateTime": rfc3339(p.end), "secret_last4": last4(&p.secret) })
                })
                .collect();
            json!({
                "id": a.id, "appId": a.app_id, "displayName": a.display_name, "tags": a.tags,
                "notes": a.notes, "identifierUris": a.identifier_uris, "owners": a.owners,
                "passwordCredentials": passwords,
            })
        })
        .collect();
    let sps: Vec<Value> = w
        .entra
        .sps
        .iter()
        .map(|s| json!({ "id": s.id, "appId": s.app_id }))
        .collect();
    json!({ "applications": apps, "service_principals": sps })
}
