//! Management API tokens for the vendor adapters, behind one small trait. The default
//! gets them here by client credentials and caches them until shortly before they
//! expire; a deployment could supply them from token-svc's GetManagementToken instead.
//! Tokens and secrets are never logged.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use dcr_common::oauth::{ClientAuthMethod, form_encode_credential};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

use super::client_assertion::{ASSERTION_TYPE, AssertionKey};
use super::http::{Answer, describe_error, json};
use super::retry::{Repeat, RetryPolicy, send_retrying};
use super::{IdpError, IdpResult};

/// How the management client proves who it is at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// Its secret, sent as `method` says (RFC 6749 section 2.3.1); the vendor may accept
    /// only the one the client is set to.
    Secret {
        secret: &'a SecretString,
        method: ClientAuthMethod,
    },
    /// A client assertion signed with its private key (PEM), `private_key_jwt` (RFC 7523
    /// section 2.2): Okta's service apps. `key_id` goes in the assertion's `kid`.
    PrivateKeyJwt {
        private_key: &'a SecretString,
        key_id: Option<&'a str>,
    },
}

/// What a vendor's management token is asked for with.
#[derive(Debug)]
pub struct ManagementGrant<'a> {
    pub token_endpoint: &'a Url,
    pub client_id: &'a str,
    /// What the vendor calls the client, for messages: "management client", "service app".
    pub client_noun: &'a str,
    pub auth: ClientAuth<'a>,
    /// Said after a 401 (the IdP refused the client's authentication): where the vendor
    /// sets the client's method or keys, so the admin can make the two agree.
    pub refusal_hint: &'a str,
    /// Said after an error answer whose OAuth `error` (RFC 6749 section 5.2) is the
    /// first of a pair: what to change at the vendor, and where.
    pub error_hints: &'a [(&'a str, &'a str)],
    /// The vendor's extra form fields: `audience` (Auth0), `scope` (Curity's `dcr`,
    /// Entra's `{graph}/.default`, Okta's `okta.*` scopes).
    pub params: &'a [(&'a str, &'a str)],
    /// The IdP spends the token on one use (Curity's `dcr`): never cached.
    pub single_use: bool,
}

impl ManagementGrant<'_> {
    /// How the client authenticated, for messages: "client_secret_post (secret in the
    /// form body)", "private_key_jwt (a client assertion signed RS256 with kid k1)".
    fn used(&self, alg: &str) -> String {
        match self.auth {
            ClientAuth::Secret { method, .. } => format!(
                "{method} (secret {})",
                match method {
                    ClientAuthMethod::ClientSecretPost => "in the form body",
                    ClientAuthMethod::ClientSecretBasic => "as HTTP Basic",
                }
            ),
            ClientAuth::PrivateKeyJwt { key_id, .. } => format!(
                "private_key_jwt (a client assertion signed {alg} by management_private_key, {})",
                key_id.map_or_else(|| "without a kid".to_owned(), |k| format!("kid {k}"))
            ),
        }
    }

    /// The vendor's hint for the OAuth `error` of an answer, if it gave one.
    fn hint_for(&self, answer: &Answer) -> Option<&str> {
        let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let code = body.get("error")?.as_str()?;
        self.error_hints
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, hint)| *hint)
    }
}

