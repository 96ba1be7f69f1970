//! Test control of the SSO issuer's login clients (no authentication, like all of
//! `/__emulator/`): register or replace a web client, read one back without its secret.
//! A web client's redirect URIs match exactly; with a `client_secret` it is confidential
//! and authenticates by HTTP Basic ([`super::client_auth`]). Only the seeded native client
//! (`dcrctl`) keeps the any-port loopback rule, and it cannot be replaced here.
//!
//! The checks are strict so a test's mistake shows at registration, not as a puzzling
//! refusal in the middle of a sign-in.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{ClientKind, LoginClient};
use crate::http::json;
use crate::seed::{SSO_DEFAULT_AUDIENCE, SSO_LOGIN_CLIENT_ID};
use crate::state::EmulatorState;

const MAX_ID: usize = 128;
const MIN_SECRET: usize = 16;
const MAX_SECRET: usize = 256;
const MAX_NAME: usize = 128;
const MAX_REDIRECTS: usize = 10;
const MAX_URI: usize = 2_000;
const MAX_AUDIENCE: usize = 512;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientSpec {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    name: String,
    redirect_uris: Vec<String>,
    #[serde(default)]
    default_audience: Option<String>,
}

fn bad(message: &str) -> Response {
    json(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

/// The client as the control API shows it: never its secret.
fn shown(c: &LoginClient) -> Value {
    let (kind, application_type) = match c.kind {
        ClientKind::Native => ("public", "native"),
        ClientKind::Web if c.client_secret.is_some() => ("confidential", "web"),
        ClientKind::Web => ("public", "web"),
    };
    json!({
        "client_id": c.client_id,
        "name": c.name,
        "client_type": kind,
        "application_type": application_type,
        "token_endpoint_auth_method": if c.client_secret.is_some() { "client_secret_basic" } else { "none" },
        "redirect_uris": c.redirect_uris,
        "default_audience": c.default_audience,
    })
}

/// Printable ASCII without spaces (RFC 6749 appendix A allows more, but an id or secret
/// with spaces or non-ASCII is a test's mistake here, not a case worth supporting).
fn printable(s: &str) -> bool {
    s.bytes().all(|b| (0x21..=0x7e).contains(&b))
}

/// A redirect URI a web client may register: absolute http(s) with a host, no fragment
/// (RFC 6749 section 3.1.2) or user info, and written in normal form, since requests are
/// matched against it character for character.
fn check_redirect(uri: &str) -> Result<(), String> {
    if uri.len() > MAX_URI {
        return Err(format!(
            "redirect_uris: {uri:?} is longer than {MAX_URI} characters"
        ));
    }
    let url = Url::parse(uri).map_err(|e| format!("redirect_uris: {uri:?} is not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(format!(
            "redirect_uris: {uri:?} must be an http or https URL with a host"
        ));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "redirect_uris: {uri:?} must have no fragment and no user info"
        ));
    }
    if url.as_str() != uri {
        return Err(format!(
            "redirect_uris: {uri:?} is not in normal form; register {:?} (redirect URIs match exactly)",
            url.as_str()
        ));
    }
    Ok(())
}

fn checked(spec: ClientSpec) -> Result<LoginClient, String> {
    let ClientSpec {
        client_id,
        client_secret,
        name,
        redirect_uris,
        default_audience,
    } = spec;
    if client_id.is_empty() || client_id.len() > MAX_ID || !printable(&client_id) {
        return Err(format!(
            "client_id: 1 to {MAX_ID} printable ASCII characters without spaces"
        ));
    }
    if client_id == SSO_LOGIN_CLIENT_ID {
        return Err(format!(
            "client_id: {SSO_LOGIN_CLIENT_ID:?} is the seeded native client and cannot be replaced"
        ));
    }
    if let Some(secret) = &client_secret
        && (!(MIN_SECRET..=MAX_SECRET).contains(&secret.len()) || !printable(secret))
    {
        return Err(format!(
            "client_secret: {MIN_SECRET} to {MAX_SECRET} printable ASCII characters without spaces (leave it out for a public client)"
        ));
    }
    if name.trim().is_empty()
        || name.chars().count() > MAX_NAME
        || name.chars().any(char::is_control)
    {
        return Err(format!(
            "name: 1 to {MAX_NAME} characters, not blank, no control characters"
        ));
    }
    if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECTS {
        return Err(format!("redirect_uris: 1 to {MAX_REDIRECTS} URLs"));
    }
    for (i, uri) in redirect_uris.iter().enumerate() {
        check_redirect(uri)?;
        if redirect_uris[..i].contains(uri) {
            return Err(format!("redirect_uris: {uri:?} is listed twice"));
        }
    }
    let default_audience = match default_audience {
        None => SSO_DEFAULT_AUDIENCE.to_owned(),
        Some(a) if !a.is_empty() && a.len() <= MAX_AUDIENCE && printable(&a) => a,
        Some(_) => {
            return Err(format!(
                "default_audience: 1 to {MAX_AUDIENCE} printable ASCII characters without spaces"
            ));
        }
    };
    Ok(LoginClient {
        client_id,
        name,
        kind: ClientKind::Web,
        client_secret,
        redirect_uris,
        default_audience,
    })
}

impl EmulatorState {
    /// Registers (true) or replaces (false) the web login client `spec` (the JSON of
    /// `POST /__emulator/sso/clients`); the message names what is wrong with it. Also
    /// `dcr-idp-emulator --sso-client JSON`, for the compose demo's portal.
    pub fn register_sso_client(&self, spec: &[u8]) -> Result<(bool, Value), String> {
        let spec: ClientSpec =
            serde_json::from_slice(spec).map_err(|e| format!("invalid body: {e}"))?;
        let client = checked(spec)?;
        Ok(self.with_mut(|w| {
            let body = shown(&client);
            let clients = &mut w.sso.clients;
            match clients.iter_mut().find(|c| c.client_id == client.client_id) {
                Some(existing) => {
                    *existing = client;
                    (false, body)
                }
                None => {
                    clients.push(client);
                    (true, body)
                }
            }
        }))
    }
}

/// `POST /__emulator/sso/clients`: registers (201) or replaces (200) a web client. A
/// replaced client's sign-ins stay; from then on it authenticates with the new secret.
pub(super) async fn register(State(st): State<EmulatorState>, body: Bytes) -> Response {
    match st.register_sso_client(&body) {
        Ok((true, body)) => json(StatusCode::CREATED, body),
        Ok((false, body)) => json(StatusCode::OK, body),
        Err(message) => bad(&message),
    }
}

/// `GET /__emulator/sso/clients/{client_id}`: the client without its secret.
pub(super) async fn get_client(
    State(st): State<EmulatorState>,
    Path(client_id): Path<String>,
) -> Response {
    st.with(|w| match w.sso.client(&client_id) {
        Some(c) => json(StatusCode::OK, shown(c)),
        None => json(
            StatusCode::NOT_FOUND,
            json!({ "error": format!("no client {client_id:?}") }),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_absolute_http_in_normal_form() {
        assert!(check_redirect("http://127.0.0.1:8090/auth/callback").is_ok());
        assert!(check_redirect("https://portal.example/auth/callback?x=1").is_ok());
        for bad in [
            "/auth/callback",
            "ftp://portal.example/cb",
            "com.example.app:/cb",
            "https://portal.example/cb#f",
            "https://u@portal.example/cb",
            "HTTPS://portal.example/cb",
            "https://portal.example",
        ] {
            assert!(check_redirect(bad).is_err(), "{bad}");
        }
    }
}
