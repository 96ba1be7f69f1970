//! Curity's DCR endpoint (`/token-service/oauth-registration`): registration with a
//! single-use `dcr` access token (RFC 7591), then management of the client at its
//! `registration_client_uri` with the registration access token (RFC 7592). As Curity
//! does, every GET and PUT there rotates both the client secret and the registration
//! access token; DELETE does not.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{Client, valid_token};
use crate::http::{
    auth_token, json, json_object, json_with, no_content, split_scopes, string_array,
};
use crate::ids::secret_eq;
use crate::state::{EmulatorState, World};
use crate::urls::Urls;

/// Registration access token lifetime (Curity's default: 365 days).
const RAT_TTL: i64 = 31_536_000;

fn bearer_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_with(
        status,
        json!({ "error": error, "error_description": description }),
        &[(
            "www-authenticate",
            format!("Bearer error=\"{error}\", error_description=\"{description}\""),
        )],
    )
}

fn metadata_error(error: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        json!({ "error": error, "error_description": description }),
    )
}

/// Validates RFC 7591 metadata into a client's fields; `Err` is the 400 answer.
fn apply(client: &mut Client, body: &Map<String, Value>) -> Result<(), Response> {
    if body.contains_key("software_id") {
        return Err(metadata_error(
            "invalid_client_metadata",
            "Templatized registration (software_id) is not enabled",
        ));
    }
    let grant_types = match body.get("grant_types") {
        None => vec!["authorization_code".to_string()],
        Some(v) => string_array(v).ok_or_else(|| {
            metadata_error(
                "invalid_client_metadata",
                "grant_types must be an array of strings",
            )
        })?,
    };
    let redirect_uris = match body.get("redirect_uris") {
        None => Vec::new(),
        Some(v) => string_array(v).ok_or_else(|| {
            metadata_error(
                "invalid_redirect_uri",
                "redirect_uris must be an array of strings",
            )
        })?,
    };
    if grant_types
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit")
        && redirect_uris.is_empty()
    {
        return Err(metadata_error(
            "invalid_redirect_uri",
            "redirect_uris is required for the requested grant types",
        ));
    }
    let scopes = match body.get("scope") {
        None => Vec::new(),
        Some(Value::String(s)) => split_scopes(s),
        Some(_) => {
            return Err(metadata_error(
                "invalid_client_metadata",
                "scope must be a space-separated string",
            ));
        }
    };
    if scopes.iter().any(|s| s == "dcr" || s == "dcrm") {
        return Err(metadata_error(
            "invalid_client_metadata",
            "The dcr and dcrm scopes cannot be registered",
        ));
    }
    let auth_method = match body.get("token_endpoint_auth_method") {
        None => "client_secret_basic".to_string(),
        Some(Value::String(m))
            if ["client_secret_basic", "client_secret_post"].contains(&m.as_str()) =>
        {
            m.clone()
        }
        Some(_) => {
            return Err(metadata_error(
                "invalid_client_metadata",
                "Unsupported token_endpoint_auth_method",
            ));
        }
    };
    let mut metadata = Map::new();
    for (k, v) in body {
        // Server-assigned values are never taken from the request.
        if ![
            "client_id",
            "client_secret",
            "client_id_issued_at",
            "client_secret_expires_at",
            "registration_access_token",
            "registration_client_uri",
            "registration_access_token_expires_in",
        ]
        .contains(&k.as_str())
        {
            metadata.insert(k.clone(), v.clone());
        }
    }
    metadata.insert("grant_types".into(), json!(grant_types));
    metadata.insert("redirect_uris".into(), json!(redirect_uris));
    metadata.insert("scope".into(), json!(scopes.join(" ")));
    metadata.insert("token_endpoint_auth_method".into(), json!(auth_method));
    client.scopes = scopes;
    client.grant_types = grant_types;
    client.metadata = metadata;
    Ok(())
}

/// Gives the client a new secret and registration access token; returns the full
/// registration response.
fn rotate_and_describe(client: &mut Client, urls: &Urls, now: i64) -> Value {
    client.secret = crate::ids::url_safe(48);
    let rat = crate::ids::guid();
    client.rat = Some((rat.clone(), now + RAT_TTL));
    let mut out = client.metadata.clone();
    out.insert("client_id".into(), json!(client.client_id));
    out.insert("client_secret".into(), json!(client.secret));
    out.insert("client_id_issued_at".into(), json!(client.issued_at));
    out.insert("client_secret_expires_at".into(), json!(0));
    out.insert(
        "registration_client_uri".into(),
        json!(format!(
            "{}/{}",
            urls.curity_registration(),
            client.client_id
        )),
    );
    out.insert("registration_access_token".into(), json!(rat));
    out.insert(
        "registration_access_token_expires_in".into(),
        json!(RAT_TTL),
    );
    Value::Object(out)
}

