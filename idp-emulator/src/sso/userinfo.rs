//! The UserInfo endpoint (OpenID Connect Core section 5.3): the person behind an access
//! token of this issuer, by the scopes it was granted.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use crate::http::{auth_token, json};
use crate::state::EmulatorState;

/// RFC 6750 section 3.1: 401 with `WWW-Authenticate: Bearer error="invalid_token"`.
fn invalid_token(description: &str) -> Response {
    let mut resp = json(
        StatusCode::UNAUTHORIZED,
        json!({ "error": "invalid_token", "error_description": description }),
    );
    let challenge = format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}

/// `GET` or `POST /sso/userinfo` with `Authorization: Bearer <access token>`.
pub(super) async fn userinfo(State(st): State<EmulatorState>, headers: HeaderMap) -> Response {
    let Some(token) = auth_token(&headers, "Bearer") else {
        let mut resp = json(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_request" }),
        );
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    };
    let issuer = st.urls().sso_issuer();
    st.with(|w| {
        let Some(claims) = w.sso.keys.verify(token) else {
            return invalid_token("the token is not one of this issuer's");
        };
        if claims["iss"].as_str() != Some(issuer.as_str()) {
            return invalid_token("the token is not one of this issuer's");
        }
        if claims["exp"].as_i64().is_none_or(|exp| exp <= w.now_secs()) {
            return invalid_token("the token has expired");
        }
        let Some(person) = claims["sub"].as_str().and_then(|sub| w.sso.person(sub)) else {
            return invalid_token("the person no longer exists");
        };
        let scopes: Vec<&str> = claims["scope"].as_str().unwrap_or("").split(' ').collect();
        let mut body = json!({ "sub": person.login });
        let mut add = |name: &str, value: Value| body[name] = value;
        if scopes.contains(&"profile") {
            add("name", json!(person.name));
            add("preferred_username", json!(person.login));
        }
        if scopes.contains(&"email") {
            add("email", json!(person.email));
            add("email_verified", json!(true));
        }
        if scopes.contains(&"groups") {
            add("groups", json!(person.groups));
        }
        json(StatusCode::OK, body)
    })
}
