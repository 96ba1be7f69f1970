//! IssueToken: resolve the client, send the vendor's token request, cache the answer.
//!
//! Cache key = client id + keyed BLAKE3 of the secret (key random per process, so the
//! cache never holds anything that could check a secret offline) + sorted scopes +
//! audience + the client's generation. A different secret is a different key, so a
//! wrong secret is never answered from a right one's entry; a change to the client
//! bumps its generation, which retires all of its entries at once. Concurrent identical
//! misses share one IdP call (moka's try_get_with). Errors are never cached.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use secrecy::{ExposeSecret as _, SecretString};

use crate::discovery::Discovery;
use crate::errors::TokenError;
use crate::limits::{LimitConfig, Limits};
use crate::upstream::{self, IssuedToken};
use crate::vendor::{Vendor, token_form};
use dcr_common::directory::{ClientEntry, Directory, DirectoryError};
use dcr_common::oauth::ClientAuthMethod;

/// A cached token is dropped this long before it expires, or 10% of its lifetime if less.
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
const MAX_SCOPES: usize = 64;
const MAX_FIELD: usize = 2048;
/// How far behind dcr's clock an IdP's may run when deciding whether a token it issues
/// now needs a record.
const IDP_CLOCK_MARGIN: Duration = Duration::from_secs(60);
/// How long a record is kept for a token that does not say when it expires, and at most
/// (the registry keeps none longer than 24 hours).
const UNDATED_RECORD: Duration = Duration::from_secs(3600);
const MAX_RECORD: Duration = Duration::from_secs(24 * 3600);
/// How long a token whose record no known revocation needs waits for the registry to
/// take it (a precaution against a gateway that heard of a revocation first), far above
/// the registry's usual few milliseconds.
const PRECAUTIONARY_RECORD_WAIT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CacheKey {
    subject: String,
    secret_mac: [u8; 32],
    scopes: String,
    audience: String,
    generation: u64,
}

#[derive(Debug)]
pub struct CachedToken {
    pub token: IssuedToken,
    /// When the IdP's token expires.
    pub expires_at: Option<Instant>,
    /// When this entry stops being served.
    serve_until: Instant,
}

impl CachedToken {
    /// Seconds left for the caller.
    pub fn expires_in(&self) -> u64 {
        self.expires_at
            .map(|at| at.saturating_duration_since(Instant::now()).as_secs())
            .unwrap_or(0)
    }
}

struct UntilServeEnd;

impl Expiry<CacheKey, Arc<CachedToken>> for UntilServeEnd {
    fn expire_after_create(
        &self,
        _: &CacheKey,
        value: &Arc<CachedToken>,
        now: Instant,
    ) -> Option<Duration> {
        Some(value.serve_until.saturating_duration_since(now))
    }
}

/// Cache counters (exported as metrics by a later change; read by tests now).
#[derive(Debug, Default)]
pub struct Stats {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

#[derive(Clone)]
pub struct Broker {
    directory: Directory,
    discovery: Discovery,
    http: reqwest::Client,
    cache: Cache<CacheKey, Arc<CachedToken>>,
    mac_key: [u8; 32],
    max_age: Duration,
    limits: Limits,
    pub stats: Arc<Stats>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").finish_non_exhaustive()
    }
}

/// What a caller asks for.
#[derive(Debug)]
pub struct TokenRequest {
    pub client_id: String,
    pub client_secret: SecretString,
    pub scopes: Vec<String>,
    pub audience: String,
    /// Where the request came from (the TCP peer), for the per-source limit.
    pub source: Option<std::net::IpAddr>,
}

impl TokenRequest {
    fn validate(&self) -> Result<(), TokenError> {
        if self.client_id.is_empty() || self.client_secret.expose_secret().is_empty() {
            return Err(TokenError::InvalidClient);
        }
        if self.client_id.len() > MAX_FIELD || self.client_secret.expose_secret().len() > MAX_FIELD
        {
            return Err(TokenError::InvalidClient);
        }
        if self.scopes.len() > MAX_SCOPES || self.audience.len() > MAX_FIELD {
            return Err(TokenError::InvalidRequest(
                "too many scopes, or an audience too long".into(),
            ));
        }
        if !self
            .scopes
            .iter()
            .all(|s| dcr_common::oauth::is_scope_token(s))
        {
            return Err(TokenError::InvalidScope);
        }
        Ok(())
    }
}

fn serve_window(expires_in: Option<Duration>, max_age: Duration) -> Duration {
    match expires_in {
        None => Duration::ZERO, // no lifetime given: do not reuse it
        Some(life) => life
            .saturating_sub(EXPIRY_MARGIN.min(life / 10))
            .min(max_age),
    }
}

