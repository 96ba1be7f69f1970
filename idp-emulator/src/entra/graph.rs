//! Microsoft Graph v1.0: `applications` (CRUD, `addPassword`, `removePassword`, the
//! `applications(appId='...')` alternate key) and `servicePrincipals` (create, list).
//! Callers are apps with app roles on Graph; with `Application.ReadWrite.OwnedBy` they
//! may read every application but change only those they own (the ones they created).

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use chrono::Utc;
use serde_json::{Map, Value, json};

use super::graph_query::{Clause, parse_filter, parse_skiptoken, skiptoken};
use super::{Application, Password, passwords, service_principals};
use crate::http::{auth_token, json, json_object, no_content, query_map, rfc3339, string_array};
use crate::seed::ENTRA_GRAPH_APP_ID;
use crate::state::{EmulatorState, Vendor, World};
use crate::urls::Urls;

const WRITE_ROLES: &[&str] = &[
    "Application.ReadWrite.OwnedBy",
    "Application.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const READ_ROLES: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.OwnedBy",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// Roles that reach applications the caller does not own.
const ALL_ROLES: &[&str] = &["Application.ReadWrite.All", "Directory.ReadWrite.All"];

/// Graph's error body `{"error": {code, message, innerError}}`.
pub(crate) fn graph_error_body(code: &str, message: &str) -> Value {
    let request_id = crate::ids::guid();
    json!({
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
                "request-id": request_id,
                "client-request-id": request_id,
            }
        }
    })
}

pub(super) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(status, graph_error_body(code, message))
}

pub(super) fn denied() -> Response {
    graph_error(
        StatusCode::FORBIDDEN,
        "Authorization_RequestDenied",
        "Insufficient privileges to complete the operation.",
    )
}

