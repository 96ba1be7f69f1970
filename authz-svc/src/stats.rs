//! Cache and decision counters: exported to Prometheus (`dcr_authz_cache_lookups_total`,
//! `dcr_authz_introspections_total`, `dcr_authz_decisions_total`), logged every minute
//! with the cache sizes, and read by tests to prove what was served from cache.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::decision::Decision;

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

    /// A lookup in the verified-token (`verified`) or Basic (`basic`) cache.
    pub fn lookup(&self, cache: &'static str, hit: bool) {
        Self::count(match (cache, hit) {
            ("basic", true) => &self.basic_hits,
            ("basic", false) => &self.basic_misses,
            (_, true) => &self.verified_hits,
            (_, false) => &self.verified_misses,
        });
        let result = if hit { "hit" } else { "miss" };
        dcr_common::metrics::count(
            "dcr_authz_cache_lookups_total",
            &[("cache", cache), ("result", result)],
        );
    }

    pub fn introspected(&self) {
        Self::count(&self.introspections);
        metrics::counter!("dcr_authz_introspections_total").increment(1);
    }

    pub fn decided(&self, decision: &Decision) {
        let allow = decision.is_allow();
        Self::count(if allow { &self.allowed } else { &self.denied });
        let label = if allow { "allow" } else { "deny" };
        dcr_common::metrics::count(
            "dcr_authz_decisions_total",
            &[("decision", label), ("reason", decision.reason())],
        );
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}
