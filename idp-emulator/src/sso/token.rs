//! The token endpoint (RFC 6749 section 3.2): `authorization_code` (section 4.1.3, with
//! the PKCE check of RFC 7636 section 4.6) and `refresh_token` (section 6, rotating).
//! Public clients name themselves with `client_id`; confidential ones authenticate with
//! HTTP Basic ([`super::client_auth`]).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use super::LoginClient;
use super::authorize::requested_audience;
use super::client_auth::authenticate;
use super::grants::hash;
use super::issue::{Issue, oauth_error};
use crate::http::{parse_params, split_scopes};
use crate::ids::secret_eq;
use crate::state::{EmulatorState, World};

type Params = BTreeMap<String, String>;

/// `POST /sso/token`.
pub(super) async fn token(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = parse_params(&headers, &body, false) else {
        return oauth_error(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let issuer = st.urls().sso_issuer();
    st.with_mut(|w| {
        let now = w.now_secs();
        w.sso.prune(now);
        let client = match authenticate(&w.sso, &headers, &params) {
            Ok(client) => client.clone(),
            Err(resp) => return resp,
        };
        let call = Call {
            issuer: &issuer,
            client: &client,
            params: &params,
            now,
        };
        match params.get("grant_type").map(String::as_str) {
            Some("authorization_code") => exchange(w, &call),
            Some("refresh_token") => refresh(w, &call),
            None | Some("") => oauth_error("invalid_request", "grant_type is missing"),
            Some(other) => oauth_error(
                "unsupported_grant_type",
                &format!(
                    "grant_type {other:?} is not supported here (authorization_code, refresh_token)"
                ),
            ),
        }
    })
}

struct Call<'a> {
    issuer: &'a str,
    client: &'a LoginClient,
    params: &'a Params,
    now: i64,
}

impl Call<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The audience this request names, if any.
    fn audience(&self) -> Result<Option<String>, Response> {
        requested_audience(self.get("resource"), self.get("audience"))
            .map_err(|(error, description)| oauth_error(error, &description))
    }
}

/// RFC 7636 section 4.6: BASE64URL(SHA256(verifier)) == challenge; a verifier is 43 to
/// 128 unreserved characters.
fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let unreserved = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~');
    (43..=128).contains(&verifier.len())
        && verifier.chars().all(unreserved)
        && secret_eq(
            &URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())),
            challenge,
        )
}

fn exchange(w: &mut World, call: &Call<'_>) -> Response {
    let Some(code) = call.get("code") else {
        return oauth_error("invalid_request", "code is missing");
    };
    let Some(verifier) = call.get("code_verifier") else {
        return oauth_error("invalid_request", "code_verifier is missing (PKCE)");
    };
    let code_hash = hash(code);
    let Some(at) = w.sso.codes.iter().position(|c| c.hash == code_hash) else {
        return oauth_error("invalid_grant", "the code is unknown or has expired");
    };
    let stored = w.sso.codes[at].clone();
    if let Some(grant) = &stored.used_for {
        // RFC 6749 section 4.1.2: a code used twice revokes what its first use got.
        w.sso.revoke_grant(grant);
        return oauth_error(
            "invalid_grant",
            "the code was already used; the sign-in it made is revoked",
        );
    }
    if stored.request.client_id != call.client.client_id {
        return oauth_error("invalid_grant", "the code was issued to another client");
    }
    if call.get("redirect_uri") != Some(stored.request.redirect_uri.as_str()) {
        return oauth_error(
            "invalid_grant",
            "redirect_uri is not the one of the authorization request",
        );
    }
    if !verifier_matches(verifier, &stored.request.code_challenge) {
        // A wrong verifier spends the code: it cannot be guessed at.
        w.sso.codes.remove(at);
        return oauth_error(
            "invalid_grant",
            "code_verifier does not match the code_challenge (PKCE)",
        );
    }
    let audience = match (call.audience(), &stored.request.audience) {
        (Err(resp), _) => return resp,
        (Ok(Some(asked)), Some(authorized)) if &asked != authorized => {
            return oauth_error(
                "invalid_target",
                "the resource is not the one the authorization request named",
            );
        }
        (Ok(asked), authorized) => asked
            .or_else(|| authorized.clone())
            .unwrap_or_else(|| call.client.default_audience.clone()),
    };
    let Some(person) = w.sso.person(&stored.sub).cloned() else {
        return oauth_error("invalid_grant", "the person no longer exists");
    };
    let offline = stored.request.scopes.iter().any(|s| s == "offline_access");
    let (grant, refresh) = if offline {
        let (id, token) = w.sso.open_grant(&stored, &audience, call.now);
        (id, Some(token))
    } else {
        (String::new(), None)
    };
    w.sso.codes[at].used_for = Some(grant);
    let issue = Issue {
        issuer: call.issuer,
        person: &person,
        client_id: &call.client.client_id,
        scopes: &stored.request.scopes,
        audience: &audience,
        nonce: stored.request.nonce.as_deref(),
        auth_time: stored.auth_time,
        now: call.now,
    };
    issue
        .response(&w.sso.keys, refresh.as_deref())
        .unwrap_or_else(|_| oauth_error("server_error", "signing failed"))
}