pub(super) fn not_found(id: &str) -> Response {
    graph_error(
        StatusCode::NOT_FOUND,
        "Request_ResourceNotFound",
        &format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

pub(super) fn bad_request(message: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
}

/// The calling app, from its Graph token.
pub(super) struct Caller {
    pub sp_id: String,
    /// Holds a role that reaches applications it does not own.
    pub all: bool,
}

pub(super) fn authorize(
    w: &World,
    urls: &Urls,
    headers: &HeaderMap,
    write: bool,
) -> Result<Caller, Response> {
    let unauthenticated =
        |m: &str| graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", m);
    let token =
        auth_token(headers, "Bearer").ok_or_else(|| unauthenticated("Access token is empty."))?;
    let claims = w
        .keys
        .get(Vendor::AzureAd)
        .verify(token)
        .ok_or_else(|| unauthenticated("Access token validation failure."))?;
    let iss = claims["iss"].as_str().unwrap_or_default();
    if iss != urls.entra_v1_issuer() && iss != urls.entra_v2_issuer() {
        return Err(unauthenticated(
            "Access token validation failure. Invalid issuer.",
        ));
    }
    let aud = claims["aud"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    if aud != urls.graph_resource() && !aud.eq_ignore_ascii_case(ENTRA_GRAPH_APP_ID) {
        return Err(unauthenticated(
            "Access token validation failure. Invalid audience.",
        ));
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= w.now_secs()) {
        return Err(unauthenticated(
            "Lifetime validation failed, the token is expired.",
        ));
    }
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let needed = if write { WRITE_ROLES } else { READ_ROLES };
    if !roles.iter().any(|r| needed.contains(r)) {
        return Err(denied());
    }
    Ok(Caller {
        sp_id: claims["oid"].as_str().unwrap_or_default().to_string(),
        all: roles.iter().any(|r| ALL_ROLES.contains(r)),
    })
}

pub(super) fn password_json(p: &Password, with_secret: bool) -> Value {
    json!({
        "customKeyIdentifier": null,
        "displayName": p.display_name,
        "endDateTime": rfc3339(p.end),
        "hint": p.hint(),
        "keyId": p.key_id,
        "secretText": if with_secret { json!(p.secret) } else { Value::Null },
        "startDateTime": rfc3339(p.start),
    })
}

fn app_json(a: &Application) -> Map<String, Value> {
    let mut out = Map::new();
    let mut put = |k: &str, v: Value| {
        out.insert(k.to_string(), v);
    };
    put("id", json!(a.id));
    put("deletedDateTime", Value::Null);
    put("appId", json!(a.app_id));
    put("applicationTemplateId", Value::Null);
    put(
        "createdDateTime",
        json!(a.created.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    put("displayName", json!(a.display_name));
    put("description", json!(a.description));
    put("identifierUris", json!(a.identifier_uris));
    put("notes", json!(a.notes));
    put("publisherDomain", json!("emulator.onmicrosoft.com"));
    put("signInAudience", json!(a.sign_in_audience));
    put("tags", json!(a.tags));
    put("api", Value::Object(a.api.clone()));
    put("appRoles", json!([]));
    put("keyCredentials", json!([]));
    put(
        "passwordCredentials",
        Value::Array(
            a.passwords
                .iter()
                .map(|p| password_json(p, false))
                .collect(),
        ),
    );
    put("publicClient", json!({ "redirectUris": [] }));
    put("requiredResourceAccess", json!([]));
    put("spa", json!({ "redirectUris": [] }));
    put(
        "web",
        json!({ "homePageUrl": null, "logoutUrl": null, "redirectUris": [], "implicitGrantSettings": { "enableAccessTokenIssuance": false, "enableIdTokenIssuance": false } }),
    );
    for (k, v) in &a.extra {
        out.insert(k.clone(), v.clone());
    }
    out
}

pub(super) fn with_context(mut obj: Map<String, Value>, context: String) -> Value {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    out.append(&mut obj);
    Value::Object(out)
}

/// `$select=a,b`: keep only those properties.
fn select(obj: Map<String, Value>, q: &BTreeMap<String, String>) -> Map<String, Value> {
    match q.get("$select").filter(|s| !s.is_empty()) {
        Some(sel) => {
            let names: Vec<&str> = sel.split(',').map(str::trim).collect();
            obj.into_iter()
                .filter(|(k, _)| names.contains(&k.as_str()))
                .collect()
        }
        None => obj,
    }
}

/// Applies writable properties of a create/update body; `Err` is the 400 answer.
fn apply(
    app: &mut Application,
    body: &Map<String, Value>,
    others: &[Application],
) -> Result<(), Response> {
    for (k, v) in body {
        apply_property(app, k, v, others)?;
    }
    Ok(())
}

fn apply_property(
    app: &mut Application,
    k: &str,
    v: &Value,
    others: &[Application],
) -> Result<(), Response> {
    match k {
        "displayName" => match limited_string(k, v, 256)? {
            Some(name) if !name.trim().is_empty() => app.display_name = name,
            _ => return Err(invalid(k)),
        },
        "description" => app.description = limited_string(k, v, 1024)?,
        "notes" => app.notes = limited_string(k, v, 1024)?,
        "signInAudience" => app.sign_in_audience = sign_in_audience(v)?,
        "tags" => match string_array(v) {
            Some(tags) if tags.iter().all(|t| t.chars().count() <= 256) => app.tags = tags,
            _ => return Err(invalid(k)),
        },
        "identifierUris" => app.identifier_uris = identifier_uris(app, v, others)?,
        "api" => apply_api(app, v)?,
        "web"
        | "spa"
        | "publicClient"
        | "requiredResourceAccess"
        | "info"
        | "optionalClaims"
        | "appRoles"
        | "isFallbackPublicClient"
        | "groupMembershipClaims" => {
            app.extra.insert(k.to_owned(), v.clone());
        }
        "passwordCredentials" | "keyCredentials" => {
            // Secrets are only made by addPassword; Graph ignores these on create.
        }
        other => {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                "Request_BadRequest",
                &format!(
                    "Property '{other}' does not exist as a declared property or extension property."
                ),
            ));
        }
    }
    Ok(())
}

fn invalid(property: &str) -> Response {
    bad_request(&format!(
        "Invalid value specified for property '{property}' of resource 'Application'."
    ))
}

/// A string of at most `max` characters, or null.
fn limited_string(k: &str, v: &Value, max: usize) -> Result<Option<String>, Response> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.chars().count() <= max => Ok(Some(s.clone())),
        _ => Err(invalid(k)),
    }
}

fn sign_in_audience(v: &Value) -> Result<String, Response> {
    match v.as_str() {
        Some(
            s @ ("AzureADMyOrg"
            | "AzureADMultipleOrgs"
            | "AzureADandPersonalMicrosoftAccount"
            | "PersonalMicrosoftAccount"),
        ) => Ok(s.to_string()),
        _ => Err(invalid("signInAudience")),
    }
}

/// An identifier URI names one application in the tenant.
fn identifier_uris(
    app: &Application,
    v: &Value,
    others: &[Application],
) -> Result<Vec<String>, Response> {
    let Some(uris) = string_array(v) else {
        return Err(invalid("identifierUris"));
    };
    if others
        .iter()
        .any(|o| o.id != app.id && o.identifier_uris.iter().any(|u| uris.contains(u)))
    {
        return Err(bad_request(
            "Another object with the same value for property identifierUris already exists.",
        ));
    }
    Ok(uris)
}

/// Merges the `api` object into the application's; only the token version is checked,
/// since it decides the token format.
fn apply_api(app: &mut Application, v: &Value) -> Result<(), Response> {
    let Value::Object(api) = v else {
        return Err(invalid("api"));
    };
    if let Some(ver) = api.get("requestedAccessTokenVersion")
        && !(ver.is_null() || ver.as_i64().is_some_and(|n| n == 1 || n == 2))
    {
        return Err(bad_request(
            "Invalid value specified for property 'requestedAccessTokenVersion' of resource 'ApiApplication'.",
        ));
    }
    for (ak, av) in api {
        app.api.insert(ak.clone(), av.clone());
    }
    Ok(())
}

pub(super) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route("/graph/v1.0/applications", post(create_app).get(list_apps))
        .route(
            "/graph/v1.0/applications/{id}",
            get(get_app).patch(update_app).delete(delete_app),
        )
        .route(
            "/graph/v1.0/applications/{id}/addPassword",
            post(passwords::add_password),
        )
        .route(
            "/graph/v1.0/applications/{id}/removePassword",
            post(passwords::remove_password),
        )
        .route(
            "/graph/v1.0/servicePrincipals",
            post(service_principals::create_sp).get(service_principals::list_sps),
        )
        // The alternate key `applications(appId='{appId}')` is a segment of its own.
        .route(
            "/graph/v1.0/{key}",
            get(get_app).patch(update_app).delete(delete_app),
        )
        .route(
            "/graph/v1.0/{key}/addPassword",
            post(passwords::add_password),
        )
        .route(
            "/graph/v1.0/{key}/removePassword",
            post(passwords::remove_password),
        )
}

