//! `POST /oauth2/token`: the OAuth 2.0 client credentials grant (RFC 6749 section 4.4),
//! so any OAuth client library can get tokens through dcr. Client authentication by
//! `client_secret_basic` or `client_secret_post` (section 2.3.1); responses per 5.1 and
//! errors per 5.2, always with `Cache-Control: no-store`.

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use crate::broker::{Broker, TokenRequest};
/// The TCP peer of a request (the per-source rate limit).
pub use dcr_common::peer::Peer;

use crate::errors::TokenError;

const MAX_BODY: usize = 16 * 1024;

/// The token endpoint, with the same bounds as the gRPC servers (common::server): a
/// request body of at most MAX_BODY, a time limit per request, and a bound on requests
/// in progress (more wait for a place).
pub fn router(broker: Broker, limits: dcr_common::server::ServerLimits) -> Router {
    let places = std::sync::Arc::new(tokio::sync::Semaphore::new(limits.concurrent_requests));
    let timeout = limits.request_timeout;
    Router::new()
        .route("/oauth2/token", post(token))
        .with_state(broker)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let places = places.clone();
                async move {
                    let Ok(_place) = places.acquire_owned().await else {
                        return error_response(TokenError::Unavailable("shutting down".into()));
                    };
                    match tokio::time::timeout(timeout, next.run(request)).await {
                        Ok(response) => response,
                        Err(_) => error_response(TokenError::Timeout),
                    }
                }
            },
        ))
}

fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn error_response(error: TokenError) -> Response {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let code = error.oauth_code();
    let body = json!({ "error": code, "error_description": error.public_message() });
    let retry_after = match &error {
        TokenError::RateLimited { retry_after } => Some(retry_after.as_secs().max(1)),
        _ => None,
    };
    let mut response = (status, axum::Json(body)).into_response();
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    if status == StatusCode::UNAUTHORIZED {
        let challenge = format!("Basic realm=\"dcr\", error=\"{code}\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
    }
    no_store(response)
}

fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| TokenError::InvalidClient)?;
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return Err(TokenError::InvalidClient);
    };
    dcr_common::oauth::decode_basic(encoded)
        .map(Some)
        .ok_or(TokenError::InvalidClient)
}

/// Parses the form; a parameter sent twice is an error (RFC 6749 section 3.2).
fn parse_form(headers: &HeaderMap, body: &[u8]) -> Result<HashMap<String, String>, TokenError> {
    let form_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(TokenError::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ));
    }
    if body.len() > MAX_BODY {
        return Err(TokenError::InvalidRequest(
            "the request is too large".into(),
        ));
    }
    let mut form = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if form.insert(key.to_string(), value.to_string()).is_some() {
            return Err(TokenError::InvalidRequest(format!(
                "the parameter {key} is repeated"
            )));
        }
    }
    Ok(form)
}

fn token_request(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, TokenError> {
    let mut form = parse_form(headers, body)?;
    match form.get("grant_type").map(String::as_str) {
        None => return Err(TokenError::InvalidRequest("grant_type is required".into())),
        Some("client_credentials") => {}
        Some(_) => return Err(TokenError::UnsupportedGrantType),
    }
    let posted = (form.remove("client_id"), form.remove("client_secret"));
    let (client_id, client_secret) = match (basic_credentials(headers)?, posted) {
        (Some(_), (Some(_), _) | (_, Some(_))) => {
            return Err(TokenError::InvalidRequest(
                "use one client authentication method, not two".into(),
            ));
        }
        (Some(basic), _) => basic,
        (None, (Some(id), Some(secret))) => (id, secret),
        (None, _) => return Err(TokenError::InvalidClient),
    };
    let audience = match (form.remove("audience"), form.remove("resource")) {
        (Some(a), Some(r)) if a != r => {
            return Err(TokenError::InvalidRequest(
                "audience and resource disagree; send one".into(),
            ));
        }
        (a, r) => a.or(r).unwrap_or_default(),
    };
    let scopes = form
        .get("scope")
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    Ok(TokenRequest {
        client_id,
        client_secret: SecretString::from(client_secret),
        scopes,
        audience,
        source: None,
    })
}

async fn token(
    State(broker): State<Broker>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    // A body past MAX_BODY is not even read (DefaultBodyLimit); the answer is still OAuth's.
    let Ok(body) = body else {
        return error_response(TokenError::InvalidRequest(
            "the request is too large".into(),
        ));
    };
    let mut request = match token_request(&headers, &body) {
        Ok(request) => request,
        Err(error) => return error_response(error),
    };
    request.source = Some(peer.0.ip());
    match broker.issue(&request).await {
        Ok(token) => {
            let mut body = json!({
                "access_token": token.token.access_token.expose_secret(),
                "token_type": token.token.token_type,
                "expires_in": token.expires_in(),
            });
            if !token.token.scope.is_empty() {
                body["scope"] = json!(token.token.scope);
            }
            no_store((StatusCode::OK, axum::Json(body)).into_response())
        }
        Err(error) => error_response(error),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use base64::Engine as _;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    #[test]
    fn basic_and_post_authentication_are_understood() {
        let basic = base64::engine::general_purpose::STANDARD.encode("my%20id:s+cr%3At");
        let h = headers(&[FORM, ("authorization", &format!("Basic {basic}"))]);
        let r = token_request(
            &h,
            b"grant_type=client_credentials&scope=read%20write&resource=https%3A%2F%2Fapi",
        )
        .unwrap();
        assert_eq!(
            (r.client_id.as_str(), r.client_secret.expose_secret()),
            ("my id", "s+cr:t")
        );
        assert_eq!((r.scopes.len(), r.audience.as_str()), (2, "https://api"));
        let r = token_request(
            &headers(&[FORM]),
            b"grant_type=client_credentials&client_id=a&client_secret=b",
        )
        .unwrap();
        assert_eq!(
            (r.client_id.as_str(), r.client_secret.expose_secret()),
            ("a", "b")
        );
    }

    #[test]
    fn malformed_requests_get_the_rfc_error() {
        let code = |h: &HeaderMap, body: &[u8]| token_request(h, body).unwrap_err().oauth_code();
        let form = headers(&[FORM]);
        assert_eq!(
            code(&form, b"grant_type=password&client_id=a&client_secret=b"),
            "unsupported_grant_type"
        );
        assert_eq!(
            code(&form, b"client_id=a&client_secret=b"),
            "invalid_request"
        );
        assert_eq!(
            code(&form, b"grant_type=client_credentials"),
            "invalid_client"
        );
        assert_eq!(
            code(
                &form,
                b"grant_type=client_credentials&grant_type=client_credentials"
            ),
            "invalid_request"
        );
        assert_eq!(
            code(&headers(&[("content-type", "application/json")]), b"{}"),
            "invalid_request"
        );
        let both = headers(&[FORM, ("authorization", "Basic YTpi")]);
        assert_eq!(
            code(&both, b"grant_type=client_credentials&client_secret=b"),
            "invalid_request"
        );
        let garbage = headers(&[FORM, ("authorization", "Basic !!!")]);
        assert_eq!(
            code(&garbage, b"grant_type=client_credentials"),
            "invalid_client"
        );
    }
}