fn refresh(w: &mut World, call: &Call<'_>) -> Response {
    let Some(token) = call.get("refresh_token") else {
        return oauth_error("invalid_request", "refresh_token is missing");
    };
    let token_hash = hash(token);
    let Some(at) = w
        .sso
        .grants
        .iter()
        .position(|g| g.refresh_hash.as_deref() == Some(token_hash.as_str()))
    else {
        if let Some(reused) = w.sso.grants.iter().find(|g| g.spent.contains(&token_hash)) {
            // A rotated-away token presented again: someone else may hold the new one.
            let id = reused.id.clone();
            w.sso.revoke_grant(&id);
            return oauth_error(
                "invalid_grant",
                "the refresh token was already used; the sign-in is revoked, sign in again",
            );
        }
        return oauth_error(
            "invalid_grant",
            "the refresh token is unknown, expired or revoked",
        );
    };
    let grant = w.sso.grants[at].clone();
    if grant.client_id != call.client.client_id {
        return oauth_error(
            "invalid_grant",
            "the refresh token was issued to another client",
        );
    }
    let scopes = match call.get("scope") {
        None => grant.scopes.clone(),
        Some(asked) => {
            let asked = split_scopes(asked);
            if let Some(extra) = asked.iter().find(|s| !grant.scopes.contains(s)) {
                return oauth_error("invalid_scope", &format!("scope {extra:?} was not granted"));
            }
            asked
        }
    };
    match call.audience() {
        Err(resp) => return resp,
        Ok(Some(asked)) if asked != grant.audience => {
            return oauth_error(
                "invalid_target",
                "the resource is not the one this sign-in was granted for",
            );
        }
        Ok(_) => {}
    }
    let Some(person) = w.sso.person(&grant.sub).cloned() else {
        return oauth_error("invalid_grant", "the person no longer exists");
    };
    let Some(next) = w.sso.rotate(at, call.now) else {
        return oauth_error("server_error", "the grant vanished");
    };
    let issue = Issue {
        issuer: call.issuer,
        person: &person,
        client_id: &call.client.client_id,
        scopes: &scopes,
        audience: &grant.audience,
        nonce: None,
        auth_time: grant.auth_time,
        now: call.now,
    };
    issue
        .response(&w.sso.keys, Some(&next))
        .unwrap_or_else(|_| oauth_error("server_error", "signing failed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rfc_7636_example_verifies() {
        // RFC 7636 appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(verifier_matches(verifier, challenge));
        assert!(!verifier_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
            challenge
        ));
        assert!(!verifier_matches("short", challenge));
    }
}