/// Which application a path names: `applications/{id}` passes the object id, the
/// alternate key segment `applications(appId='{appId}')` the app id.
pub(super) enum AppRef {
    Id(String),
    AppId(String),
}

pub(super) fn app_ref(segment: String, via_key: bool) -> Result<AppRef, Response> {
    if !via_key {
        return Ok(AppRef::Id(segment));
    }
    let app_id = segment
        .strip_prefix("applications(appId='")
        .and_then(|r| r.strip_suffix("')"))
        .or_else(|| {
            segment
                .strip_prefix("applications(appId=%27")
                .and_then(|r| r.strip_suffix("%27)"))
        });
    match app_id {
        Some(id) => Ok(AppRef::AppId(id.to_string())),
        None => {
            let first = segment.split('(').next().unwrap_or_default().to_string();
            Err(graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("Resource not found for the segment '{first}'."),
            ))
        }
    }
}

fn find_app(w: &World, r: &AppRef) -> Result<usize, Response> {
    let found = match r {
        AppRef::Id(id) => w
            .entra
            .apps
            .iter()
            .position(|a| a.id.eq_ignore_ascii_case(id)),
        AppRef::AppId(id) => w
            .entra
            .apps
            .iter()
            .position(|a| a.app_id.eq_ignore_ascii_case(id)),
    };
    found.ok_or_else(|| {
        not_found(match r {
            AppRef::Id(id) | AppRef::AppId(id) => id,
        })
    })
}

