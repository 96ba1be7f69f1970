//! Rate limits on what anonymous callers can make dcr do (an IdP call, a registry
//! lookup): a GCRA limiter per key (client id, source address, provider), from the
//! `governor` crate. A refusal says how long to wait. Keys that went quiet are dropped
//! once a minute, so random keys cannot grow memory for long.

use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::{self, ConfigError};

/// How many calls per second a key may make, with bursts of twice that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: NonZeroU32,
}

impl Rate {
    /// From `var` (a whole number of calls per second), else `default`.
    pub fn from_env(var: &'static str, default: u32) -> Result<Self, ConfigError> {
        let raw = config::optional(var).unwrap_or_else(|| default.to_string());
        raw.parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .map(|per_second| Self { per_second })
            .ok_or_else(|| {
                ConfigError::new(
                    var,
                    format!("{raw:?} is not a positive whole number of calls per second"),
                )
            })
    }

    pub fn per_second(n: u32) -> Self {
        Self {
            per_second: NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// A limiter per key.
pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: Arc<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone> Clone for KeyedLimit<K> {
    fn clone(&self) -> Self {
        Self {
            limiter: self.limiter.clone(),
        }
    }
}

impl<K: Hash + Eq + Clone> std::fmt::Debug for KeyedLimit<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyedLimit")
            .field("keys", &self.limiter.len())
            .finish()
    }
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> KeyedLimit<K> {
    pub fn new(rate: Rate) -> Self {
        let burst = rate
            .per_second
            .saturating_mul(NonZeroU32::MIN.saturating_add(1));
        let limiter = Arc::new(DefaultKeyedRateLimiter::keyed(
            Quota::per_second(rate.per_second).allow_burst(burst),
        ));
        // Forget keys that have been quiet long enough to be back at a full burst.
        let weak = Arc::downgrade(&limiter);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let mut ticker = tokio::time::interval(Duration::from_secs(60));
                loop {
                    ticker.tick().await;
                    let Some(limiter) = weak.upgrade() else {
                        return;
                    };
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            });
        }
        Self { limiter }
    }

    /// Ok, or how long until `key` may try again.
    pub fn check(&self, key: &K) -> Result<(), Duration> {
        self.limiter
            .check_key(key)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
    }
}
