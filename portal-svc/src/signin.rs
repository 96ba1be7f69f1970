//! Signing people in at DCR_IDENTITY_ISSUER: the authorization code flow with PKCE (RFC 6749
//! section 4.1, RFC 7636) as the portal's client, `state` and `nonce` checked, the issuer
//! checked on the way back (RFC 9207), and the access token refreshed while the session
//! lasts. The HTTP parts are `dcr_common::oidc`, shared with `dcrctl login`.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dcr_common::oidc::{
    self, AuthorizationRequest, ClientAuth, Metadata, OidcError, OneTime, audience_params,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use url::Url;

use crate::config::PortalConfig;
use crate::session::Tokens;

/// How long a person has to finish at the identity provider.
pub const SIGN_IN_TTL_SECS: u64 = 600;

/// When a token answer says nothing of `expires_in` (RFC 6749 leaves it optional).
const DEFAULT_EXPIRES_IN: i64 = 300;

/// One sign-in in progress, kept in the sealed sign-in cookie.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// A path on this portal (see [`safe_return_to`]).
    pub return_to: String,
    pub started: i64,
}

/// A page of this portal to go back to: a path starting with one `/`; anything else (an
/// absolute URL, `//host`, a backslash trick) is the portal's home page, so the sign-in
/// cannot be used to send people elsewhere.
pub fn safe_return_to(value: Option<&str>) -> String {
    match value {
        Some(path)
            if path.starts_with('/')
                && !path.starts_with("//")
                && !path.contains('\\')
                && !path.chars().any(char::is_control)
                && path.len() <= 2048 =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[derive(Debug)]
pub struct SignIn {
    config: Arc<PortalConfig>,
    http: reqwest::Client,
    /// Discovered at the first sign-in and kept; a failed discovery is tried again next time.
    meta: OnceCell<Metadata>,
}

impl SignIn {
    pub fn new(config: Arc<PortalConfig>) -> anyhow::Result<Self> {
        let http =
            oidc::http_client(config.client_tls.ca.as_deref()).map_err(anyhow::Error::msg)?;
        Ok(Self {
            config,
            http,
            meta: OnceCell::new(),
        })
    }

    async fn meta(&self) -> Result<&Metadata, OidcError> {
        self.meta
            .get_or_try_init(|| {
                oidc::discover(&self.http, &self.config.issuer, self.config.url_policy)
            })
            .await
    }

    fn client(&self) -> ClientAuth<'_> {
        match &self.config.client_secret {
            Some(secret) => ClientAuth::Basic {
                client_id: &self.config.client_id,
                secret,
            },
            None => ClientAuth::Public {
                client_id: &self.config.client_id,
            },
        }
    }

    /// Where to send the browser, and what to keep in the sign-in cookie meanwhile.
    pub async fn start(
        &self,
        return_to: String,
        now: DateTime<Utc>,
    ) -> Result<(Url, Pending), OidcError> {
        let meta = self.meta().await?;
        let one = OneTime::new();
        let redirect_uri = self.config.redirect_uri();
        let url = AuthorizationRequest {
            client_id: &self.config.client_id,
            redirect_uri: &redirect_uri,
            scope: &self.config.scope,
            audience: Some(&self.config.audience),
        }
        .url(meta, &one, self.config.url_policy)?;
        let pending = Pending {
            state: one.state.clone(),
            nonce: one.nonce.clone(),
            verifier: one.verifier().to_owned(),
            return_to,
            started: now.timestamp(),
        };
        Ok((url, pending))
    }

    /// The issuer the identity provider must name in its redirect back, when it names one.
    pub async fn issuer(&self) -> Result<&str, OidcError> {
        Ok(&self.meta().await?.issuer)
    }

    /// Exchanges the code of `pending`'s sign-in for tokens; returns them with the ID
    /// token's claims (iss, aud and nonce checked).
    pub async fn finish(
        &self,
        pending: &Pending,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<(Tokens, serde_json::Value), OidcError> {
        let meta = self.meta().await?;
        let redirect_uri = self.config.redirect_uri();
        let audience = audience_params(Some(&self.config.audience));
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &pending.verifier),
        ];
        form.extend(audience.iter().map(|(k, v)| (*k, v.as_str())));
        let answer = oidc::token_request(
            &self.http,
            &meta.token_endpoint,
            self.config.url_policy,
            self.client(),
            "code exchange",
            &form,
        )
        .await?;
        let claims = oidc::id_token_claims(
            &answer,
            &meta.issuer,
            &self.config.client_id,
            &pending.nonce,
        )?;
        Ok((tokens(answer, None, now), claims))
    }

    /// New tokens for a session whose access token is about to expire.
    pub async fn refresh(
        &self,
        refresh: &SecretString,
        now: DateTime<Utc>,
    ) -> Result<Tokens, OidcError> {
        let meta = self.meta().await?;
        let audience = audience_params(Some(&self.config.audience));
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose_secret()),
        ];
        form.extend(audience.iter().map(|(k, v)| (*k, v.as_str())));
        let answer = oidc::token_request(
            &self.http,
            &meta.token_endpoint,
            self.config.url_policy,
            self.client(),
            "refresh",
            &form,
        )
        .await?;
        Ok(tokens(answer, Some(refresh), now))
    }

    /// Ends the sign-in at the identity provider too, where it can revoke (RFC 7009).
    pub async fn revoke(&self, refresh: &SecretString) -> Result<(), OidcError> {
        let meta = self.meta().await?;
        match &meta.revocation_endpoint {
            Some(endpoint) => {
                oidc::revoke(
                    &self.http,
                    endpoint,
                    self.config.url_policy,
                    self.client(),
                    refresh,
                )
                .await
            }
            None => Ok(()),
        }
    }
}

/// The session's tokens from a token answer; a refresh answer without a new refresh token
/// keeps the old one (RFC 6749 section 6 lets the provider keep it).
fn tokens(answer: oidc::Tokens, previous: Option<&SecretString>, now: DateTime<Utc>) -> Tokens {
    let lifetime = answer
        .expires_in
        .unwrap_or(DEFAULT_EXPIRES_IN)
        .clamp(0, 86_400);
    Tokens {
        access: answer.access_token,
        refresh: answer.refresh_token.or_else(|| previous.cloned()),
        expires_at: now + chrono::Duration::seconds(lifetime),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_return_to;

    #[test]
    fn only_local_paths_are_returned_to() {
        assert_eq!(safe_return_to(Some("/apps/1?x=2")), "/apps/1?x=2");
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "apps",
            "/a\nb",
        ] {
            assert_eq!(safe_return_to(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_return_to(None), "/");
    }
}
