//! The flows in progress: login pages waiting for a password (interactions), codes waiting
//! for their exchange, and grants (a person's consent to a client, held by a refresh token
//! that rotates). Codes and refresh tokens are stored as SHA-256 hashes only.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{CODE_TTL, Directory, INTERACTION_TTL, REFRESH_TTL};

/// Most interactions, codes or grants kept; past it the oldest go (a test server must not
/// grow without bound when a loop opens login pages).
const MAX_KEPT: usize = 1_000;

/// What an authorization request asked for, checked, kept while the person logs in and
/// then with the code.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Request {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// BASE64URL(SHA-256(code_verifier)).
    pub code_challenge: String,
    /// The `resource` or `audience` the request named, if any.
    pub audience: Option<String>,
}

/// A login page shown and not yet answered.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Interaction {
    pub id: String,
    pub request: Request,
    pub expires_at: i64,
}

/// An authorization code: unused, or used (kept until it would have expired, so a second
/// use is recognised and revokes what the first one got, RFC 6749 section 4.1.2).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Code {
    pub hash: String,
    pub request: Request,
    pub sub: String,
    pub auth_time: i64,
    pub expires_at: i64,
    /// The grant its exchange made; set once used.
    pub used_for: Option<String>,
}

/// A person's sign-in at a client, alive while its refresh token is.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub id: String,
    pub client_id: String,
    pub sub: String,
    pub scopes: Vec<String>,
    pub audience: String,
    pub auth_time: i64,
    /// The hash of the one refresh token that works now.
    pub refresh_hash: Option<String>,
    /// Hashes of refresh tokens already rotated away: presenting one revokes the grant.
    pub spent: Vec<String>,
    pub expires_at: i64,
}

/// The stored form of a code or refresh token.
pub(crate) fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// A new random code or refresh token (256 bits, URL-safe).
pub(crate) fn new_secret() -> String {
    crate::ids::url_safe(43)
}

fn keep_newest<T>(items: &mut Vec<T>) {
    if items.len() > MAX_KEPT {
        let extra = items.len() - MAX_KEPT;
        items.drain(..extra);
    }
}

impl Directory {
    /// Drops what expired by `now`.
    pub fn prune(&mut self, now: i64) {
        self.interactions.retain(|i| i.expires_at > now);
        self.codes.retain(|c| c.expires_at > now);
        self.grants.retain(|g| g.expires_at > now);
    }

    pub fn open_interaction(&mut self, request: Request, now: i64) -> String {
        self.prune(now);
        let id = crate::ids::url_safe(32);
        self.interactions.push(Interaction {
            id: id.clone(),
            request,
            expires_at: now + INTERACTION_TTL,
        });
        keep_newest(&mut self.interactions);
        id
    }

    pub fn interaction(&self, id: &str, now: i64) -> Option<&Interaction> {
        self.interactions
            .iter()
            .find(|i| i.id == id && i.expires_at > now)
    }

    /// Ends the interaction `id` with a code for `sub`; returns the code.
    pub fn issue_code(&mut self, id: &str, sub: &str, now: i64) -> Option<(String, Request)> {
        let at = self.interactions.iter().position(|i| i.id == id)?;
        let interaction = self.interactions.remove(at);
        let code = new_secret();
        self.codes.push(Code {
            hash: hash(&code),
            request: interaction.request.clone(),
            sub: sub.to_owned(),
            auth_time: now,
            expires_at: now + CODE_TTL,
            used_for: None,
        });
        keep_newest(&mut self.codes);
        Some((code, interaction.request))
    }

    /// Makes a grant and its first refresh token; returns the grant id and the token.
    pub fn open_grant(&mut self, code: &Code, audience: &str, now: i64) -> (String, String) {
        let id = crate::ids::guid();
        let refresh = new_secret();
        self.grants.push(Grant {
            id: id.clone(),
            client_id: code.request.client_id.clone(),
            sub: code.sub.clone(),
            scopes: code.request.scopes.clone(),
            audience: audience.to_owned(),
            auth_time: code.auth_time,
            refresh_hash: Some(hash(&refresh)),
            spent: Vec::new(),
            expires_at: now + REFRESH_TTL,
        });
        keep_newest(&mut self.grants);
        (id, refresh)
    }

    /// Rotates the refresh token of the grant at `at`: the new token, the old one spent.
    pub fn rotate(&mut self, at: usize, now: i64) -> Option<String> {
        let grant = self.grants.get_mut(at)?;
        let refresh = new_secret();
        if let Some(old) = grant.refresh_hash.replace(hash(&refresh)) {
            grant.spent.push(old);
        }
        grant.expires_at = now + REFRESH_TTL;
        Some(refresh)
    }

    pub fn revoke_grant(&mut self, id: &str) {
        self.grants.retain(|g| g.id != id);
    }
}
