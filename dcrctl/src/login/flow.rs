//! `dcrctl login`: discovery, the authorization request through the browser (PKCE S256,
//! `state`, `nonce`, loopback redirect), the code exchange, and the tokens saved.
//!
//! The ID token's signature is not checked: it comes straight from the token endpoint
//! over TLS (or loopback), which OpenID Connect Core section 3.1.3.7 accepts for the code
//! flow. Its `iss`, `aud` and `nonce` are checked, and only who signed in is taken from
//! it; what the person may do is decided by registry-svc from the verified access token.

use std::time::Duration;

use dcr_common::oidc::{
    self, AuthorizationRequest, ClientAuth, OneTime, Tokens, audience_params, id_token_claims,
};
use serde_json::Value;
use url::Url;

use super::loopback::{Expected, Loopback};
use super::provider::{self, POLICY};
use super::store::{Store, StoredLogin};
use super::{LoginError, browser};

/// When a token answer says nothing of `expires_in`, assume this (RFC 6749 leaves it
/// optional); the next call past it refreshes.
const DEFAULT_EXPIRES_IN: i64 = 300;

#[derive(Debug, Clone)]
pub struct LoginOptions {
    pub issuer: String,
    pub client_id: String,
    /// Sent as `audience`, and as `resource` (RFC 8707) when it is an absolute URI.
    pub audience: Option<String>,
    pub scope: String,
    /// Start `$BROWSER` on the address (it is printed either way).
    pub open_browser: bool,
    pub timeout: Duration,
}

fn announce(url: &Url, redirect_uri: &str, options: &LoginOptions) {
    let opened = options.open_browser && browser::open(url.as_str());
    let how = if opened {
        "Opened your browser ($BROWSER) to sign in; if it did not show, open this address"
    } else {
        "To sign in, open this address in a browser on this machine"
    };
    eprintln!(
        "Signing in at {}.\n{how}:\n\n  {url}\n\nWaiting up to {} s for the browser to come back to {redirect_uri} ...",
        options.issuer,
        options.timeout.as_secs()
    );
}

/// What is saved of a token answer: `template` with the new tokens and expiry, and who
/// signed in from `claims`; what the answer leaves out (a refresh token, a name) is kept
/// from `template`.
pub fn stored(tokens: Tokens, claims: &Value, template: StoredLogin, now: i64) -> StoredLogin {
    let text = |name: &str| claims[name].as_str().map(str::to_owned);
    StoredLogin {
        expires_at: now.saturating_add(tokens.expires_in.unwrap_or(DEFAULT_EXPIRES_IN)),
        access_token: tokens.access_token,
        refresh_token: tokens.refresh_token.or(template.refresh_token),
        subject: text("sub").unwrap_or(template.subject),
        name: text("name").or(template.name),
        email: text("email").or(template.email),
        ..template
    }
}

/// Runs the sign-in and saves it as the current one; returns it.
pub async fn login(
    options: &LoginOptions,
    store: &Store,
    now: impl Fn() -> i64,
) -> Result<StoredLogin, LoginError> {
    let http = provider::client()?;
    let meta = oidc::discover(&http, &options.issuer, POLICY).await?;
    let loopback = Loopback::bind().await?;
    let redirect_uri = loopback.redirect_uri();
    let one = OneTime::new();
    let url = AuthorizationRequest {
        client_id: &options.client_id,
        redirect_uri: &redirect_uri,
        scope: &options.scope,
        audience: options.audience.as_deref(),
    }
    .url(&meta, &one, POLICY)?;
    announce(&url, &redirect_uri, options);
    let expected = Expected {
        state: one.state.clone(),
        issuer: meta.issuer.clone(),
    };
    let code = loopback.wait(expected, options.timeout).await?;
    let audience = audience_params(options.audience.as_deref());
    let mut form: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &redirect_uri),
        ("code_verifier", one.verifier()),
    ];
    form.extend(audience.iter().map(|(k, v)| (*k, v.as_str())));
    let client = ClientAuth::Public {
        client_id: &options.client_id,
    };
    let tokens = oidc::token_request(
        &http,
        &meta.token_endpoint,
        POLICY,
        client,
        "code exchange",
        &form,
    )
    .await?;
    let claims = id_token_claims(&tokens, &meta.issuer, &options.client_id, &one.nonce)?;
    let template = StoredLogin {
        client_id: options.client_id.clone(),
        audience: options.audience.clone(),
        token_endpoint: meta.token_endpoint.clone(),
        revocation_endpoint: meta.revocation_endpoint.clone(),
        access_token: tokens.access_token.clone(),
        refresh_token: None,
        expires_at: 0,
        subject: "(unknown)".to_owned(),
        name: None,
        email: None,
    };
    let login = stored(tokens, &claims, template, now());
    let _lock = store.lock()?;
    let mut logins = store.load()?;
    logins.logins.insert(meta.issuer.clone(), login.clone());
    logins.current = Some(meta.issuer);
    store.save(&logins)?;
    Ok(login)
}
