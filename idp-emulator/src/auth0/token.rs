//! `POST /auth0/oauth/token`: the client-credentials grant of Auth0's Authentication API.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::{Client, Grant, Tenant};
use crate::http::{ClientCreds, auth_method_used, client_creds, json, parse_params, split_scopes};
use crate::ids::secret_eq;
use crate::state::{EmulatorState, Vendor, World};
use crate::urls::Urls;

/// Access-token lifetime Auth0 uses for APIs by default (24 h).
const TOKEN_TTL: i64 = 86_400;

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// Client credentials flow: `grant_type=client_credentials`, `audience` (required),
/// optional `scope`; client authentication by `client_id`/`client_secret` in the body
/// (JSON or form) or HTTP Basic, whichever the client's `token_endpoint_auth_method`
/// ("Authentication Method" under the app's Credentials,
/// <https://auth0.com/docs/get-started/applications/credentials>) names; the other is
/// refused. Auth0 does not publish the body it answers a mismatch with, so it is
/// answered like a wrong secret (401 `access_denied` "Unauthorized"): a client can only
/// tell the two apart by knowing its method.
/// Follows <https://auth0.com/docs/api/authentication/client-credentials-flow/get-token>
/// and <https://auth0.com/docs/get-started/authentication-and-authorization-flow/client-credentials-flow/call-your-api-using-the-client-credentials-flow>.
pub(super) async fn token(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = parse_params(&headers, &body, true) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Invalid request body",
        );
    };
    let Some(grant_type) = params.get("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing required parameter: grant_type",
        );
    };
    let Some(creds) = client_creds(&headers, &params) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    };
    let used = auth_method_used(&headers, &params);
    let urls = st.urls().clone();
    st.with(|w| issue(w, &urls, &creds, used, grant_type, &params).unwrap_or_else(|e| e))
}

/// The token answer; `Err` is the refusal.
fn issue(
    w: &World,
    urls: &Urls,
    creds: &ClientCreds,
    used: Option<&str>,
    grant_type: &str,
    params: &BTreeMap<String, String>,
) -> Result<Response, Response> {
    let now = w.now_secs();
    let tenant = &w.auth0;
    let client = authenticate(tenant, creds, used)?;
    check_grant_type(client, grant_type)?;
    let (audience, grant) = client_grant(tenant, client, params)?;
    let scope = granted_scopes(grant, params);
    let claims = json!({
        "iss": urls.auth0_issuer(),
        "sub": format!("{}@clients", client.client_id),
        "aud": audience,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "scope": scope,
        "gty": "client-credentials",
        "azp": client.client_id,
    });
    Ok(answer(w.keys.get(Vendor::Auth0).sign(&claims, &[]), &scope))
}

/// The client, when the id, the secret and the way it was sent all match; an unknown
/// client and a wrong secret answer alike.
fn authenticate<'a>(
    tenant: &'a Tenant,
    creds: &ClientCreds,
    used: Option<&str>,
) -> Result<&'a Client, Response> {
    match tenant.client(&creds.id) {
        Some(c)
            if creds
                .secret
                .as_deref()
                .is_some_and(|s| secret_eq(s, &c.client_secret))
                && used == Some(c.token_endpoint_auth_method.as_str()) =>
        {
            Ok(c)
        }
        _ => Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "access_denied",
            "Unauthorized",
        )),
    }
}

fn check_grant_type(client: &Client, grant_type: &str) -> Result<(), Response> {
    if grant_type != "client_credentials" {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "unsupported_grant_type",
            &format!("Unsupported grant type: {grant_type}"),
        ));
    }
    if !client.grant_types.iter().any(|g| g == "client_credentials") {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "unauthorized_client",
            "Grant type 'client_credentials' not allowed for the client.",
        ));
    }
    Ok(())
}

/// The requested audience, an API of the tenant, and the client's grant for it.
fn client_grant<'a>(
    tenant: &'a Tenant,
    client: &Client,
    params: &'a BTreeMap<String, String>,
) -> Result<(&'a String, &'a Grant), Response> {
    let Some(audience) = params.get("audience").filter(|a| !a.is_empty()) else {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        ));
    };
    if !tenant.resource_servers.iter().any(|r| r == audience) {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!("Service not enabled within domain: {audience}"),
        ));
    }
    let Some(grant) = tenant
        .grants
        .iter()
        .find(|g| g.client_id == client.client_id && &g.audience == audience)
    else {
        return Err(oauth_error(
            StatusCode::FORBIDDEN,
            "access_denied",
            &format!(
                "Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API. See: https://auth0.com/docs/api/v2#!/Client_Grants/post_client_grants"
            ),
        ));
    };
    Ok((audience, grant))
}

/// A requested scope narrows the grant; scopes outside the grant are dropped.
fn granted_scopes(grant: &Grant, params: &BTreeMap<String, String>) -> String {
    let scopes: Vec<String> = match params.get("scope") {
        Some(requested) => {
            let requested = split_scopes(requested);
            grant
                .scope
                .iter()
                .filter(|s| requested.contains(s))
                .cloned()
                .collect()
        }
        None => grant.scope.clone(),
    };
    scopes.join(" ")
}

fn answer<E>(signed: Result<String, E>, scope: &str) -> Response {
    match signed {
        Ok(access_token) => {
            let mut body = json!({
                "access_token": access_token,
                "expires_in": TOKEN_TTL,
                "token_type": "Bearer",
            });
            if !scope.is_empty() {
                body["scope"] = json!(scope);
            }
            json(StatusCode::OK, body)
        }
        Err(_) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "signing failed",
        ),
    }
}