impl Broker {
    pub fn new(
        directory: Directory,
        discovery: Discovery,
        http: reqwest::Client,
        capacity: u64,
        max_age: Duration,
        limits: LimitConfig,
    ) -> Self {
        let mut mac_key = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut mac_key);
        Self {
            directory,
            discovery,
            http,
            cache: Cache::builder()
                .max_capacity(capacity)
                .expire_after(UntilServeEnd)
                .build(),
            mac_key,
            max_age,
            limits: Limits::new(limits),
            stats: Arc::new(Stats::default()),
        }
    }

    fn key(
        &self,
        subject: String,
        secret: &SecretString,
        scopes: &[String],
        audience: &str,
        generation: u64,
    ) -> CacheKey {
        let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.dedup();
        CacheKey {
            subject,
            secret_mac: *blake3::keyed_hash(&self.mac_key, secret.expose_secret().as_bytes())
                .as_bytes(),
            scopes: sorted.join(" "),
            audience: audience.to_owned(),
            generation,
        }
    }

    /// Logs the cache counters once a minute when they moved (the Prometheus endpoint
    /// comes with the observability work; these are the same numbers).
    pub async fn report_stats(self) {
        let mut last = (0, 0);
        let mut ticker = tokio::time::interval(Duration::from_secs(60));
        loop {
            ticker.tick().await;
            let now = (
                self.stats.hits.load(Ordering::Relaxed),
                self.stats.misses.load(Ordering::Relaxed),
            );
            if now != last {
                tracing::info!(
                    hits = now.0,
                    misses = now.1,
                    entries = self.cache.entry_count(),
                    "token cache"
                );
                last = now;
            }
        }
    }

    /// A token for a dcr application's client credentials.
    pub async fn issue(&self, request: &TokenRequest) -> Result<Arc<CachedToken>, TokenError> {
        request.validate()?;
        let generation = self.directory.generation(&request.client_id);
        let key = self.key(
            request.client_id.clone(),
            &request.client_secret,
            &request.scopes,
            &request.audience,
            generation,
        );
        if let Some(hit) = self.cache.get(&key).await {
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            dcr_common::metrics::count("dcr_token_cache_lookups_total", &[("result", "hit")]);
            return Ok(hit);
        }
        self.stats.misses.fetch_add(1, Ordering::Relaxed);
        dcr_common::metrics::count("dcr_token_cache_lookups_total", &[("result", "miss")]);
        // Boxed: the miss path's futures (moka's loader, the directory and IdP calls) are
        // several KB, and every cached IssueToken's future (copied whole when tonic boxes
        // it) carried them.
        Box::pin(self.fetch_and_cache(request, key, generation)).await
    }

    /// `issue`'s miss: one IdP call for concurrent identical requests, within the limits.
    /// Its span names the client on what the miss logs; a hit logs nothing and makes no
    /// span (the fmt layer formats a span's fields when it is made).
    #[tracing::instrument(skip_all, fields(client_id = %request.client_id))]
    async fn fetch_and_cache(
        &self,
        request: &TokenRequest,
        key: CacheKey,
        generation: u64,
    ) -> Result<Arc<CachedToken>, TokenError> {
        let attempt = (request.client_id.clone(), key.secret_mac, generation);
        self.limits.refused_lately(&attempt).await?;
        let this = self.clone();
        let admitted = (attempt.clone(), request.source);
        let fetch = async move {
            // Only the call that goes out counts against the limits (concurrent identical
            // misses share it).
            this.limits.admit(&admitted.0, admitted.1)?;
            let client = this
                .directory
                .resolve_client(&request.client_id)
                .await?
                .ok_or(TokenError::InvalidClient)?;
            // A revoked secret gets the answer of a wrong one, before the IdP is asked:
            // the IdP may still take it (a bridge cannot revoke one secret of several;
            // an IdP that was down when it was revoked has not heard yet).
            if !client.application.active
                || client
                    .is_revoked_secret(&request.client_id, request.client_secret.expose_secret())
            {
                return Err(TokenError::InvalidClient);
            }
            let issued = this.fetch(&client, request).await?;
            this.record(&client, request, &issued).await?;
            Ok(issued)
        };
        let issued = self.cache.try_get_with(key, fetch).await.map_err(unshare);
        self.limits
            .record(attempt, &issued.as_ref().map(|_| ()))
            .await;
        issued
    }

    /// Records the token with the registry before handing it out, so a gateway never sees
    /// it first. Gateways take a client's tokens only with token-svc's record while one of
    /// its revoked secrets may still work at its IdP (a token the IdP issued directly may
    /// come from it). Every token is recorded, not only those of such clients as this
    /// process knows them: a gateway may hear of a revocation before token-svc does, and
    /// would then refuse a token handed out for a live secret in between. Only where the
    /// record is known to be needed does a registry that cannot take it fail the call;
    /// elsewhere it is waited for at most [`PRECAUTIONARY_RECORD_WAIT`], so a registry
    /// that hangs does not hold back every client's tokens.
    async fn record(
        &self,
        client: &ClientEntry,
        request: &TokenRequest,
        issued: &CachedToken,
    ) -> Result<(), TokenError> {
        let now = chrono::Utc::now();
        // The IdP's clock may run behind dcr's: its `iat` may fall before `now`.
        let issued_at = now.timestamp() - IDP_CLOCK_MARGIN.as_secs().cast_signed();
        let needed = client.issue_records.required_for(Some(issued_at));
        let lives = issued
            .token
            .expires_in
            .unwrap_or(UNDATED_RECORD)
            .min(MAX_RECORD);
        let expires_at =
            now + chrono::Duration::from_std(lives).unwrap_or(chrono::Duration::zero());
        let digest = dcr_common::directory::token_digest(issued.token.access_token.expose_secret());
        let recording = self
            .directory
            .record_issued_token(&request.client_id, digest, expires_at);
        let outcome = if needed {
            recording.await.map_err(|e| e.to_string())
        } else {
            match tokio::time::timeout(PRECAUTIONARY_RECORD_WAIT, recording).await {
                Ok(recorded) => recorded.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no answer within {PRECAUTIONARY_RECORD_WAIT:?}")),
            }
        };
        let Err(error) = outcome else {
            return Ok(());
        };
        if !needed {
            tracing::warn!(%error, "could not record an issued token; handing it out, as no revocation of this client is known");
            return Ok(());
        }
        tracing::warn!(%error, "could not record an issued token; refusing to hand it out");
        Err(TokenError::Unavailable(
            "the registry could not record the token for this client (one of its revoked \
             secrets may still work at the IdP, so gateways take only recorded tokens)"
                .into(),
        ))
    }

    /// The IdP's answer for `request`, from the token endpoint of `client`'s issuer.
    async fn fetch(
        &self,
        client: &ClientEntry,
        request: &TokenRequest,
    ) -> Result<Arc<CachedToken>, TokenError> {
        let issuer = client.issuer.as_str();
        let vendor = Vendor::from_type(&client.provider_type);
        let metadata = self.discovery.metadata(issuer).await?;
        let endpoint = metadata.token_endpoint.as_ref().ok_or_else(|| {
            TokenError::Unavailable(format!("{issuer} advertises no token_endpoint"))
        })?;
        let form = token_form(vendor, endpoint, &request.scopes, &request.audience);
        // Exactly the method the client was created with: an IdP that enforces one per
        // client (Auth0) refuses the other. Clients the registry recorded none for (made
        // before it kept them) get Basic unless the IdP supports only Post.
        let auth_method = client
            .token_endpoint_auth_method
            .unwrap_or(if metadata.prefers_post {
                ClientAuthMethod::ClientSecretPost
            } else {
                ClientAuthMethod::ClientSecretBasic
            });
        let token = upstream::client_credentials(
            &self.http,
            endpoint,
            &request.client_id,
            &request.client_secret,
            auth_method,
            form,
        )
        .await?;
        let now = Instant::now();
        Ok(Arc::new(CachedToken {
            expires_at: token.expires_in.map(|d| now + d),
            serve_until: now + serve_window(token.expires_in, self.max_age),
            token,
        }))
    }
}

