//! Auth0 Management API v2 `/api/v2/clients`: create, list, read, update, delete and
//! rotate-secret, with Auth0's payload validation.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::mgmt::{authorize, expect_type, invalid_body, mgmt_error, no_client, paging, type_name};
use super::{Client, new_client_id, new_client_secret};
use crate::http::{json, json_object, no_content, query_map};
use crate::state::EmulatorState;

/// Most `client_metadata` keys Auth0 allows on a client.
const MAX_METADATA_KEYS: usize = 10;
/// Longest `client_metadata` key or value.
const MAX_METADATA_LEN: usize = 255;

/// The client as the Management API returns it. `client_secret` only with `with_secret`
/// (Auth0 returns it to tokens holding `read:client_keys`, and on create/rotate).
fn client_json(c: &Client, with_secret: bool) -> Value {
    let mut out = Map::new();
    out.insert("client_id".into(), json!(c.client_id));
    out.insert("tenant".into(), json!("emulator"));
    out.insert("name".into(), json!(c.name));
    if let Some(d) = &c.description {
        out.insert("description".into(), json!(d));
    }
    out.insert("global".into(), json!(false));
    if with_secret {
        out.insert("client_secret".into(), json!(c.client_secret));
    }
    if let Some(t) = &c.app_type {
        out.insert("app_type".into(), json!(t));
    }
    for (k, v) in [
        ("is_first_party", json!(true)),
        ("oidc_conformant", json!(true)),
        ("callbacks", json!([])),
        ("allowed_origins", json!([])),
        ("web_origins", json!([])),
        ("client_aliases", json!([])),
        ("allowed_clients", json!([])),
        ("allowed_logout_urls", json!([])),
        (
            "jwt_configuration",
            json!({ "alg": "RS256", "lifetime_in_seconds": 36000, "secret_encoded": false }),
        ),
        ("sso_disabled", json!(false)),
        ("cross_origin_authentication", json!(false)),
        ("custom_login_page_on", json!(true)),
    ] {
        out.insert(k.into(), v);
    }
    out.insert("grant_types".into(), json!(c.grant_types));
    out.insert(
        "token_endpoint_auth_method".into(),
        json!(c.token_endpoint_auth_method),
    );
    out.insert(
        "client_metadata".into(),
        Value::Object(c.client_metadata.clone()),
    );
    for (k, v) in &c.extra {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

/// Known `app_type` values.
const APP_TYPES: &[&str] = &[
    "native",
    "spa",
    "regular_web",
    "non_interactive",
    "resource_server",
    "express_configuration",
    "rms",
    "box",
    "cloudbees",
    "concur",
    "dropbox",
    "mscrm",
    "echosign",
    "egnyte",
    "newrelic",
    "office365",
    "salesforce",
    "sentry",
    "sharepoint",
    "slack",
    "springcm",
    "zendesk",
    "zoom",
    "sso_integration",
    "oag",
];

/// Client properties accepted and stored as sent, with their JSON type.
const PASSTHROUGH: &[(&str, &str)] = &[
    ("callbacks", "array"),
    ("allowed_origins", "array"),
    ("web_origins", "array"),
    ("client_aliases", "array"),
    ("allowed_clients", "array"),
    ("allowed_logout_urls", "array"),
    ("logo_uri", "string"),
    ("initiate_login_uri", "string"),
    ("is_first_party", "boolean"),
    ("oidc_conformant", "boolean"),
    ("sso", "boolean"),
    ("sso_disabled", "boolean"),
    ("cross_origin_authentication", "boolean"),
    ("custom_login_page_on", "boolean"),
    ("require_pushed_authorization_requests", "boolean"),
    ("jwt_configuration", "object"),
    ("refresh_token", "object"),
    ("addons", "object"),
    ("mobile", "object"),
    ("oidc_logout", "object"),
    ("native_social_login", "object"),
    ("organization_usage", "string"),
    ("organization_require_behavior", "string"),
];

/// Validates a create/update body and applies it to `c`. `Err` is the message of a 400
/// `invalid_body`.
fn apply(c: &mut Client, body: &Map<String, Value>, creating: bool) -> Result<(), String> {
    if creating && !body.contains_key("name") {
        return Err("Missing required property: name".into());
    }
    for (key, value) in body {
        apply_property(c, key, value, creating)?;
    }
    Ok(())
}

fn apply_property(c: &mut Client, key: &str, value: &Value, creating: bool) -> Result<(), String> {
    match key {
        "name" => c.name = name(value)?,
        "description" => {
            let d = string(key, value)?;
            if d.chars().count() > 140 {
                return Err("String is too long (max 140 chars)' on property description '".into());
            }
            c.description = Some(d.to_string());
        }
        "app_type" => {
            let t = string(key, value)?;
            if !APP_TYPES.contains(&t) {
                return Err(format!(
                    "No enum match for: \"{t}\"' on property app_type '"
                ));
            }
            c.app_type = Some(t.to_string());
        }
        "grant_types" => {
            let list = crate::http::string_array(value).ok_or_else(|| {
                format!(
                    "Expected type array but found type {}' on property grant_types '",
                    type_name(value)
                )
            })?;
            c.grant_types = list;
        }
        "token_endpoint_auth_method" => {
            let m = string(key, value)?;
            if !["none", "client_secret_post", "client_secret_basic"].contains(&m) {
                return Err(format!(
                    "No enum match for: \"{m}\"' on property token_endpoint_auth_method '"
                ));
            }
            c.token_endpoint_auth_method = m.to_string();
        }
        "client_metadata" => c.client_metadata = client_metadata(value)?,
        "client_secret" if !creating => {
            let s = string(key, value)?;
            if s.len() < 16 {
                return Err(
                    "String is too short (min 16 chars)' on property client_secret '".into(),
                );
            }
            c.client_secret = s.to_string();
        }
        other => match PASSTHROUGH.iter().find(|(k, _)| *k == other) {
            Some((_, want)) => {
                expect_type(key, value, want)?;
                c.extra.insert(key.to_owned(), value.clone());
            }
            None => return Err(format!("Additional properties not allowed: {other}")),
        },
    }
    Ok(())
}

/// The value of a string property, or Auth0's type error.
fn string<'a>(key: &str, value: &'a Value) -> Result<&'a str, String> {
    expect_type(key, value, "string")?;
    Ok(value.as_str().unwrap_or_default())
}

