//! Microsoft Graph `addPassword` / `removePassword` on applications: client secrets
//! (password credentials) with a display name and a validity window.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::Password;
use super::graph::{app_ref, authorize, bad_request, owned_app, password_json, path_key};
use crate::http::{json, json_object, no_content};
use crate::state::EmulatorState;

/// Most password credentials kept per application.
const MAX_PASSWORDS: usize = 100;

fn parse_time(v: Option<&Value>, name: &str) -> Result<Option<DateTime<Utc>>, Response> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| bad_request(&format!("Invalid value specified for property '{name}' of resource 'PasswordCredential'."))),
        Some(_) => Err(bad_request(&format!("Invalid value specified for property '{name}' of resource 'PasswordCredential'."))),
    }
}

/// A new secret in Entra's shape: three characters, `8Q~`, then 34 more.
fn new_secret_text() -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~";
    use rand::Rng;
    let mut rng = rand::rng();
    let mut pick = |n: usize| -> String {
        (0..n)
            .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
            .collect()
    };
    format!("{}8Q~{}", pick(3), pick(34))
}

/// Add a password: body `{"passwordCredential": {"displayName"?, "startDateTime"?,
/// "endDateTime"?}}` (default lifetime two years). 200 with `keyId`, `secretText`, `hint`,
/// `startDateTime`, `endDateTime`; the secret text is never shown again.
/// Follows <https://learn.microsoft.com/en-us/graph/api/application-addpassword?view=graph-rest-1.0>.
pub(super) async fn add_password(
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
        let body = if body.iter().all(u8::is_ascii_whitespace) { Some(Map::new()) } else { json_object(&body) };
        let Some(body) = body else {
            return bad_request("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.");
        };
        let cred = body.get("passwordCredential").and_then(Value::as_object).cloned().unwrap_or_default();
        let now = w.now();
        let start = match parse_time(cred.get("startDateTime"), "startDateTime") {
            Ok(t) => t.unwrap_or(now),
            Err(resp) => return resp,
        };
        let end = match parse_time(cred.get("endDateTime"), "endDateTime") {
            Ok(t) => t.unwrap_or_else(|| start.checked_add_signed(chrono::Duration::days(730)).unwrap_or(start)),
            Err(resp) => return resp,
        };
        if end <= start {
            return bad_request("Key credential end date is invalid.");
        }
        let display_name = cred.get("displayName").and_then(Value::as_str).map(str::to_string);
        let app = &mut w.entra.apps[idx];
        if app.passwords.len() >= MAX_PASSWORDS {
            return bad_request("The application has reached the maximum number of password credentials.");
        }
        let password = Password { key_id: crate::ids::guid(), display_name, secret: new_secret_text(), start, end };
        let mut out = password_json(&password, true);
        if let Some(obj) = out.as_object_mut() {
            obj.insert("@odata.context".into(), json!(format!("{}/$metadata#microsoft.graph.passwordCredential", urls.graph_v1())));
        }
        app.passwords.push(password);
        json(StatusCode::OK, out)
    })
}

/// Remove a password by `keyId`; it stops working at once. 204.
/// Follows <https://learn.microsoft.com/en-us/graph/api/application-removepassword?view=graph-rest-1.0>.
pub(super) async fn remove_password(
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
        let Some(key_id) = json_object(&body)
            .and_then(|b| b.get("keyId").and_then(Value::as_str).map(str::to_string))
        else {
            return bad_request(
                "Invalid value specified for property 'keyId' of resource 'Application'.",
            );
        };
        let app = &mut w.entra.apps[idx];
        let before = app.passwords.len();
        app.passwords
            .retain(|p| !p.key_id.eq_ignore_ascii_case(&key_id));
        if app.passwords.len() == before {
            return bad_request(&format!(
                "No password credential found with keyId '{key_id}'."
            ));
        }
        no_content()
    })
}
