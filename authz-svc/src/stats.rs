//! Cache and decision counters. Logged every minute (entries per cache included) until
//! the Prometheus endpoint exists; tests read them to prove what was served from cache.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stats {
    /// Bearer tokens found verified in the cache / verified (or introspected) anew.
    pub verified_hits: AtomicU64,
    pub verified_misses: AtomicU64,
    /// Of the misses, opaque tokens sent to introspection.
    pub introspections: AtomicU64,
    /// Basic credentials answered from the cache / exchanged through token-svc.
    pub basic_hits: AtomicU64,
    pub basic_misses: AtomicU64,
    pub allowed: AtomicU64,
    pub denied: AtomicU64,
}

impl Stats {
    pub fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
