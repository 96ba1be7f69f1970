//! `POST {org}/oauth2/v1/token`: the org authorization server's token endpoint, the only
//! one that mints access tokens with Okta API scopes, for service apps authenticating by
//! `private_key_jwt` (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/#get-an-access-token).
//!
//! The client assertion is checked as strictly as Okta documents it: signed by one of
//! the app's registered keys (the header's `kid` names it; without a `kid`, only an app
//! with one key that has none), `iss` and `sub` the client id, `aud` exactly this
//! endpoint's URL, `exp` in the future and at most an hour ahead, a `jti` used once.
//! Descriptions Okta publishes are answered word for word (cited at each); where Okta
//! publishes none (a malformed, expired or too long-lived assertion, `iss` not `sub`, a
//! reused `jti`, no granted scope asked for, a DPoP proof sent) the `error` is the RFC's
//! and the description the emulator's own, as the README lists.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::service_apps::{OKTA_SCOPES, ServiceApp};
use super::{OIDC_SCOPES, access_token_answer, oauth_error};
use crate::http::{parse_params, split_scopes};
use crate::state::{EmulatorState, World};

/// An assertion's `exp` may be at most an hour ahead ("This value must be a maximum of
/// only an hour in the future.").
const MAX_ASSERTION_AHEAD: i64 = 3600;
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

fn invalid_client(description: &str) -> Response {
    oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", description)
}

/// A compact JWS taken apart: header, claims, signing input, signature.
struct Jws {
    header: Value,
    claims: Value,
    input: String,
    signature: Vec<u8>,
}

fn split_jws(token: &str) -> Option<Jws> {
    let mut parts = token.split('.');
    let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || token.len() > 16 * 1024 {
        return None;
    }
    let part = |p: &str| -> Option<Value> {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(p).ok()?)
            .ok()
            .filter(Value::is_object)
    };
    Some(Jws {
        header: part(h)?,
        claims: part(c)?,
        input: format!("{h}.{c}"),
        signature: URL_SAFE_NO_PAD.decode(s).ok()?,
    })
}

/// The key the assertion's header names, or Okta's "kid is invalid" answer
/// (https://support.okta.com/help/s/article/okta-client-assertion-error-invalid-key-id:
/// a missing `kid`, one that names no registered key, or an app without keys).
fn signing_key<'a>(
    app: &'a ServiceApp,
    header: &Value,
) -> Result<&'a super::client_keys::PublicKey, Response> {
    let kid_invalid = || invalid_client("The client_assertion JWT kid is invalid.");
    match header.get("kid").and_then(Value::as_str) {
        Some(kid) => app.keys.iter().find(|k| k.kid() == Some(kid)),
        // https://support.okta.com/help/s/article/creating-a-private-key-jwt-when-a-client-has-multiple-public-private-key-pairs
        None => match app.keys.as_slice() {
            [only] if only.kid().is_none() => Some(only),
            _ => None,
        },
    }
    .ok_or_else(kid_invalid)
}

/// The service app the client assertion authenticates, with its `jti` and `exp`.
fn check_assertion<'a>(
    w: &'a World,
    params: &BTreeMap<String, String>,
    endpoint: &str,
) -> Result<(&'a ServiceApp, Option<String>, i64), Response> {
    let assertion = params.get("client_assertion").map(String::as_str);
    let jws = assertion
        .and_then(split_jws)
        .ok_or_else(|| invalid_client("The client_assertion is not a well-formed JWT."))?;
    let text = |v: &Value, name: &str| v.get(name).and_then(Value::as_str).map(str::to_owned);
    let iss = text(&jws.claims, "iss").unwrap_or_default();
    let app = w
        .okta
        .service_app(&iss)
        .ok_or_else(|| invalid_client("Invalid value for 'client_id' parameter."))?;
    if text(&jws.claims, "sub").as_deref() != Some(iss.as_str())
        || params.get("client_id").is_some_and(|id| *id != iss)
    {
        return Err(invalid_client(
            "The client_assertion 'iss' and 'sub' claims must both be the client_id.",
        ));
    }
    let key = signing_key(app, &jws.header)?;
    let alg = text(&jws.header, "alg").unwrap_or_default();
    // https://support.okta.com/help/s/article/error-occurs-during-authentication-due-to-invalid-client-assertion-signature
    if alg != key.alg() || !key.verifies(&alg, jws.input.as_bytes(), &jws.signature) {
        return Err(invalid_client("The client_assertion signature is invalid."));
    }
    // https://support.okta.com/help/s/article/the-audience-claim-for-client-assertion-must-be-the-endpoint-invoked-for-the-request
    if jws.claims.get("aud").and_then(Value::as_str) != Some(endpoint) {
        return Err(invalid_client(
            "The audience claim for client_assertion must be the endpoint invoked for the \
             request.",
        ));
    }
    let now = w.now_secs();
    let exp = jws.claims.get("exp").and_then(Value::as_i64);
    match exp {
        Some(exp) if exp <= now => Err(invalid_client("The client_assertion token is expired.")),
        Some(exp) if exp > now + MAX_ASSERTION_AHEAD => Err(invalid_client(
            "The client_assertion token has an expiration too far in the future; it may be \
             at most an hour ahead.",
        )),
        Some(exp) => Ok((app, text(&jws.claims, "jti"), exp)),
        None => Err(invalid_client(
            "The client_assertion token has no 'exp' claim.",
        )),
    }
}

