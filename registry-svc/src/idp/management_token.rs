//! Management API tokens for the vendor adapters, behind one small trait. The default
//! gets them here by client credentials and caches them until shortly before they
//! expire; a deployment could supply them from token-svc's GetManagementToken instead.
//! Tokens and secrets are never logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dcr_common::oauth::{ClientAuthMethod, form_encode_credential};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

use super::http::{describe_error, json};
use super::retry::{Repeat, RetryPolicy, send_retrying};
use super::{IdpError, IdpResult};

/// What a vendor's management token is asked for with.
#[derive(Debug)]
pub struct ManagementGrant<'a> {
    pub token_endpoint: &'a Url,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    /// How the secret is sent: the vendor may accept only the one the client is set to.
    pub auth_method: ClientAuthMethod,
    /// Said after a 401 (the IdP refused the client's authentication): where the vendor
    /// sets the client's method, so the admin can make the two agree.
    pub refusal_hint: &'a str,
    /// The vendor's extra form fields: `audience` (Auth0), `scope` (Curity's `dcr`,
    /// Entra's `{graph}/.default`).
    pub params: &'a [(&'a str, &'a str)],
    /// The IdP spends the token on one use (Curity's `dcr`): never cached.
    pub single_use: bool,
}

#[async_trait::async_trait]
pub trait ManagementTokens: Send + Sync + std::fmt::Debug {
    async fn token(&self, grant: &ManagementGrant<'_>) -> IdpResult<SecretString>;
}

/// A token is not reused in its last minute (or last tenth, for short-lived ones).
const MARGIN: Duration = Duration::from_secs(60);
const MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct DirectTokens {
    http: reqwest::Client,
    retry: RetryPolicy,
    /// Keyed by a hash of everything in the grant, the secret included, so a changed
    /// secret never reuses a token obtained with the old one.
    cache: Mutex<HashMap<[u8; 32], (SecretString, Instant)>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl DirectTokens {
    pub fn new(http: reqwest::Client, retry: RetryPolicy) -> Self {
        Self {
            http,
            retry,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn key(grant: &ManagementGrant<'_>) -> [u8; 32] {
        let mut hasher = blake3::Hasher::new();
        for part in [
            grant.token_endpoint.as_str(),
            grant.client_id,
            grant.client_secret.expose_secret(),
            grant.auth_method.as_str(),
        ] {
            hasher.update(part.as_bytes()).update(&[0]);
        }
        for (name, value) in grant.params {
            hasher
                .update(name.as_bytes())
                .update(&[1])
                .update(value.as_bytes())
                .update(&[0]);
        }
        *hasher.finalize().as_bytes()
    }
}

#[async_trait::async_trait]
impl ManagementTokens for DirectTokens {
    async fn token(&self, grant: &ManagementGrant<'_>) -> IdpResult<SecretString> {
        let key = Self::key(grant);
        if !grant.single_use
            && let Ok(cache) = self.cache.lock()
            && let Some((token, until)) = cache.get(&key)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let mut form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(grant.params);
        let post = grant.auth_method == ClientAuthMethod::ClientSecretPost;
        if post {
            form.push(("client_id", grant.client_id));
            form.push(("client_secret", grant.client_secret.expose_secret()));
        }
        let answer = send_retrying(
            || {
                let request = self
                    .http
                    .post(grant.token_endpoint.clone())
                    .header("accept", "application/json");
                // One method per request (RFC 6749 section 2.3): never Basic and body both.
                let request = if post {
                    request
                } else {
                    request.basic_auth(
                        form_encode_credential(grant.client_id),
                        Some(form_encode_credential(grant.client_secret.expose_secret())),
                    )
                };
                request.form(&form)
            },
            "management token",
            Repeat::Idempotent,
            self.retry,
        )
        .await?;
        if !answer.status.is_success() {
            let detail = describe_error(&answer);
            return Err(match answer.status.as_u16() {
                // RFC 6749 section 5.2: 401 is the client's authentication failing (Auth0
                // answers 401 `access_denied` to a wrong secret, and a secret sent by a
                // method the client is not set to fails the same way).
                401 => IdpError::Unauthorized(format!(
                    "the management client {} could not authenticate with {} (secret {}): \
                     {detail}{}",
                    grant.client_id,
                    grant.auth_method,
                    match grant.auth_method {
                        ClientAuthMethod::ClientSecretPost => "in the form body",
                        ClientAuthMethod::ClientSecretBasic => "as HTTP Basic",
                    },
                    if grant.refusal_hint.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", grant.refusal_hint)
                    }
                )),
                400..=403 => IdpError::Unauthorized(format!(
                    "the management client {} could not get a token: {detail}",
                    grant.client_id
                )),
                _ => IdpError::Ambiguous(format!("management token: {detail}")),
            });
        }
        let token: TokenAnswer = json(&answer, "management token")?;
        let lifetime = token.expires_in.map_or(Duration::ZERO, Duration::from_secs);
        let keep = lifetime
            .saturating_sub(MARGIN.min(lifetime / 10))
            .min(MAX_AGE);
        let secret = SecretString::from(token.access_token);
        if !grant.single_use
            && let Ok(mut cache) = self.cache.lock()
        {
            cache.retain(|_, (_, until)| Instant::now() < *until);
            cache.insert(key, (secret.clone(), Instant::now() + keep));
        }
        Ok(secret)
    }
}
