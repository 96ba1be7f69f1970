//! `dcrctl login`: discovery, the authorization request through the browser (PKCE S256,
//! `state`, `nonce`, loopback redirect), the code exchange, and the tokens saved.
//!
//! The ID token's signature is not checked: it comes straight from the token endpoint
//! over TLS (or loopback), which OpenID Connect Core section 3.1.3.7 accepts for the code
//! flow. Its `iss`, `aud` and `nonce` are checked, and only who signed in is taken from
//! it; what the person may do is decided by registry-svc from the verified access token.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::ExposeSecret as _;
use serde_json::Value;
use url::Url;

use super::loopback::{Expected, Loopback};
use super::pkce::OneTime;
use super::provider::{self, Metadata, Tokens};
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

/// The parameters that ask for `audience`.
pub fn audience_params(audience: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(audience) = audience.filter(|a| !a.is_empty()) else {
        return Vec::new();
    };
    let mut params = vec![("audience", audience.to_owned())];
    if Url::parse(audience).is_ok_and(|u| u.fragment().is_none()) {
        params.push(("resource", audience.to_owned()));
    }
    params
}

fn authorization_url(
    meta: &Metadata,
    options: &LoginOptions,
    redirect_uri: &str,
    one: &OneTime,
) -> Result<Url, LoginError> {
    let mut url = provider::checked_url("authorization_endpoint", &meta.authorization_endpoint)?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &options.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &options.scope)
            .append_pair("state", &one.state)
            .append_pair("nonce", &one.nonce)
            .append_pair("code_challenge", &one.challenge)
            .append_pair("code_challenge_method", "S256");
        for (name, value) in audience_params(options.audience.as_deref()) {
            query.append_pair(name, &value);
        }
    }
    Ok(url)
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

/// The claims of a JWT, unverified (see the module comment).
fn payload(jwt: &str) -> Option<Value> {
    let part = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

/// Who signed in: the ID token's claims once `iss`, `aud` and `nonce` match this sign-in;
/// without an ID token (no `openid` scope), what the access token says if it is a JWT.
fn who(
    tokens: &Tokens,
    meta: &Metadata,
    client_id: &str,
    nonce: &str,
) -> Result<Value, LoginError> {
    let Some(id_token) = &tokens.id_token else {
        return Ok(payload(tokens.access_token.expose_secret()).unwrap_or(Value::Null));
    };
    let bad = |what: &str| LoginError::Redirect(format!("the ID token {what}"));
    let claims = payload(id_token.expose_secret()).ok_or_else(|| bad("is not a JWT"))?;
    if claims["iss"].as_str() != Some(meta.issuer.as_str()) {
        return Err(bad("is from another issuer"));
    }
    let for_us = match &claims["aud"] {
        Value::String(aud) => aud == client_id,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !for_us {
        return Err(bad("is for another client"));
    }
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(bad("does not carry this sign-in's nonce"));
    }
    Ok(claims)
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
    let meta = provider::discover(&http, &options.issuer).await?;
    let loopback = Loopback::bind().await?;
    let redirect_uri = loopback.redirect_uri();
    let one = OneTime::new();
    let url = authorization_url(&meta, options, &redirect_uri, &one)?;
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
        ("client_id", &options.client_id),
        ("code_verifier", one.verifier()),
    ];
    form.extend(audience.iter().map(|(k, v)| (*k, v.as_str())));
    let tokens =
        provider::token_request(&http, &meta.token_endpoint, "code exchange", &form).await?;
    let claims = who(&tokens, &meta, &options.client_id, &one.nonce)?;
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn audiences_go_as_audience_and_as_a_resource_when_a_uri() {
        assert!(audience_params(None).is_empty());
        assert_eq!(
            audience_params(Some("api://dcr")),
            vec![
                ("audience", "api://dcr".to_owned()),
                ("resource", "api://dcr".to_owned())
            ]
        );
        assert_eq!(
            audience_params(Some("dcr")),
            vec![("audience", "dcr".to_owned())]
        );
    }

    #[test]
    fn payloads_are_read_from_jwts_only() {
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice"}"#);
        assert_eq!(payload(&format!("e30.{body}.x")).unwrap()["sub"], "alice");
        assert!(payload("opaque-token").is_none());
    }
}
