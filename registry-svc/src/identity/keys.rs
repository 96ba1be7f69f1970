//! The identity provider's signing keys: its discovery document names `jwks_uri`, the
//! JWKS is fetched from there and kept for five minutes; a token with an unknown `kid`
//! asks again at most every 30 s (a key rotation is picked up without letting garbage
//! tokens make dcr hammer the IdP). While the IdP cannot be reached, keys fetched in the
//! last six hours keep working; with none, people's calls fail closed (UNAVAILABLE).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dcr_common::capped::{self, MAX_IDP_RESPONSE_BYTES};
use dcr_common::jwt::{JwkKeys, VerifyKey};
use dcr_common::url_policy::{UrlPolicy, idp_url};
use serde::Deserialize;

const FRESH: Duration = Duration::from_secs(300);
const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const MAX_STALE: Duration = Duration::from_secs(6 * 3600);
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the token's signing key is not published by the identity provider")]
    UnknownKey,
    #[error("the identity provider's keys cannot be fetched: {0}")]
    Unavailable(String),
}

struct Fetched {
    keys: JwkKeys,
    at: Instant,
}

pub struct IdentityKeys {
    issuer: String,
    policy: UrlPolicy,
    http: reqwest::Client,
    cached: Mutex<Option<Arc<Fetched>>>,
    last_attempt: Mutex<Option<Instant>>,
    /// One fetch at a time: concurrent calls with a new key share its answer.
    gate: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for IdentityKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentityKeys")
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl IdentityKeys {
    pub fn new(issuer: String, policy: UrlPolicy) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            issuer,
            policy,
            http,
            cached: Mutex::new(None),
            last_attempt: Mutex::new(None),
            gate: tokio::sync::Mutex::new(()),
        }
    }

    fn cached(&self) -> Option<Arc<Fetched>> {
        self.cached.lock().ok().and_then(|c| c.clone())
    }

    /// The key for a token's `kid`.
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<VerifyKey>, KeyError> {
        let cached = self.cached();
        if let Some(fetched) = &cached {
            let found = fetched.keys.pick(kid);
            let fresh = fetched.at.elapsed() < FRESH;
            if let (Some(key), true) = (&found, fresh) {
                return Ok(key.clone());
            }
            let asked_lately = self
                .last_attempt
                .lock()
                .ok()
                .and_then(|a| *a)
                .is_some_and(|at| at.elapsed() < REFETCH_INTERVAL);
            if asked_lately {
                return found.ok_or(KeyError::UnknownKey);
            }
        }
        match self.refresh(cached.as_ref().map(|f| f.at)).await {
            Ok(fetched) => fetched.keys.pick(kid).ok_or(KeyError::UnknownKey),
            Err(error) => match cached {
                Some(fetched) if fetched.at.elapsed() < MAX_STALE => {
                    tracing::warn!(%error, "using the identity provider's keys fetched earlier");
                    fetched.keys.pick(kid).ok_or(KeyError::UnknownKey)
                }
                _ => Err(error),
            },
        }
    }

    async fn refresh(&self, seen: Option<Instant>) -> Result<Arc<Fetched>, KeyError> {
        let _turn = self.gate.lock().await;
        if let Some(fetched) = self.cached()
            && Some(fetched.at) != seen
        {
            return Ok(fetched); // fetched by someone else while we waited
        }
        if let Ok(mut last) = self.last_attempt.lock() {
            *last = Some(Instant::now());
        }
        let keys = self.fetch().await.inspect_err(|error| {
            tracing::warn!(issuer = %self.issuer, %error, "cannot fetch the identity provider's keys");
        })?;
        let fetched = Arc::new(Fetched {
            keys,
            at: Instant::now(),
        });
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(fetched.clone());
        }
        Ok(fetched)
    }

    async fn fetch(&self) -> Result<JwkKeys, KeyError> {
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = serde_json::from_slice(&self.get(&discovery_url).await?)
            .map_err(|e| {
                KeyError::Unavailable(format!("{discovery_url}: not a discovery document ({e})"))
            })?;
        if discovery.issuer != self.issuer {
            return Err(KeyError::Unavailable(format!(
                "{discovery_url} names the issuer {:?}, not {:?}",
                discovery.issuer, self.issuer
            )));
        }
        let jwks_uri = idp_url(&discovery.jwks_uri, self.policy)
            .map_err(|e| KeyError::Unavailable(format!("its jwks_uri {e}")))?;
        let body = self.get(jwks_uri.as_str()).await?;
        let text = String::from_utf8_lossy(&body);
        JwkKeys::parse(&text)
            .ok_or_else(|| KeyError::Unavailable(format!("{jwks_uri}: not a JWKS document")))
    }

    async fn get(&self, url: &str) -> Result<bytes::Bytes, KeyError> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| KeyError::Unavailable(format!("{url}: {e}")))?;
        if !response.status().is_success() {
            return Err(KeyError::Unavailable(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        capped::read(response, MAX_IDP_RESPONSE_BYTES)
            .await
            .map_err(|e| KeyError::Unavailable(format!("{url}: {e}")))
    }
}
