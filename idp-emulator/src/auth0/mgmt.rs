//! Auth0 Management API v2 plumbing shared by the `clients` and `client-grants`
//! endpoints: bearer-token and scope checks, error bodies, paging.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::http::{auth_token, json};
use crate::state::{Vendor, World};
use crate::urls::Urls;

/// The Management API error body: `{statusCode, error, message, errorCode}`.
pub(crate) fn mgmt_error(status: StatusCode, message: &str, error_code: Option<&str>) -> Response {
    let mut body = json!({
        "statusCode": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "message": message,
    });
    if let Some(code) = error_code {
        body["errorCode"] = json!(code);
    }
    json(status, body)
}

/// 400 `invalid_body`. `message` is the validator's text, optionally followed by
/// `' on property <path> '`, rendered the way Auth0 words it:
/// `Payload validation error: '<text>' on property <path>.`
pub(super) fn invalid_body(message: &str) -> Response {
    let text = match message.split_once("' on property ") {
        Some((what, prop)) => {
            let prop = prop.trim_end_matches('\'').trim();
            format!("Payload validation error: '{what}' on property {prop}.")
        }
        None => format!("Payload validation error: '{message}'."),
    };
    mgmt_error(StatusCode::BAD_REQUEST, &text, Some("invalid_body"))
}

pub(super) fn no_client() -> Response {
    mgmt_error(
        StatusCode::NOT_FOUND,
        "The client does not exist",
        Some("inexistent_client"),
    )
}

/// Checks the bearer token: an RS256 token of this tenant, for the Management API
/// audience, unexpired, holding one of `any_of` scopes. Returns the token's scopes.
pub(super) fn authorize(
    w: &World,
    urls: &Urls,
    headers: &HeaderMap,
    any_of: &[&str],
) -> Result<Vec<String>, Response> {
    let Some(raw) = headers.get(axum::http::header::AUTHORIZATION) else {
        return Err(mgmt_error(
            StatusCode::UNAUTHORIZED,
            "Missing authentication",
            None,
        ));
    };
    let Some(token) = raw
        .to_str()
        .ok()
        .and_then(|_| auth_token(headers, "Bearer"))
    else {
        return Err(mgmt_error(
            StatusCode::BAD_REQUEST,
            "Bad HTTP authentication header format",
            Some("Bearer"),
        ));
    };
    let invalid = || {
        let mut body =
            json!({ "statusCode": 401, "error": "Unauthorized", "message": "Invalid token" });
        body["attributes"] = json!({ "error": "Invalid token" });
        json(StatusCode::UNAUTHORIZED, body)
    };
    let Some(claims) = w.keys.get(Vendor::Auth0).verify(token) else {
        return Err(invalid());
    };
    if claims["iss"].as_str() != Some(urls.auth0_issuer().as_str()) {
        return Err(invalid());
    }
    if claims["exp"].as_i64().is_none_or(|exp| exp <= w.now_secs()) {
        return Err(mgmt_error(
            StatusCode::UNAUTHORIZED,
            "Expired token received for JSON Web Token validation",
            None,
        ));
    }
    let aud_ok = match &claims["aud"] {
        Value::String(a) => *a == urls.auth0_management_audience(),
        Value::Array(list) => list
            .iter()
            .any(|a| a.as_str() == Some(urls.auth0_management_audience().as_str())),
        _ => false,
    };
    if !aud_ok {
        let aud = claims["aud"].as_str().unwrap_or_default();
        return Err(mgmt_error(
            StatusCode::UNAUTHORIZED,
            &format!("Bad audience: {aud}"),
            None,
        ));
    }
    let scopes: Vec<String> = claims["scope"]
        .as_str()
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if !any_of.iter().any(|s| scopes.iter().any(|have| have == s)) {
        return Err(mgmt_error(
            StatusCode::FORBIDDEN,
            &format!("Insufficient scope, expected any of: {}", any_of.join(",")),
            Some("insufficient_scope"),
        ));
    }
    Ok(scopes)
}

pub(super) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

pub(super) fn expect_type(name: &str, v: &Value, want: &str) -> Result<(), String> {
    if type_name(v) == want {
        Ok(())
    } else {
        Err(format!(
            "Expected type {want} but found type {}' on property {name} '",
            type_name(v)
        ))
    }
}

/// `page` (0-based) and `per_page` (default 50, max 100).
pub(super) fn paging(q: &BTreeMap<String, String>) -> Result<(usize, usize), Response> {
    let bad = |m: &str| {
        mgmt_error(
            StatusCode::BAD_REQUEST,
            &format!("Query validation error: '{m}'."),
            Some("invalid_query_string"),
        )
    };
    let page = match q.get("page") {
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| bad("Expected type integer' on property page '"))?,
        None => 0,
    };
    let per_page = match q.get("per_page") {
        Some(p) => p
            .parse::<usize>()
            .map_err(|_| bad("Expected type integer' on property per_page '"))?,
        None => 50,
    };
    if per_page > 100 {
        return Err(bad(
            "Number is greater than the maximum value of 100' on property per_page '",
        ));
    }
    Ok((page, per_page.max(1)))
}