/// Register a client. Needs `Authorization: Bearer <access token with scope dcr>`, spent
/// by a successful registration. 201 with `client_id`, `client_secret`,
/// `registration_access_token` and `registration_client_uri`.
/// Follows <https://curity.io/docs/identity-server/token-service-admin-guide/dcr/dcr-api.html>,
/// <https://curity.io/resources/learn/using-dynamic-client-registration/> and RFC 7591.
pub(super) async fn register(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        let Some(token) = auth_token(&headers, "Bearer") else {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "An access token is required",
            );
        };
        let Some(claims) = valid_token(w, &urls, token) else {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The access token is invalid or expired",
            );
        };
        let jti = claims["jti"].as_str().unwrap_or_default().to_string();
        if w.curity.spent_tokens.contains(&jti) {
            return bearer_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The initial access token has already been used",
            );
        }
        if !claims["scope"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .any(|s| s == "dcr")
        {
            return bearer_error(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "The access token does not have the dcr scope",
            );
        }
        let Some(body) = json_object(&body) else {
            return metadata_error(
                "invalid_client_metadata",
                "The request body must be a JSON object",
            );
        };
        let now = w.now_secs();
        let mut client = Client {
            client_id: crate::ids::guid(),
            secret: String::new(),
            scopes: Vec::new(),
            grant_types: Vec::new(),
            metadata: Map::new(),
            issued_at: now,
            rat: None,
        };
        if let Err(resp) = apply(&mut client, &body) {
            return resp;
        }
        let out = rotate_and_describe(&mut client, &urls, now);
        w.curity.spent_tokens.insert(jti);
        w.curity.clients.push(client);
        json(StatusCode::CREATED, out)
    })
}

/// RFC 7592 access: the client's current registration access token, or an access token
/// with Curity's `dcrm` scope (manages any dynamic client). Unknown client or bad token:
/// 401 `invalid_token`, as RFC 7592 section 2 requires.
fn authorize_management(
    w: &World,
    urls: &Urls,
    headers: &HeaderMap,
    id: &str,
) -> Result<usize, Response> {
    let deny = || {
        bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "The registration access token is invalid",
        )
    };
    let token = auth_token(headers, "Bearer").ok_or_else(deny)?;
    let idx = w
        .curity
        .clients
        .iter()
        .position(|c| c.client_id == id && c.rat.is_some())
        .ok_or_else(deny)?;
    let client = &w.curity.clients[idx];
    let rat_ok = client
        .rat
        .as_ref()
        .is_some_and(|(rat, exp)| secret_eq(rat, token) && *exp > w.now_secs());
    let dcrm_ok = || {
        valid_token(w, urls, token).is_some_and(|c| {
            c["scope"]
                .as_str()
                .unwrap_or("")
                .split_whitespace()
                .any(|s| s == "dcrm")
        })
    };
    if rat_ok || dcrm_ok() {
        Ok(idx)
    } else {
        Err(deny())
    }
}

/// Read a registration; rotates the client secret and the registration access token.
/// Follows RFC 7592 section 2.1 and <https://curity.io/resources/learn/dynamic-client-registration-management/>.
pub(super) async fn read(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        let idx = match authorize_management(w, &urls, &headers, &id) {
            Ok(i) => i,
            Err(resp) => return resp,
        };
        let now = w.now_secs();
        match w.curity.clients.get_mut(idx) {
            Some(c) => json(StatusCode::OK, rotate_and_describe(c, &urls, now)),
            None => no_content(),
        }
    })
}

/// Replace a registration's metadata (`client_id` must match; a `client_secret` sent
/// must be the current one); rotates the secret and the registration access token.
/// Follows RFC 7592 section 2.2 and <https://curity.io/resources/learn/dynamic-client-registration-management/>.
pub(super) async fn update(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        let idx = match authorize_management(w, &urls, &headers, &id) {
            Ok(i) => i,
            Err(resp) => return resp,
        };
        let Some(body) = json_object(&body) else {
            return metadata_error(
                "invalid_client_metadata",
                "The request body must be a JSON object",
            );
        };
        if body.get("client_id").and_then(Value::as_str) != Some(id.as_str()) {
            return metadata_error(
                "invalid_client_metadata",
                "client_id must be present and match the registration",
            );
        }
        let now = w.now_secs();
        let Some(client) = w.curity.clients.get_mut(idx) else {
            return no_content();
        };
        if let Some(sent) = body.get("client_secret")
            && !sent.as_str().is_some_and(|s| secret_eq(s, &client.secret))
        {
            return metadata_error("invalid_client_metadata", "client_secret does not match");
        }
        if let Err(resp) = apply(client, &body) {
            return resp;
        }
        json(StatusCode::OK, rotate_and_describe(client, &urls, now))
    })
}

/// Delete a registration. 204; its credentials and registration access token stop working.
/// Follows RFC 7592 section 2.3.
pub(super) async fn remove(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let urls = st.urls().clone();
    st.with_mut(|w| {
        let idx = match authorize_management(w, &urls, &headers, &id) {
            Ok(i) => i,
            Err(resp) => return resp,
        };
        w.curity.clients.remove(idx);
        no_content()
    })
}
