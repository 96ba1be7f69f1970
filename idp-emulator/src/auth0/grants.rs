//! Auth0 Management API v2 `/api/v2/client-grants`: which APIs (audiences) a client may
//! get tokens for, with which scopes.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::mgmt::{authorize, invalid_body, mgmt_error, no_client, paging, type_name};
use super::{Grant, new_grant_id};
use crate::http::{json, json_object, no_content, query_map};
use crate::state::EmulatorState;

fn grant_json(g: &Grant) -> Value {
    json!({ "id": g.id, "client_id": g.client_id, "audience": g.audience, "scope": g.scope })
}

fn scope_list(body: &Map<String, Value>) -> Result<Vec<String>, Response> {
    match body.get("scope") {
        Some(v) => crate::http::string_array(v).ok_or_else(|| {
            invalid_body(&format!(
                "Expected type array but found type {}' on property scope '",
                type_name(v)
            ))
        }),
        None => Err(invalid_body("Missing required property: scope")),
    }
}

/// Create a client grant `{client_id, audience, scope[]}`. Needs `create:client_grants`.
/// 201; 404 for an unknown client or API; 409 when the client already has a grant for
/// that audience.
/// Follows <https://auth0.com/docs/api/management/v2/client-grants/post-client-grants>.
pub(super) async fn create_grant(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, &["create:client_grants"]) {
            return resp;
        }
        let Some(body) = json_object(&body) else {
            return invalid_body("Expected type object but found type string");
        };
        if let Some(extra) = body
            .keys()
            .find(|k| !["client_id", "audience", "scope"].contains(&k.as_str()))
        {
            return invalid_body(&format!("Additional properties not allowed: {extra}"));
        }
        let (Some(client_id), Some(audience)) = (
            body.get("client_id").and_then(Value::as_str),
            body.get("audience").and_then(Value::as_str),
        ) else {
            return invalid_body("Missing required property: audience");
        };
        let scope = match scope_list(&body) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        if w.auth0.client(client_id).is_none() {
            return no_client();
        }
        if !w.auth0.resource_servers.iter().any(|r| r == audience) {
            return mgmt_error(
                StatusCode::NOT_FOUND,
                &format!("No resource with identifier {audience}"),
                Some("inexistent_resource_server"),
            );
        }
        if w.auth0
            .grants
            .iter()
            .any(|g| g.client_id == client_id && g.audience == audience)
        {
            return mgmt_error(
                StatusCode::CONFLICT,
                "A client grant for this client and audience already exists",
                Some("client_grant_conflict"),
            );
        }
        let grant = Grant {
            id: new_grant_id(),
            client_id: client_id.into(),
            audience: audience.into(),
            scope,
        };
        let out = grant_json(&grant);
        w.auth0.grants.push(grant);
        json(StatusCode::CREATED, out)
    })
}

/// List client grants, filtered by `client_id` and/or `audience`; `page`, `per_page`,
/// `include_totals`. Needs `read:client_grants`.
/// Follows <https://auth0.com/docs/api/management/v2/client-grants/get-client-grants>.
pub(super) async fn list_grants(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let urls = st.urls().clone();
    let q = query_map(raw.as_deref());
    st.with(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, &["read:client_grants"]) {
            return resp;
        }
        let (page, per_page) = match paging(&q) {
            Ok(p) => p,
            Err(resp) => return resp,
        };
        let matching: Vec<&Grant> = w
            .auth0
            .grants
            .iter()
            .filter(|g| q.get("client_id").is_none_or(|c| *c == g.client_id))
            .filter(|g| q.get("audience").is_none_or(|a| *a == g.audience))
            .collect();
        let total = matching.len();
        let items: Vec<Value> = matching.into_iter().skip(page.saturating_mul(per_page)).take(per_page).map(grant_json).collect();
        if q.get("include_totals").is_some_and(|v| v == "true") {
            json(StatusCode::OK, json!({ "start": page.saturating_mul(per_page), "limit": per_page, "total": total, "client_grants": items }))
        } else {
            json(StatusCode::OK, Value::Array(items))
        }
    })
}

fn no_grant() -> Response {
    mgmt_error(
        StatusCode::NOT_FOUND,
        "The client grant does not exist",
        Some("inexistent_client_grant"),
    )
}

/// Update a client grant's `scope`. Needs `update:client_grants`. 200 with the grant.
/// Follows <https://auth0.com/docs/api/management/v2/client-grants/patch-client-grants-by-id>.
pub(super) async fn update_grant(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, &["update:client_grants"]) {
            return resp;
        }
        let Some(body) = json_object(&body) else {
            return invalid_body("Expected type object but found type string");
        };
        if let Some(extra) = body.keys().find(|k| k.as_str() != "scope") {
            return invalid_body(&format!("Additional properties not allowed: {extra}"));
        }
        let scope = match scope_list(&body) {
            Ok(s) => s,
            Err(resp) => return resp,
        };
        match w.auth0.grants.iter_mut().find(|g| g.id == id) {
            Some(g) => {
                g.scope = scope;
                json(StatusCode::OK, grant_json(g))
            }
            None => no_grant(),
        }
    })
}

/// Delete a client grant. Needs `delete:client_grants`. 204.
/// Follows <https://auth0.com/docs/api/management/v2/client-grants/delete-client-grants-by-id>.
pub(super) async fn delete_grant(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &urls, &headers, &["delete:client_grants"]) {
            return resp;
        }
        let before = w.auth0.grants.len();
        w.auth0.grants.retain(|g| g.id != id);
        if w.auth0.grants.len() == before {
            no_grant()
        } else {
            no_content()
        }
    })
}
