//! `POST {issuer}/v1/token` (client credentials) and `POST {issuer}/v1/introspect` of the
//! `default` custom authorization server.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{App, OIDC_SCOPES, SecretStatus, access_token_answer, oauth_error};
use crate::http::{auth_method_used, client_creds, json, parse_params, split_scopes};
use crate::ids::secret_eq;
use crate::state::{EmulatorState, Vendor, World};

/// Authenticates the calling client by the one method its `token_endpoint_auth_method`
/// names: Basic for `client_secret_basic` (Okta's default for clients registered without
/// one), `client_id`/`client_secret` in the body for `client_secret_post`
/// (<https://developer.okta.com/docs/api/openapi/okta-oauth/guides/client-auth>). Any
/// ACTIVE secret of the app works. A secret sent the other way, or both ways at once, is
/// refused with the `invalid_client` answer Okta's support article lists for "an
/// incorrect client authentication method"
/// (<https://support.okta.com/help/s/article/invalid-client-error-returned-during-client-authentication-failure>).
fn authenticate<'a>(
    w: &'a World,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<&'a App, Response> {
    let creds = client_creds(headers, params).ok_or_else(|| {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "No client credentials found.",
        )
    })?;
    let Some(app) = w.okta.app(&creds.id) else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Invalid value for 'client_id' parameter.",
        ));
    };
    if auth_method_used(headers, params) != Some(app.token_endpoint_auth_method.as_str()) {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed. Either the client or the client credentials are invalid.",
        ));
    }
    let presented = creds.secret.unwrap_or_default();
    let ok = app
        .secrets
        .iter()
        .any(|s| s.status == SecretStatus::Active && secret_eq(&s.value, &presented));
    if !ok {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The client secret supplied for a confidential client is invalid.",
        ));
    }
    Ok(app)
}

/// Client credentials: form body, `grant_type=client_credentials`, `scope` required (the
/// `default` server has no default scopes), OIDC scopes refused. Any scope name other
/// than the OIDC ones is treated as a configured custom scope.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/CustomAS/#tag/CustomAS/operation/tokenCustomAS>
/// and <https://developer.okta.com/docs/guides/implement-grant-type/clientcreds/main/>.
pub(super) async fn token(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = parse_params(&headers, &body, false) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is not a form post.",
        );
    };
    let issuer = st.urls().okta_issuer();
    st.with(|w| {
        let app = match authenticate(w, &headers, &params) {
            Ok(app) => app,
            Err(resp) => return resp,
        };
        let grant_type = params.get("grant_type").map(String::as_str).unwrap_or("");
        if grant_type.is_empty() {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "The request is missing a required parameter: 'grant_type'.");
        }
        if grant_type != "client_credentials" || !app.grant_types.iter().any(|g| g == "client_credentials") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                &format!(
                    "The client is not authorized to use the provided grant type. Configured grant types: [{}].",
                    app.grant_types.join(", ")
                ),
            );
        }
        let Some(scope) = params.get("scope").filter(|s| !s.trim().is_empty()) else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
            );
        };
        let scopes = split_scopes(scope);
        if let Some(oidc) = scopes.iter().find(|s| OIDC_SCOPES.contains(&s.as_str())) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("Cannot request '{oidc}' scopes using client credentials"),
            );
        }
        access_token_answer(w, &issuer, "api://default", &app.client_id, &scopes)
    })
}

/// Token introspection (RFC 7662) by an authenticated client of the org.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/CustomAS/#tag/CustomAS/operation/introspectCustomAS>.
pub(super) async fn introspect(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = parse_params(&headers, &body, false) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The request is not a form post.",
        );
    };
    let issuer = st.urls().okta_issuer();
    st.with(|w| {
        if let Err(resp) = authenticate(w, &headers, &params) {
            return resp;
        }
        let Some(token) = params.get("token") else {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is missing a required parameter: 'token'.",
            );
        };
        let active = w
            .keys
            .get(Vendor::Okta)
            .verify(token)
            .filter(|c| c["iss"].as_str() == Some(issuer.as_str()))
            .filter(|c| c["exp"].as_i64().is_some_and(|exp| exp > w.now_secs()));
        let body = match active {
            Some(c) => {
                let scope = c["scp"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                json!({
                    "active": true,
                    "scope": scope,
                    "client_id": c["cid"],
                    "exp": c["exp"],
                    "iat": c["iat"],
                    "sub": c["sub"],
                    "aud": c["aud"],
                    "iss": c["iss"],
                    "jti": c["jti"],
                    "token_type": "Bearer",
                })
            }
            None => json!({ "active": false }),
        };
        json(StatusCode::OK, body)
    })
}
