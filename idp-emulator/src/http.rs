//! Request parsing and response helpers shared by the vendor modules. Bodies are taken as
//! bytes and parsed here, so a malformed body gets the vendor's own error shape instead of
//! axum's plain-text rejection.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

/// Largest request body any endpoint accepts (also enforced by a body-limit layer).
pub(crate) const MAX_BODY: usize = 64 * 1024;

pub(crate) fn json(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn json_with(
    status: StatusCode,
    body: Value,
    headers: &[(&'static str, String)],
) -> Response {
    let mut resp = json(status, body);
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            resp.headers_mut().insert(*name, v);
        }
    }
    resp
}

pub(crate) fn no_content() -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// Token endpoint parameters: `application/x-www-form-urlencoded`, or JSON where the
/// vendor accepts it (Auth0). Non-string JSON values are kept as their JSON text.
pub(crate) fn parse_params(
    headers: &HeaderMap,
    body: &[u8],
    allow_json: bool,
) -> Option<BTreeMap<String, String>> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if allow_json && content_type.starts_with("application/json") {
        let value: Value = serde_json::from_slice(body).ok()?;
        let obj = value.as_object()?;
        return Some(
            obj.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), s)
                })
                .collect(),
        );
    }
    if content_type.starts_with("application/x-www-form-urlencoded") || content_type.is_empty() {
        let mut out = BTreeMap::new();
        for (k, v) in url::form_urlencoded::parse(body) {
            out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
        }
        return Some(out);
    }
    None
}

/// The body as a JSON object, or `None` for anything else.
pub(crate) fn json_object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// HTTP Basic credentials, form-decoded as RFC 6749 section 2.3.1 requires.
pub(crate) fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(rest.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("v={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The credentials a client presented, from HTTP Basic or the body.
pub(crate) struct ClientCreds {
    pub id: String,
    pub secret: Option<String>,
}

pub(crate) fn client_creds(
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Option<ClientCreds> {
    if let Some((id, secret)) = basic_auth(headers) {
        return Some(ClientCreds {
            id,
            secret: Some(secret),
        });
    }
    let id = params.get("client_id")?.clone();
    Some(ClientCreds {
        id,
        secret: params.get("client_secret").cloned(),
    })
}

/// The `token_endpoint_auth_method` a request used: Basic, or the secret in the body.
/// None for both at once (RFC 6749 section 2.3 allows one method per request) or neither.
pub(crate) fn auth_method_used(
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Option<&'static str> {
    match (
        basic_auth(headers).is_some(),
        params.contains_key("client_secret"),
    ) {
        (true, false) => Some("client_secret_basic"),
        (false, true) => Some("client_secret_post"),
        _ => None,
    }
}

/// The token of an `Authorization: <scheme> <token>` header, scheme compared case-blind.
pub(crate) fn auth_token<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (s, token) = value.split_once(' ')?;
    let token = token.trim();
    (s.eq_ignore_ascii_case(scheme) && !token.is_empty()).then_some(token)
}

/// Query string as a map (first value wins), percent-decoded.
pub(crate) fn query_map(query: Option<&str>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// Space-separated scopes, deduplicated, order kept.
pub(crate) fn split_scopes(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in s.split_whitespace() {
        if !out.iter().any(|p| p == part) {
            out.push(part.to_string());
        }
    }
    out
}

/// A JSON array of strings, or `None` if the value is anything else.
pub(crate) fn string_array(v: &Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_str().map(str::to_string))
        .collect()
}

/// RFC 3339 with millisecond precision and `Z`, the timestamp format Okta and Graph use.
pub(crate) fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