#[async_trait::async_trait]
pub trait ManagementTokens: Send + Sync + std::fmt::Debug {
    async fn token(&self, grant: &ManagementGrant<'_>) -> IdpResult<SecretString>;
    /// Drops a cached token for the grant (a management API refused it), so the next
    /// call asks for a new one: one that carries scopes granted since, say.
    fn forget(&self, _grant: &ManagementGrant<'_>) {}
}

/// A token is not reused in its last minute (or last tenth, for short-lived ones).
const MARGIN: Duration = Duration::from_secs(60);
const MAX_AGE: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub struct DirectTokens {
    http: reqwest::Client,
    retry: RetryPolicy,
    /// Keyed by a hash of everything in the grant, the secret or private key included,
    /// so a changed credential never reuses a token obtained with the old one.
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
        let (kind, credential, detail) = match grant.auth {
            ClientAuth::Secret { secret, method } => {
                ("secret", secret.expose_secret(), method.as_str())
            }
            ClientAuth::PrivateKeyJwt {
                private_key,
                key_id,
            } => (
                "private_key_jwt",
                private_key.expose_secret(),
                key_id.unwrap_or_default(),
            ),
        };
        for part in [
            grant.token_endpoint.as_str(),
            grant.client_id,
            kind,
            credential,
            detail,
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

    fn cached(&self, key: &[u8; 32]) -> Option<SecretString> {
        let cache = self.cache.lock().ok()?;
        let (token, until) = cache.get(key)?;
        (Instant::now() < *until).then(|| token.clone())
    }

    /// The key that signs the grant's client assertions, if it authenticates so.
    fn assertion_key(grant: &ManagementGrant<'_>) -> IdpResult<Option<AssertionKey>> {
        match grant.auth {
            ClientAuth::PrivateKeyJwt { private_key, .. } => {
                AssertionKey::parse(private_key.expose_secret())
                    .map(Some)
                    .map_err(|e| IdpError::Rejected(format!("management_private_key {e}")))
            }
            ClientAuth::Secret { .. } => Ok(None),
        }
    }

    /// The token request, sent (and repeated) as the retry policy allows. Each attempt
    /// carries a new client assertion (a `jti` is good for one request).
    async fn request(
        &self,
        grant: &ManagementGrant<'_>,
        key: Option<&AssertionKey>,
    ) -> IdpResult<Answer> {
        let assertion = || -> IdpResult<String> {
            let (Some(key), ClientAuth::PrivateKeyJwt { key_id, .. }) = (key, grant.auth) else {
                return Ok(String::new());
            };
            key.sign(
                grant.client_id,
                grant.token_endpoint.as_str(),
                key_id,
                Utc::now(),
            )
            .map_err(|_| IdpError::Rejected("management_private_key cannot sign".into()))
        };
        // Signed here so a key that cannot sign fails before anything is sent; a retry
        // signs a new one.
        let first = Mutex::new(Some(assertion()?));
        send_retrying(
            || {
                let mut form: Vec<(&str, String)> =
                    vec![("grant_type", "client_credentials".into())];
                form.extend(grant.params.iter().map(|(k, v)| (*k, (*v).to_owned())));
                let request = self
                    .http
                    .post(grant.token_endpoint.clone())
                    .header("accept", "application/json");
                // One method per request (RFC 6749 section 2.3): never Basic and body both.
                let request = match grant.auth {
                    ClientAuth::Secret {
                        secret,
                        method: ClientAuthMethod::ClientSecretPost,
                    } => {
                        form.push(("client_id", grant.client_id.into()));
                        form.push(("client_secret", secret.expose_secret().into()));
                        request
                    }
                    ClientAuth::Secret { secret, .. } => request.basic_auth(
                        form_encode_credential(grant.client_id),
                        Some(form_encode_credential(secret.expose_secret())),
                    ),
                    ClientAuth::PrivateKeyJwt { .. } => {
                        form.push(("client_assertion_type", ASSERTION_TYPE.into()));
                        let signed = first
                            .lock()
                            .ok()
                            .and_then(|mut first| first.take())
                            .or_else(|| assertion().ok());
                        form.push(("client_assertion", signed.unwrap_or_default()));
                        request
                    }
                };
                request.form(&form)
            },
            "management token",
            Repeat::Idempotent,
            self.retry,
        )
        .await
    }

    /// The error for a token endpoint's refusal: what was used, what the IdP said, and
    /// what to check.
    fn refused(grant: &ManagementGrant<'_>, answer: &Answer, alg: &str) -> IdpError {
        let detail = describe_error(answer);
        let hint = match (grant.hint_for(answer), answer.status.as_u16()) {
            (Some(hint), _) => format!("; {hint}"),
            (None, 401) if !grant.refusal_hint.is_empty() => format!("; {}", grant.refusal_hint),
            _ => String::new(),
        };
        let used = grant.used(alg);
        match answer.status.as_u16() {
            // RFC 6749 section 5.2: 401 is the client's authentication failing (Auth0
            // answers 401 `access_denied` to a wrong secret, and a secret sent by a
            // method the client is not set to fails the same way; Okta answers 401
            // `invalid_client` to an assertion it cannot verify).
            401 => IdpError::Unauthorized(format!(
                "the {} {} could not authenticate with {used} at {}: {detail}{hint}",
                grant.client_noun, grant.client_id, grant.token_endpoint
            )),
            400..=403 => IdpError::Unauthorized(format!(
                "the {} {} could not get a token at {} (client authentication: {used}): \
                 {detail}{hint}",
                grant.client_noun, grant.client_id, grant.token_endpoint
            )),
            _ => IdpError::Ambiguous(format!("management token: {detail}")),
        }
    }
}

#[async_trait::async_trait]
impl ManagementTokens for DirectTokens {
    async fn token(&self, grant: &ManagementGrant<'_>) -> IdpResult<SecretString> {
        let key = Self::key(grant);
        if !grant.single_use
            && let Some(token) = self.cached(&key)
        {
            return Ok(token);
        }
        let signer = Self::assertion_key(grant)?;
        let answer = self.request(grant, signer.as_ref()).await?;
        if !answer.status.is_success() {
            let alg = signer.as_ref().map_or("", AssertionKey::alg_name);
            return Err(Self::refused(grant, &answer, alg));
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

    fn forget(&self, grant: &ManagementGrant<'_>) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(&Self::key(grant));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Every part of a grant is in its cache key: a changed key, kid, client, endpoint,
    /// scope or method never reuses a token obtained with the old one.
    #[test]
    fn the_cache_key_holds_the_whole_grant() {
        let endpoint = Url::parse("https://org.example.com/oauth2/v1/token").unwrap();
        let other_endpoint = Url::parse("https://org.example.com/oauth2/v2/token").unwrap();
        let (key, other_key) = (SecretString::from("pem-1"), SecretString::from("pem-2"));
        let grant = |endpoint, client_id, auth, params| ManagementGrant {
            token_endpoint: endpoint,
            client_id,
            client_noun: "service app",
            auth,
            refusal_hint: "",
            error_hints: &[],
            params,
            single_use: false,
        };
        let pkjwt = |private_key, key_id| ClientAuth::PrivateKeyJwt {
            private_key,
            key_id,
        };
        let scope: &[(&str, &str)] = &[("scope", "okta.clients.read")];
        let keys = [
            grant(&endpoint, "0oa1", pkjwt(&key, Some("k1")), scope),
            grant(&endpoint, "0oa1", pkjwt(&other_key, Some("k1")), scope),
            grant(&endpoint, "0oa1", pkjwt(&key, Some("k2")), scope),
            grant(&endpoint, "0oa1", pkjwt(&key, None), scope),
            grant(&endpoint, "0oa2", pkjwt(&key, Some("k1")), scope),
            grant(&other_endpoint, "0oa1", pkjwt(&key, Some("k1")), scope),
            grant(&endpoint, "0oa1", pkjwt(&key, Some("k1")), &[]),
            grant(
                &endpoint,
                "0oa1",
                ClientAuth::Secret {
                    secret: &key,
                    method: ClientAuthMethod::ClientSecretBasic,
                },
                scope,
            ),
        ]
        .map(|g| DirectTokens::key(&g));
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(distinct.len(), keys.len());
        let again = grant(&endpoint, "0oa1", pkjwt(&key, Some("k1")), scope);
        assert_eq!(DirectTokens::key(&again), keys[0]);
    }
}