/// Resolves the path's application and checks the caller may change it.
pub(super) fn owned_app(w: &World, caller: &Caller, r: &AppRef) -> Result<usize, Response> {
    let idx = find_app(w, r)?;
    let app = &w.entra.apps[idx];
    if caller.all || app.owners.contains(&caller.sp_id) {
        Ok(idx)
    } else {
        Err(denied())
    }
}

/// The path parameter and whether it came through the alternate-key route.
pub(super) fn path_key(uri: &axum::http::Uri, segment: String) -> (String, bool) {
    let via_key = !uri.path().starts_with("/graph/v1.0/applications/");
    (segment, via_key)
}

/// Create an application; the calling service principal becomes its owner. 201.
/// Follows <https://learn.microsoft.com/en-us/graph/api/application-post-applications?view=graph-rest-1.0>.
async fn create_app(State(st): State<EmulatorState>, headers: HeaderMap, body: Bytes) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        let caller = match authorize(w, &urls, &headers, true) {
            Ok(c) => c,
            Err(resp) => return resp,
        };
        let Some(body) = json_object(&body) else {
            return bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
        };
        if body.get("displayName").and_then(Value::as_str).is_none_or(|n| n.trim().is_empty()) {
            return bad_request("Invalid value specified for property 'displayName' of resource 'Application'.");
        }
        let mut app = Application::new(String::new(), w.now());
        if let Err(resp) = apply(&mut app, &body, &w.entra.apps) {
            return resp;
        }
        app.owners.push(caller.sp_id);
        let out = with_context(app_json(&app), format!("{}/$metadata#applications/$entity", urls.graph_v1()));
        w.entra.apps.push(app);
        json(StatusCode::CREATED, out)
    })
}

/// List applications: `$filter` (`appId eq`, `id eq`, `displayName eq`,
/// `startswith(displayName,...)`, `tags/any(t:t eq ...)`, `identifierUris/any(...)`,
/// joined by `and`), `$top` (1..999, default 100), `$select`; more pages through
/// `@odata.nextLink`.
/// Follows <https://learn.microsoft.com/en-us/graph/api/application-list?view=graph-rest-1.0>
/// and <https://learn.microsoft.com/en-us/graph/filter-query-parameter>.
async fn list_apps(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let urls = st.urls().clone();
    let q = query_map(raw.as_deref());
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, false) {
            return resp;
        }
        let clauses = match q.get("$filter").map(|f| parse_filter(f)) {
            None => Vec::new(),
            Some(Ok(c)) => c,
            Some(Err(bad)) => {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_UnsupportedQuery",
                    &format!("Unsupported or invalid query filter clause specified for property '{bad}' of resource 'Application'."),
                );
            }
        };
        for c in &clauses {
            let (Clause::Eq(p, _) | Clause::StartsWith(p, _) | Clause::Any(p, _)) = c;
            let supported = match c {
                Clause::Eq(..) => ["appId", "id", "displayName"].contains(&p.as_str()),
                Clause::StartsWith(..) => p == "displayName",
                Clause::Any(..) => ["tags", "identifierUris"].contains(&p.as_str()),
            };
            if !supported {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "Request_UnsupportedQuery",
                    &format!("Unsupported or invalid query filter clause specified for property '{p}' of resource 'Application'."),
                );
            }
        }
        let top = match q.get("$top") {
            None => 100,
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=999).contains(&n) => n,
                _ => return bad_request(&format!("Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive.")),
            },
        };
        let offset = match q.get("$skiptoken") {
            None => 0,
            Some(t) => match parse_skiptoken(t) {
                Some(o) => o,
                None => return bad_request("The specified page token value has expired and can no longer be included in your request."),
            },
        };
        let matches = |a: &Application| {
            clauses.iter().all(|c| match c {
                Clause::Eq(p, v) => match p.as_str() {
                    "appId" => a.app_id.eq_ignore_ascii_case(v),
                    "id" => a.id.eq_ignore_ascii_case(v),
                    _ => a.display_name == *v,
                },
                Clause::StartsWith(_, v) => a.display_name.to_lowercase().starts_with(&v.to_lowercase()),
                Clause::Any(p, v) => {
                    let list = if p == "tags" { &a.tags } else { &a.identifier_uris };
                    list.iter().any(|t| t == v)
                }
            })
        };
        let all: Vec<&Application> = w.entra.apps.iter().filter(|a| matches(a)).collect();
        let page: Vec<Value> = all.iter().skip(offset).take(top).map(|a| Value::Object(select(app_json(a), &q))).collect();
        let mut out = Map::new();
        out.insert("@odata.context".into(), json!(format!("{}/$metadata#applications", urls.graph_v1())));
        if offset + page.len() < all.len() {
            let mut next: Vec<(String, String)> = q.iter().filter(|(k, _)| *k != "$skiptoken").map(|(k, v)| (k.clone(), v.clone())).collect();
            next.push(("$skiptoken".into(), skiptoken(offset + page.len())));
            if !q.contains_key("$top") {
                next.push(("$top".into(), top.to_string()));
            }
            let query: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(next).finish();
            out.insert("@odata.nextLink".into(), json!(format!("{}/applications?{query}", urls.graph_v1())));
        }
        out.insert("value".into(), Value::Array(page));
        json(StatusCode::OK, Value::Object(out))
    })
}

