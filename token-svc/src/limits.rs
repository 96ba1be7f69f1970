//! What an anonymous caller can make token-svc do. Only requests that would reach the
//! registry or the IdP count (a cached token costs nothing): at most so many per second
//! per client id and per source address, and a refused secret is refused again from
//! memory for a while (keyed hash, never the secret). A secret the IdP accepted before is
//! not held back by its client's limit, so a flood of wrong secrets for a client id does
//! not lock its real owner out.

use std::net::IpAddr;
use std::time::Duration;

use dcr_common::config::ConfigError;
use dcr_common::rate_limit::{KeyedLimit, Rate};
use moka::future::Cache;

use crate::errors::TokenError;

/// A client id, a keyed hash of a secret, and the client's generation (a change to the
/// client, such as its creation or a new secret, makes every earlier answer moot).
pub type Attempt = (String, [u8; 32], u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitConfig {
    /// DCR_TOKEN_RATE_PER_CLIENT (default 10 per second, bursts of 20).
    pub per_client: Rate,
    /// DCR_TOKEN_RATE_PER_SOURCE (default 50 per second, bursts of 100).
    pub per_source: Rate,
    /// DCR_TOKEN_REFUSED_TTL_SECONDS: how long a refused secret is refused from memory
    /// (default 30).
    pub refused_ttl: Duration,
}

impl LimitConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            per_client: Rate::from_env("DCR_TOKEN_RATE_PER_CLIENT", 10)?,
            per_source: Rate::from_env("DCR_TOKEN_RATE_PER_SOURCE", 50)?,
            refused_ttl: dcr_common::config::seconds("DCR_TOKEN_REFUSED_TTL_SECONDS", 30)?,
        })
    }
}

impl Default for LimitConfig {
    fn default() -> Self {
        Self {
            per_client: Rate::per_second(10),
            per_source: Rate::per_second(50),
            refused_ttl: Duration::from_secs(30),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Limits {
    per_client: KeyedLimit<String>,
    per_source: KeyedLimit<IpAddr>,
    refused: Cache<Attempt, ()>,
    accepted: Cache<Attempt, ()>,
}

impl Limits {
    pub fn new(config: LimitConfig) -> Self {
        Self {
            per_client: KeyedLimit::new(config.per_client),
            per_source: KeyedLimit::new(config.per_source),
            refused: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.refused_ttl)
                .build(),
            accepted: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(24 * 3600))
                .build(),
        }
    }

    /// A secret refused lately is refused again, from memory.
    pub async fn refused_lately(&self, attempt: &Attempt) -> Result<(), TokenError> {
        if self.refused.contains_key(attempt) {
            metrics::counter!("dcr_token_refused_from_memory_total").increment(1);
            return Err(TokenError::InvalidClient);
        }
        Ok(())
    }

    /// Before a request goes to the registry or the IdP: the source's and (for a secret
    /// not seen accepted) the client's rates apply.
    pub fn admit(&self, attempt: &Attempt, source: Option<IpAddr>) -> Result<(), TokenError> {
        if let Some(source) = source {
            self.per_source
                .check(&source)
                .map_err(|wait| limited("source", wait))?;
        }
        if !self.accepted.contains_key(attempt) {
            self.per_client
                .check(&attempt.0)
                .map_err(|wait| limited("client", wait))?;
        }
        Ok(())
    }

    /// What the registry or the IdP said of an attempt.
    pub async fn record(&self, attempt: Attempt, outcome: &Result<(), &TokenError>) {
        match outcome {
            Ok(()) => self.accepted.insert(attempt, ()).await,
            Err(TokenError::InvalidClient) => self.refused.insert(attempt, ()).await,
            Err(_) => {}
        }
    }
}

fn limited(by: &'static str, wait: Duration) -> TokenError {
    metrics::counter!("dcr_token_rate_limited_total", "by" => by).increment(1);
    TokenError::RateLimited {
        retry_after: wait.max(Duration::from_secs(1)),
    }
}
