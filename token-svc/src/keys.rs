//! Issuer signing keys (JWKS): discovered, cached for the IdP's Cache-Control max-age
//! (clamped to 1 minute .. 1 day, 5 minutes without one), refreshed in the background
//! when 80% of that is used up, fetched again for an unknown `kid` at most once per
//! REFETCH_INTERVAL, and served stale for at most `max_stale` while the IdP is down.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};
use dcr_common::clock::SharedClock;

use serde::Deserialize;

use crate::discovery::{Discovery, read_body, transport};
use crate::errors::TokenError;

const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);
const MIN_MAX_AGE: Duration = Duration::from_secs(60);
const MAX_MAX_AGE: Duration = Duration::from_secs(86_400);
/// An unknown kid triggers at most one fetch per this interval per issuer.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
const MAX_JWKS_BYTES: usize = 256 * 1024;

#[derive(Debug)]
pub struct KeySet {
    pub jwks_json: Arc<str>,
    kids: HashSet<String>,
    fetched: DateTime<Utc>,
    max_age: Duration,
}

impl KeySet {
    pub fn fetch_time(&self) -> SystemTime {
        self.fetched.into()
    }

    pub fn expire_time(&self) -> SystemTime {
        self.fetch_time() + self.max_age
    }

    fn age(&self, now: DateTime<Utc>) -> Duration {
        (now - self.fetched).to_std().unwrap_or_default()
    }
}

#[derive(Debug)]
pub struct Keys {
    pub set: Arc<KeySet>,
    pub stale: bool,
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Clone, Debug)]
pub struct KeyCache {
    http: reqwest::Client,
    discovery: Discovery,
    sets: Arc<Mutex<HashMap<String, Arc<KeySet>>>>,
    /// One fetch at a time per issuer; the rest wait for its result.
    fetching: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    max_stale: Duration,
    clock: SharedClock,
}

fn max_age_of(headers: &reqwest::header::HeaderMap) -> Duration {
    headers
        .get_all(reqwest::header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|d| {
            d.trim()
                .strip_prefix("max-age=")
                .and_then(|s| s.parse::<u64>().ok())
        })
        .map(Duration::from_secs)
        .next()
        .unwrap_or(DEFAULT_MAX_AGE)
        .clamp(MIN_MAX_AGE, MAX_MAX_AGE)
}

impl KeyCache {
    pub fn new(
        http: reqwest::Client,
        discovery: Discovery,
        max_stale: Duration,
        clock: SharedClock,
    ) -> Self {
        Self {
            http,
            discovery,
            sets: Arc::default(),
            fetching: Arc::default(),
            max_stale,
            clock,
        }
    }

    fn cached(&self, issuer: &str) -> Option<Arc<KeySet>> {
        self.sets.lock().ok().and_then(|s| s.get(issuer).cloned())
    }

    /// The issuer's keys. `kid`, when given and unknown, asks for a fetch (rate limited).
    pub async fn get(&self, issuer: &str, kid: Option<&str>) -> Result<Keys, TokenError> {
        if let Some(set) = self.cached(issuer) {
            let age = set.age(self.clock.now());
            let knows_kid = kid.is_none_or(|k| set.kids.contains(k));
            let may_refetch = age >= REFETCH_INTERVAL;
            if age < set.max_age && (knows_kid || !may_refetch) {
                if age > set.max_age.mul_f32(0.8) {
                    let this = self.clone();
                    let issuer = issuer.to_owned();
                    tokio::spawn(async move {
                        if let Err(error) = this.refresh(&issuer, None).await {
                            tracing::warn!(%issuer, %error, "background key refresh failed");
                        }
                    });
                }
                return Ok(Keys { set, stale: false });
            }
        }
        self.refresh(issuer, kid).await
    }

    async fn refresh(&self, issuer: &str, kid: Option<&str>) -> Result<Keys, TokenError> {
        let gate = {
            let mut fetching = self
                .fetching
                .lock()
                .map_err(|_| TokenError::Internal(anyhow::anyhow!("poisoned")))?;
            fetching.entry(issuer.to_owned()).or_default().clone()
        };
        let before = self.cached(issuer).map(|s| s.fetched);
        let _turn = gate.lock().await;
        // Someone else fetched while we waited: use theirs.
        if let Some(set) = self.cached(issuer)
            && Some(set.fetched) != before
            && set.age(self.clock.now()) < set.max_age
        {
            return Ok(Keys { set, stale: false });
        }
        match self.fetch(issuer).await {
            Ok(set) => {
                let set = Arc::new(set);
                if let Ok(mut sets) = self.sets.lock() {
                    sets.insert(issuer.to_owned(), set.clone());
                }
                if let Some(kid) = kid.filter(|k| !set.kids.contains(*k)) {
                    tracing::info!(%issuer, %kid, "the issuer does not publish this key id");
                }
                Ok(Keys { set, stale: false })
            }
            Err(error) => match self.cached(issuer) {
                Some(set) if set.age(self.clock.now()) < self.max_stale => {
                    tracing::warn!(%issuer, %error, "serving cached keys while the issuer is unreachable");
                    Ok(Keys { set, stale: true })
                }
                _ => Err(error),
            },
        }
    }

    async fn fetch(&self, issuer: &str) -> Result<KeySet, TokenError> {
        let metadata = self.discovery.metadata(issuer).await?;
        let uri = metadata
            .jwks_uri
            .clone()
            .ok_or_else(|| TokenError::Unavailable(format!("{issuer} advertises no jwks_uri")))?;
        let response = self.http.get(uri).send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(TokenError::Unavailable(format!(
                "{issuer}: JWKS answered HTTP {}",
                response.status().as_u16()
            )));
        }
        let max_age = max_age_of(response.headers());
        let body = read_body(response, MAX_JWKS_BYTES)
            .await
            .map_err(|e| TokenError::Unavailable(format!("{issuer}: JWKS: {e}")))?;
        let jwks: Jwks = serde_json::from_slice(&body)
            .map_err(|_| TokenError::Unavailable(format!("{issuer}: unreadable JWKS")))?;
        let kids = jwks
            .keys
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_owned))
            .collect();
        let text = String::from_utf8(body.to_vec())
            .map_err(|_| TokenError::Unavailable(format!("{issuer}: JWKS not UTF-8")))?;
        Ok(KeySet {
            jwks_json: Arc::from(text),
            kids,
            fetched: self.clock.now(),
            max_age,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn max_age_follows_cache_control_within_bounds() {
        let mut headers = reqwest::header::HeaderMap::new();
        assert_eq!(max_age_of(&headers), DEFAULT_MAX_AGE);
        headers.insert("cache-control", "public, max-age=600".parse().unwrap());
        assert_eq!(max_age_of(&headers), Duration::from_secs(600));
        headers.insert("cache-control", "max-age=5".parse().unwrap());
        assert_eq!(max_age_of(&headers), MIN_MAX_AGE);
        headers.insert("cache-control", "max-age=99999999".parse().unwrap());
        assert_eq!(max_age_of(&headers), MAX_MAX_AGE);
    }
}