fn name(value: &Value) -> Result<String, String> {
    let name = string("name", value)?;
    if name.is_empty() || name.len() > 1024 || name.contains(['<', '>']) {
        return Err("String does not match pattern ^[^<>]+$' on property name '".into());
    }
    Ok(name.to_string())
}

/// String values only, within Auth0's limits on their number and length.
fn client_metadata(value: &Value) -> Result<Map<String, Value>, String> {
    let Value::Object(meta) = value else {
        return Err(format!(
            "Expected type object but found type {}' on property client_metadata '",
            type_name(value)
        ));
    };
    if meta.len() > MAX_METADATA_KEYS {
        return Err(format!(
            "Too many properties defined ({}), maximum {MAX_METADATA_KEYS}' on property client_metadata '",
            meta.len()
        ));
    }
    for (k, v) in meta {
        let Value::String(s) = v else {
            return Err(format!(
                "Expected type string but found type {}' on property client_metadata.{k} '",
                type_name(v)
            ));
        };
        if k.len() > MAX_METADATA_LEN || s.len() > MAX_METADATA_LEN {
            return Err(format!(
                "String is too long (max {MAX_METADATA_LEN} chars)' on property client_metadata.{k} '"
            ));
        }
    }
    Ok(meta.clone())
}

/// `fields` / `include_fields`: keep (or drop) the named properties.
fn select_fields(value: Value, q: &BTreeMap<String, String>) -> Value {
    let Some(fields) = q.get("fields").filter(|f| !f.is_empty()) else {
        return value;
    };
    let names: Vec<&str> = fields.split(',').map(str::trim).collect();
    let include = q
        .get("include_fields")
        .map(|v| v != "false")
        .unwrap_or(true);
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| names.contains(&k.as_str()) == include)
                .collect(),
        ),
        other => other,
    }
}

/// Create a client. Needs `create:clients`. 201 with the client and its `client_secret`.
/// Follows <https://auth0.com/docs/api/management/v2/clients/post-clients>.
pub(super) async fn create_client(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, &["create:clients"]) {
            return resp;
        }
        let Some(body) = json_object(&body) else {
            return invalid_body("Expected type object but found type string");
        };
        let mut client = Client::new(new_client_id(), new_client_secret(), String::new());
        if let Err(msg) = apply(&mut client, &body, true) {
            return invalid_body(&msg);
        }
        let out = client_json(&client, true);
        w.auth0.clients.push(client);
        json(StatusCode::CREATED, out)
    })
}