/// Read one application by object id or `applications(appId='...')`.
/// Follows <https://learn.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0>.
async fn get_app(
    State(st): State<EmulatorState>,
    Path(seg): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let urls = st.urls().clone();
    let q = query_map(raw.as_deref());
    let (seg, via_key) = path_key(&uri, seg);
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, false) {
            return resp;
        }
        let r = match app_ref(seg, via_key) {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        match find_app(w, &r) {
            Ok(i) => json(
                StatusCode::OK,
                with_context(
                    select(app_json(&w.entra.apps[i]), &q),
                    format!("{}/$metadata#applications/$entity", urls.graph_v1()),
                ),
            ),
            Err(resp) => resp,
        }
    })
}

/// Update an application (partial). 204.
/// Follows <https://learn.microsoft.com/en-us/graph/api/application-update?view=graph-rest-1.0>.
async fn update_app(
    State(st): State<EmulatorState>,
    Path(seg): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    let (seg, via_key) = path_key(&uri, seg);
    st.with_mut(|w| {
        let caller = match authorize(w, &urls, &headers, true) {
            Ok(c) => c,
            Err(resp) => return resp,
        };
        let idx = match app_ref(seg, via_key).and_then(|r| owned_app(w, &caller, &r)) {
            Ok(i) => i,
            Err(resp) => return resp,
        };
        let Some(body) = json_object(&body) else {
            return bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
        };
        let mut updated = w.entra.apps[idx].clone();
        if let Err(resp) = apply(&mut updated, &body, &w.entra.apps) {
            return resp;
        }
        w.entra.apps[idx] = updated;
        no_content()
    })
}

/// Delete an application, with its service principal and app role grants. 204.
/// Follows <https://learn.microsoft.com/en-us/graph/api/application-delete?view=graph-rest-1.0>.
async fn delete_app(
    State(st): State<EmulatorState>,
    Path(seg): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    let urls = st.urls().clone();
    let (seg, via_key) = path_key(&uri, seg);
    st.with_mut(|w| {
        let caller = match authorize(w, &urls, &headers, true) {
            Ok(c) => c,
            Err(resp) => return resp,
        };
        let idx = match app_ref(seg, via_key).and_then(|r| owned_app(w, &caller, &r)) {
            Ok(i) => i,
            Err(resp) => return resp,
        };
        let app = w.entra.apps.remove(idx);
        w.entra.sps.retain(|s| s.app_id != app.app_id);
        w.entra
            .role_grants
            .retain(|g| g.client_app_id != app.app_id && g.resource_app_id != app.app_id);
        no_content()
    })
}
