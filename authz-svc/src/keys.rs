//! Issuer keys for JWT verification, fetched through token-svc's GetIssuerKeys and kept
//! per issuer (`dcr_common::jwt` says which algorithms each key may verify). When token-svc is down, cached keys keep working for at
//! most `max_stale` (invariant 4); an unknown `kid` asks again at most every 30 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dcr_common::clock::SharedClock;
use dcr_common::jwt::{JwkKeys, VerifyKey};
use dcr_proto::token::v1 as pb;

use crate::tokens::TokenClient;

const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// After a failed fetch, an issuer's keys are not asked for again for this long: Checks
/// with its tokens fail closed at once instead of each waiting on a dead peer.
const FAILED_FETCH_BACKOFF: Duration = Duration::from_secs(5);
const DEFAULT_FRESH: Duration = Duration::from_secs(300);

struct IssuerKeys {
    keys: JwkKeys,
    fetched: DateTime<Utc>,
    fresh_until: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the token's signing key is not published by its issuer")]
    UnknownKey,
    #[error("the issuer's keys cannot be fetched right now")]
    Unavailable,
}

fn parse(jwks_json: &str, now: DateTime<Utc>, fresh_until: DateTime<Utc>) -> Option<IssuerKeys> {
    Some(IssuerKeys {
        keys: JwkKeys::parse(jwks_json)?,
        fetched: now,
        fresh_until,
    })
}

#[derive(Clone)]
pub struct KeyRing {
    tokens: TokenClient,
    clock: SharedClock,
    max_stale: Duration,
    issuers: Arc<Mutex<HashMap<String, Arc<IssuerKeys>>>>,
    /// When each issuer's keys were last asked for (the unknown-kid rate limit).
    attempts: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
    /// When each issuer's last fetch failed (FAILED_FETCH_BACKOFF).
    failures: Arc<Mutex<HashMap<String, DateTime<Utc>>>>,
    /// One fetch at a time per issuer (concurrent Checks share its answer); issuers do
    /// not wait for each other, so a hung issuer stalls only its own tokens.
    fetch_gates: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl KeyRing {
    pub fn new(tokens: TokenClient, clock: SharedClock, max_stale: Duration) -> Self {
        Self {
            tokens,
            clock,
            max_stale,
            issuers: Arc::default(),
            attempts: Arc::default(),
            failures: Arc::default(),
            fetch_gates: Arc::default(),
        }
    }

    fn gate(&self, issuer: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.fetch_gates.lock() {
            Ok(mut gates) => gates.entry(issuer.to_owned()).or_default().clone(),
            // A poisoned map: a gate of its own still bounds this call.
            Err(_) => Arc::default(),
        }
    }

    /// Whether `issuer`'s last fetch failed within FAILED_FETCH_BACKOFF of `now`.
    fn backing_off(&self, issuer: &str, now: DateTime<Utc>) -> bool {
        let backoff = chrono::Duration::from_std(FAILED_FETCH_BACKOFF).unwrap_or_default();
        self.failures
            .lock()
            .ok()
            .and_then(|f| f.get(issuer).copied())
            .is_some_and(|failed| now - failed < backoff)
    }

    fn cached(&self, issuer: &str) -> Option<Arc<IssuerKeys>> {
        self.issuers
            .lock()
            .ok()
            .and_then(|m| m.get(issuer).cloned())
    }

    fn pick(keys: &IssuerKeys, kid: Option<&str>) -> Option<Arc<VerifyKey>> {
        keys.keys.pick(kid)
    }

    /// The key for a token of `issuer` with `kid`.
    pub async fn key(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<VerifyKey>, KeyError> {
        let now = self.clock.now();
        let stale_limit =
            chrono::Duration::from_std(self.max_stale).unwrap_or(chrono::Duration::hours(6));
        if let Some(keys) = self.cached(issuer) {
            let found = Self::pick(&keys, kid);
            if now < keys.fresh_until {
                if let Some(key) = found {
                    return Ok(key);
                }
                let last = self
                    .attempts
                    .lock()
                    .ok()
                    .and_then(|a| a.get(issuer).copied())
                    .unwrap_or(keys.fetched);
                if now - last < chrono::Duration::from_std(REFETCH_INTERVAL).unwrap_or_default() {
                    return Err(KeyError::UnknownKey);
                }
            }
            match self.refresh(issuer, kid).await {
                Ok(key) => return Ok(key),
                Err(KeyError::Unavailable) if now - keys.fetched < stale_limit => {
                    // token-svc (or the IdP) is down: keep validating with what we have.
                    return found.ok_or(KeyError::UnknownKey);
                }
                Err(error) => return Err(error),
            }
        }
        self.refresh(issuer, kid).await
    }

    async fn refresh(&self, issuer: &str, kid: Option<&str>) -> Result<Arc<VerifyKey>, KeyError> {
        if self.backing_off(issuer, self.clock.now()) {
            return Err(KeyError::Unavailable);
        }
        let before = self.cached(issuer).map(|k| k.fetched);
        let gate = self.gate(issuer);
        let _turn = gate.lock().await;
        if let Some(keys) = self.cached(issuer)
            && Some(keys.fetched) != before
            && let Some(key) = Self::pick(&keys, kid)
        {
            return Ok(key); // fetched by someone else while we waited
        }
        let now = self.clock.now();
        // Someone else's fetch failed while we waited: share its answer.
        if self.backing_off(issuer, now) {
            return Err(KeyError::Unavailable);
        }
        if let Ok(mut attempts) = self.attempts.lock() {
            attempts.insert(issuer.to_owned(), now);
        }
        let request = pb::GetIssuerKeysRequest {
            issuer: issuer.to_owned(),
            kid: kid.unwrap_or_default().to_owned(),
        };
        let response = self.tokens.issuer_keys(request).await.map_err(|status| {
            tracing::warn!(%issuer, code = ?status.code(), "cannot fetch issuer keys");
            if let Ok(mut failures) = self.failures.lock() {
                failures.insert(issuer.to_owned(), now);
            }
            KeyError::Unavailable
        })?;
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(issuer);
        }
        let fresh_until = response
            .expire_time
            .and_then(|t| DateTime::from_timestamp(t.seconds, 0))
            .filter(|t| *t > now)
            .unwrap_or(now + chrono::Duration::from_std(DEFAULT_FRESH).unwrap_or_default());
        let keys = parse(&response.jwks_json, now, fresh_until).ok_or(KeyError::Unavailable)?;
        let key = Self::pick(&keys, kid);
        if let Ok(mut issuers) = self.issuers.lock() {
            issuers.insert(issuer.to_owned(), Arc::new(keys));
        }
        key.ok_or(KeyError::UnknownKey)
    }
}