/// List clients: `page`, `per_page`, `include_totals`, `fields`, `include_fields`,
/// `app_type`, `is_first_party`, `is_global`. There is no name or metadata search here:
/// `q` only takes `client_grant.*` Lucene queries, which this emulator refuses with 400.
/// Needs `read:clients` (or `read:client_keys`).
/// Follows <https://auth0.com/docs/api/management/v2/clients/get-clients>.
pub(super) async fn list_clients(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let urls = st.urls().clone();
    let q = query_map(raw.as_deref());
    st.with(|w| {
        let scopes = match authorize(w, &urls, &headers, &["read:clients", "read:client_keys"]) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        if q.contains_key("q") {
            return mgmt_error(
                StatusCode::BAD_REQUEST,
                "Query validation error: 'q' only supports client_grant.organization_id and client_grant.allow_any_organization with from/take pagination.",
                Some("invalid_query_string"),
            );
        }
        let (page, per_page) = match paging(&q) {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        let with_secret = scopes.iter().any(|s| s == "read:client_keys");
        let app_types: Option<Vec<&str>> = q.get("app_type").map(|t| t.split(',').collect());
        let matching: Vec<&Client> = w
            .auth0
            .clients
            .iter()
            .filter(|c| app_types.as_ref().is_none_or(|ts| c.app_type.as_deref().is_some_and(|t| ts.contains(&t))))
            .filter(|_| q.get("is_global").is_none_or(|g| g == "false"))
            .filter(|_| q.get("is_first_party").is_none_or(|g| g == "true"))
            .collect();
        let total = matching.len();
        let items: Vec<Value> = matching
            .into_iter()
            .skip(page.saturating_mul(per_page))
            .take(per_page)
            .map(|c| select_fields(client_json(c, with_secret), &q))
            .collect();
        if q.get("include_totals").is_some_and(|v| v == "true") {
            json(
                StatusCode::OK,
                json!({ "start": page.saturating_mul(per_page), "limit": per_page, "length": items.len(), "total": total, "clients": items }),
            )
        } else {
            json(StatusCode::OK, Value::Array(items))
        }
    })
}

/// Get one client. Needs `read:clients` (or `read:client_keys`, which adds `client_secret`).
/// Follows <https://auth0.com/docs/api/management/v2/clients/get-clients-by-id>.
pub(super) async fn get_client(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let urls = st.urls().clone();
    let q = query_map(raw.as_deref());
    st.with_mut(|w| {
        let scopes = match authorize(w, &urls, &headers, &["read:clients", "read:client_keys"]) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        match w.auth0.client(&id) {
            Some(c) => json(
                StatusCode::OK,
                select_fields(
                    client_json(c, scopes.iter().any(|s| s == "read:client_keys")),
                    &q,
                ),
            ),
            None => no_client(),
        }
    })
}

/// Update a client (partial). Needs `update:clients`; changing `client_secret` needs
/// `update:client_keys`. `client_metadata` replaces the stored object.
/// Follows <https://auth0.com/docs/api/management/v2/clients/patch-clients-by-id>.
pub(super) async fn update_client(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        let scopes = match authorize(
            w,
            &urls,
            &headers,
            &["update:clients", "update:client_keys"],
        ) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        let Some(body) = json_object(&body) else {
            return invalid_body("Expected type object but found type string");
        };
        let has = |s: &str| scopes.iter().any(|x| x == s);
        if body.contains_key("client_secret") && !has("update:client_keys") {
            return mgmt_error(
                StatusCode::FORBIDDEN,
                "Insufficient scope, expected any of: update:client_keys",
                Some("insufficient_scope"),
            );
        }
        if body.keys().any(|k| k != "client_secret") && !has("update:clients") {
            return mgmt_error(
                StatusCode::FORBIDDEN,
                "Insufficient scope, expected any of: update:clients",
                Some("insufficient_scope"),
            );
        }
        let Some(client) = w.auth0.client_mut(&id) else {
            return no_client();
        };
        // Validate on a copy so a rejected body changes nothing.
        let mut updated = client.clone();
        if let Err(msg) = apply(&mut updated, &body, false) {
            return invalid_body(&msg);
        }
        *client = updated;
        json(
            StatusCode::OK,
            client_json(
                client,
                has("read:client_keys") || body.contains_key("client_secret"),
            ),
        )
    })
}

/// Delete a client and its client grants. Needs `delete:clients`. 204.
/// Follows <https://auth0.com/docs/api/management/v2/clients/delete-clients-by-id>.
pub(super) async fn delete_client(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, &["delete:clients"]) {
            return resp;
        }
        let before = w.auth0.clients.len();
        w.auth0.clients.retain(|c| c.client_id != id);
        if w.auth0.clients.len() == before {
            return no_client();
        }
        w.auth0.grants.retain(|g| g.client_id != id);
        no_content()
    })
}

/// Replace the client secret; the old one stops working at once. Needs
/// `update:client_keys`. 200 with the client and its new `client_secret`.
/// Follows <https://auth0.com/docs/api/management/v2/clients/post-rotate-secret>.
pub(super) async fn rotate_secret(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, &["update:client_keys"]) {
            return resp;
        }
        match w.auth0.client_mut(&id) {
            Some(c) => {
                c.client_secret = new_client_secret();
                json(StatusCode::OK, client_json(c, true))
            }
            None => no_client(),
        }
    })
}