impl From<DirectoryError> for TokenError {
    fn from(error: DirectoryError) -> Self {
        match error {
            DirectoryError::NotFound(m) => TokenError::NotFound(m),
            DirectoryError::FailedPrecondition(m) => TokenError::FailedPrecondition(m),
            DirectoryError::Unavailable(m) => TokenError::Unavailable(m),
        }
    }
}

/// try_get_with shares one error among all waiters; give each its own copy.
fn unshare(error: Arc<TokenError>) -> TokenError {
    match &*error {
        TokenError::InvalidClient => TokenError::InvalidClient,
        TokenError::InvalidRequest(m) => TokenError::InvalidRequest(m.clone()),
        TokenError::InvalidScope => TokenError::InvalidScope,
        TokenError::InvalidTarget => TokenError::InvalidTarget,
        TokenError::UnauthorizedClient => TokenError::UnauthorizedClient,
        TokenError::UnsupportedGrantType => TokenError::UnsupportedGrantType,
        TokenError::Unauthenticated(m) => TokenError::Unauthenticated(m.clone()),
        TokenError::NotFound(m) => TokenError::NotFound(m.clone()),
        TokenError::FailedPrecondition(m) => TokenError::FailedPrecondition(m.clone()),
        TokenError::Unavailable(m) => TokenError::Unavailable(m.clone()),
        TokenError::Timeout => TokenError::Timeout,
        TokenError::RateLimited { retry_after } => TokenError::RateLimited {
            retry_after: *retry_after,
        },
        TokenError::Internal(e) => TokenError::Internal(anyhow::anyhow!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_served_until_shortly_before_expiry_and_never_past_the_max_age() {
        let max = Duration::from_secs(300);
        assert_eq!(serve_window(Some(Duration::from_secs(3600)), max), max);
        assert_eq!(
            serve_window(Some(Duration::from_secs(120)), max),
            Duration::from_secs(108)
        );
        assert_eq!(
            serve_window(Some(Duration::from_secs(600)), Duration::from_secs(3600)),
            Duration::from_secs(570)
        );
        assert_eq!(serve_window(None, max), Duration::ZERO);
    }
}
