//! Bearer tokens: verified claims from the cache, or by one signature check (a JWT) or one
//! introspection (an opaque token); then judged for this product: lifetime, audience, and
//! the client the strategy's claims name.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dcr_common::directory::ProductEntry;
use moka::Expiry;
use moka::future::Cache;

use super::token_key::{KeyIsHash, TokenKey};
use super::{Caller, Checker};
use crate::decision::{CredentialType, Denial, DenyReason, challenge};
use crate::introspection::{introspect, is_jwt};
use crate::verify::{Rejected, Verified, verify};

/// No verified token is kept longer than this, whatever its `exp`.
const MAX_CACHED: Duration = Duration::from_secs(3600);

pub(super) struct SeenToken {
    verified: Verified,
    /// For token-svc's issue records (`IssueRecords`): computed once, on first sight,
    /// beside the signature check or introspection that costs far more.
    digest: [u8; 32],
    first_seen: DateTime<Utc>,
    cache_until: Instant,
}

struct UntilExpiry;

impl<K> Expiry<K, Arc<SeenToken>> for UntilExpiry {
    fn expire_after_create(&self, _: &K, value: &Arc<SeenToken>, now: Instant) -> Option<Duration> {
        Some(value.cache_until.saturating_duration_since(now))
    }
}

/// Verified tokens, each until it expires.
pub(super) fn cache() -> Cache<TokenKey, Arc<SeenToken>, KeyIsHash> {
    Cache::builder()
        .max_capacity(1_000_000)
        .expire_after(UntilExpiry)
        .build_with_hasher(KeyIsHash::default())
}

impl Checker {
    /// The caller a bearer token (or the token exchanged for Basic credentials) proves.
    pub(super) async fn bearer(
        &self,
        source: &str,
        token: &str,
        product: &ProductEntry,
        credential: CredentialType,
    ) -> Result<Caller, Denial> {
        let challenge = challenge(product.strategy.methods);
        let invalid = |why: &'static str| Denial::new(DenyReason::InvalidToken, why, challenge);
        let seen = self.seen(source, token, product, challenge).await?;
        let verified = &seen.verified;
        let now = self.clock.now();
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(0);
        if verified.expires + leeway <= now.timestamp() {
            return Err(invalid("the token has expired"));
        }
        if let Some(audience) = &product.audience
            && !verified.audiences.iter().any(|a| a == audience)
        {
            return Err(invalid("the token is not for this audience"));
        }
        let client_id = verified
            .client_id(&product.strategy.credential_claims)
            .ok_or_else(|| invalid("the token names no client"))?;
        verified
            .issued_to(&client_id, product.audience.is_some())
            .map_err(invalid)?;
        Ok(Caller {
            client_id,
            scopes: verified.scopes.clone(),
            credential,
            issued: verified.issued,
            first_seen: seen.first_seen,
            session_application: None,
            expires: verified.expires,
            token_digest: Some(seen.digest),
        })
    }

    /// The token's verified claims: cached, or checked now (and cached until `exp`).
    async fn seen(
        &self,
        source: &str,
        token: &str,
        product: &ProductEntry,
        challenge: &'static str,
    ) -> Result<Arc<SeenToken>, Denial> {
        let key = self.token_keyer.key(&product.issuer, token);
        if let Some(seen) = self.verified.get(&key).await {
            self.stats.lookup("verified", true);
            return Ok(seen);
        }
        self.stats.lookup("verified", false);
        let invalid = |why: &'static str| Denial::new(DenyReason::InvalidToken, why, challenge);
        if let Some(why) = self.rejected.get(&key).await {
            return Err(invalid(why));
        }
        let now = self.clock.now();
        let verified = if is_jwt(token) {
            verify(token, &product.issuer, &self.keys, now, self.leeway).await
        } else {
            self.admit_introspection(source, &product.provider_id, challenge)?;
            self.stats.introspected();
            introspect(
                &self.tokens,
                &product.provider_id,
                token,
                &product.issuer,
                now,
            )
            .await
        };
        let verified = match verified {
            Ok(verified) => verified,
            Err(Rejected::Unavailable(what)) => return Err(Denial::unavailable(what)),
            Err(Rejected::Invalid(why)) => {
                self.rejected.insert(key, why).await;
                return Err(invalid(why));
            }
            Err(Rejected::NotNow(why)) => return Err(invalid(why)),
        };
        let left =
            Duration::from_secs(u64::try_from(verified.expires - now.timestamp()).unwrap_or(0));
        let seen = Arc::new(SeenToken {
            verified,
            digest: dcr_common::directory::token_digest(token),
            first_seen: now,
            cache_until: Instant::now() + left.min(MAX_CACHED),
        });
        self.verified.insert(key, seen.clone()).await;
        Ok(seen)
    }

    /// Random opaque tokens must not make dcr flood an IdP: limited per provider and per
    /// source.
    fn admit_introspection(
        &self,
        source: &str,
        provider_id: &str,
        challenge: &'static str,
    ) -> Result<(), Denial> {
        if self.introspections.check(&provider_id.to_owned()).is_err()
            || self.source_exhausted(source)
        {
            metrics::counter!("dcr_authz_rate_limited_total", "by" => "introspection").increment(1);
            return Err(Denial::rate_limited("unknown opaque tokens", challenge));
        }
        Ok(())
    }
}