/// Authenticates the caller as a service app by its client assertion (recording its
/// `jti`, so it is good for one request); the app's client id.
fn authenticate(
    w: &mut World,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
    endpoint: &str,
) -> Result<String, Response> {
    match params.get("client_assertion_type").map(String::as_str) {
        Some(ASSERTION_TYPE) => {}
        Some(_) => {
            return Err(invalid_client(
                "The client_assertion_type must be \
                 urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            ));
        }
        // Service apps get Okta-scoped tokens only with private_key_jwt.
        None if headers.contains_key("authorization") || params.contains_key("client_secret") => {
            return Err(invalid_client(
                "Client Credentials requests to the Org Authorization Server must use the \
                 private_key_jwt token_endpoint_auth_method.",
            ));
        }
        None => return Err(invalid_client("No client credentials found.")),
    }
    let (app, jti, exp) = check_assertion(w, params, endpoint)?;
    let client_id = app.client_id.clone();
    let now = w.now_secs();
    let seen = &mut w.okta.assertion_jtis;
    seen.retain(|_, until| *until > now);
    if let Some(jti) = jti {
        let key = format!("{client_id} {jti}");
        if seen.contains_key(&key) {
            return Err(invalid_client(
                "The client_assertion token has already been used; its jti must be new.",
            ));
        }
        seen.insert(key, exp);
    }
    Ok(client_id)
}

/// The scopes to grant: those asked for that the app is granted. Okta checks each
/// requested scope against the app's grants ("The scope is granted if it exists in the
/// app's grants collection",
/// https://developer.okta.com/docs/guides/implement-oauth-for-okta/define-allowed-scopes/).
fn granted(app: &ServiceApp, scope: Option<&String>) -> Result<Vec<String>, Response> {
    let invalid_scope = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_scope", d);
    let Some(scope) = scope.filter(|s| !s.trim().is_empty()) else {
        return Err(invalid_scope(
            "The authorization server resource does not have any configured default scopes, \
             'scope' must be provided.",
        ));
    };
    let asked = split_scopes(scope);
    if let Some(oidc) = asked.iter().find(|s| OIDC_SCOPES.contains(&s.as_str())) {
        return Err(invalid_scope(&format!(
            "Cannot request '{oidc}' scopes using client credentials"
        )));
    }
    // https://support.okta.com/help/s/article/error-one-or-more-scopes-are-not-configured-for-the-authorization-server-resource
    if asked.iter().any(|s| !OKTA_SCOPES.contains(&s.as_str())) {
        return Err(invalid_scope(
            "One or more scopes are not configured for the authorization server resource.",
        ));
    }
    let granted: Vec<String> = asked
        .into_iter()
        .filter(|s| app.scopes.contains(s))
        .collect();
    if granted.is_empty() {
        return Err(invalid_scope(
            "None of the requested scopes is granted to this client.",
        ));
    }
    Ok(granted)
}

/// The token answer for an authenticated app: DPoP as the app requires, the grant type,
/// the scopes, then an RS256 access token of the org authorization server.
fn mint(
    w: &World,
    client_id: &str,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
    org: &str,
) -> Response {
    let Some(app) = w.okta.service_app(client_id) else {
        return invalid_client("Invalid value for 'client_id' parameter.");
    };
    if app.dpop_required {
        // https://support.okta.com/help/s/article/the-dpop-proof-jwt-header-is-missing
        let description = if headers.contains_key("dpop") {
            "The emulator does not check DPoP proofs."
        } else {
            "The DPoP proof JWT header is missing."
        };
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_dpop_proof", description);
    }
    match params.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        None | Some("") => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The request is missing a required parameter: 'grant_type'.",
            );
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "The client is not authorized to use the provided grant type. Configured \
                 grant types: [client_credentials].",
            );
        }
    }
    let scopes = match granted(app, params.get("scope")) {
        Ok(scopes) => scopes,
        Err(resp) => return resp,
    };
    access_token_answer(w, org, org, &app.client_id, &scopes)
}

/// `POST {org}/oauth2/v1/token`: form only; `grant_type=client_credentials`, `scope`,
/// `client_assertion_type`, `client_assertion`.
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
    let endpoint = st.urls().okta_org_token();
    let org = st.urls().okta_org();
    st.with_mut(|w| match authenticate(w, &headers, &params, &endpoint) {
        Ok(client_id) => mint(w, &client_id, &headers, &params, &org),
        Err(resp) => resp,
    })
}
