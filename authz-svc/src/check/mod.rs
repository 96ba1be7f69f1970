//! The decision, step by step: the product (and its strategy) -> the credential the call
//! carries -> a verified caller (`bearer.rs`, `basic.rs`, or a session) -> the application,
//! its revocations, its registration and the scopes (`authorize.rs`). Every error is a
//! deny (invariant 4): an unreachable registry or IdP answers 503.
//!
//! Caches: verified tokens by keyed hash (`token_key.rs`) until `exp` (first sight costs
//! one signature check, later sights a hash lookup); tokens for Basic credentials by keyed hash of the secret
//! and the client's generation; directory entries (common::directory, invalidated by the
//! change stream). Revocation: a credential revoked (or rotated away) at time R denies
//! tokens issued before R's second, and tokens issued in that second that authz had
//! already seen before R; sessions made before R; Basic secrets the IdP now refuses.

mod authorize;
mod basic;
mod bearer;
mod token_key;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dcr_common::clock::SharedClock;
use dcr_common::directory::{Directory, DirectoryError, ProductEntry};
use dcr_common::rate_limit::{KeyedLimit, Rate};
use dcr_common::seal::Sealer;
use moka::future::Cache;

use crate::credentials::{self, Credential};
use crate::decision::{BEARER, CredentialType, Decision, Denial, DenyReason, challenge};
use crate::keys::KeyRing;
use crate::session;
use crate::stats::Stats;
use crate::tokens::TokenClient;

use bearer::SeenToken;
use token_key::{KeyIsHash, TokenKey, TokenKeyer};

/// What a gateway asks, whichever API it asked through.
#[derive(Debug, Clone, Copy)]
pub struct CheckInput<'a> {
    /// The product by id, by name, or both (then they must be the same product).
    pub product_id: &'a str,
    pub product_name: &'a str,
    /// The call's headers, names in lower case.
    pub headers: &'a HashMap<String, String>,
    pub required_scopes: &'a [String],
    /// The call's source address, when the gateway names it: what unknown credentials
    /// make dcr do is limited per source.
    pub source: &'a str,
}

/// A credential proven genuine, before its application is looked at.
struct Caller {
    client_id: String,
    scopes: Vec<String>,
    credential: CredentialType,
    /// The token's `iat` (seconds), or a session's creation time.
    issued: Option<i64>,
    /// When this replica first saw the credential (revocation in the same second).
    first_seen: DateTime<Utc>,
    /// A session names the application it was made for.
    session_application: Option<String>,
    /// When the credential stops being valid (the token's `exp`), unix seconds: a
    /// session made from it ends then at the latest.
    expires: i64,
    /// A token's SHA-256 (`directory::token_digest`), to find token-svc's record of it;
    /// None for a session, which dcr made itself from a token it had checked.
    token_digest: Option<[u8; 32]>,
}

/// Product ids and names longer than this are not looked up.
pub(crate) const MAX_PRODUCT_REF: usize = 255;

#[derive(Clone)]
pub struct Checker {
    directory: Directory,
    tokens: TokenClient,
    keys: KeyRing,
    sealer: Arc<Sealer>,
    clock: SharedClock,
    leeway: Duration,
    verified: Cache<TokenKey, Arc<SeenToken>, KeyIsHash>,
    basic: Cache<[u8; 32], Arc<str>>,
    /// Opaque tokens the IdP called inactive (or that failed verification), by keyed hash:
    /// the same bad token again costs no introspection for a while.
    rejected: Cache<TokenKey, &'static str, KeyIsHash>,
    /// Introspections per provider: random opaque tokens cannot make dcr flood an IdP.
    introspections: KeyedLimit<String>,
    /// What unknown credentials make dcr do (token requests, introspections) per source
    /// address, when the gateway names it.
    per_source: KeyedLimit<String>,
    /// Keys the Basic cache (keyed BLAKE3 of the secret and the client's generation).
    mac_key: [u8; 32],
    /// Keys the verified and rejected tokens.
    token_keyer: TokenKeyer,
    pub stats: Arc<Stats>,
}

/// What unknown credentials may make authz-svc do (see AuthzConfig).
#[derive(Debug, Clone, Copy)]
pub struct CheckLimits {
    pub introspections_per_provider: Rate,
    pub per_source: Rate,
}

/// How long a rejected token is rejected from memory.
const REJECTED_TTL: Duration = Duration::from_secs(30);

impl Checker {
    pub fn new(
        directory: Directory,
        tokens: TokenClient,
        keys: KeyRing,
        sealer: Arc<Sealer>,
        clock: SharedClock,
        leeway: Duration,
        limits: CheckLimits,
    ) -> Self {
        // Cache keys are keyed hashes: nothing in memory can check a token or secret offline.
        let mut mac_key = [0u8; 32];
        rand::Rng::fill(&mut rand::rng(), &mut mac_key);
        Self {
            directory,
            tokens,
            keys,
            sealer,
            clock,
            leeway,
            verified: bearer::cache(),
            basic: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            rejected: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(REJECTED_TTL)
                .build_with_hasher(KeyIsHash::default()),
            introspections: KeyedLimit::new(limits.introspections_per_provider),
            per_source: KeyedLimit::new(limits.per_source),
            mac_key,
            token_keyer: TokenKeyer::random(),
            stats: Arc::new(Stats::default()),
        }
    }

    /// Logs the counters and cache sizes every minute, forever.
    pub async fn report_stats(self) {
        let mut every = tokio::time::interval(Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            let s = &self.stats;
            tracing::info!(
                verified_hits = Stats::read(&s.verified_hits),
                verified_misses = Stats::read(&s.verified_misses),
                introspections = Stats::read(&s.introspections),
                basic_hits = Stats::read(&s.basic_hits),
                basic_misses = Stats::read(&s.basic_misses),
                allowed = Stats::read(&s.allowed),
                denied = Stats::read(&s.denied),
                verified_entries = self.verified.entry_count(),
                basic_entries = self.basic.entry_count(),
                "authz cache and decision counters"
            );
        }
    }

    /// The decision for one call, counted.
    pub async fn check(&self, input: &CheckInput<'_>) -> Decision {
        let decision = match self.decide(input).await {
            Ok(decision) => decision,
            Err(denial) => Decision::Deny(denial),
        };
        self.stats.decided(&decision);
        decision
    }

    async fn decide(&self, input: &CheckInput<'_>) -> Result<Decision, Denial> {
        let product = self.product(input.product_id, input.product_name).await?;
        let challenge = challenge(product.strategy.methods);
        let caller = self.caller(&product, input, challenge).await?;
        self.authorize(caller, &product, input.required_scopes, challenge)
            .await
    }

    /// The product the route names: by id, by name, or by both when they agree.
    async fn product(&self, id: &str, name: &str) -> Result<Arc<ProductEntry>, Denial> {
        let unknown = |why: &'static str| Denial::new(DenyReason::UnknownProduct, why, BEARER);
        if id.len() > MAX_PRODUCT_REF || name.len() > MAX_PRODUCT_REF {
            return Err(unknown("the route's product id or name is too long"));
        }
        let found = match (id.is_empty(), name.is_empty()) {
            (true, true) => return Err(unknown("the route names no dcr product")),
            (_, false) => self.directory.resolve_product_by_name(name).await,
            (false, true) => self.directory.resolve_product(id).await,
        };
        let product = match found {
            Ok(Some(product)) => product,
            Ok(None) | Err(DirectoryError::NotFound(_) | DirectoryError::FailedPrecondition(_)) => {
                return Err(unknown(if name.is_empty() {
                    "no such product"
                } else {
                    "no product has the route's product name"
                }));
            }
            Err(DirectoryError::Unavailable(_)) => return Err(Denial::unavailable("the registry")),
        };
        if !id.is_empty() && !name.is_empty() && id != product.id {
            return Err(Denial::new(
                DenyReason::ProductMismatch,
                "the route's dcr_product and dcr_product_id name different products",
                BEARER,
            ));
        }
        Ok(product)
    }

    /// The credential the call carries, checked for what the strategy accepts and proven
    /// genuine.
    async fn caller(
        &self,
        product: &ProductEntry,
        input: &CheckInput<'_>,
        challenge: &'static str,
    ) -> Result<Caller, Denial> {
        let methods = product.strategy.methods;
        let cookie_name = methods
            .session
            .then_some(product.strategy.session_cookie_name.as_str());
        let headers = input.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let credential = credentials::parse(headers, cookie_name).map_err(|malformed| {
            Denial::new(DenyReason::InvalidRequest, malformed.to_string(), challenge)
        })?;
        let not_accepted =
            |what: &'static str| Denial::new(DenyReason::MethodNotAllowed, what, challenge);
        match credential {
            Credential::None => Err(Denial::new(
                DenyReason::MissingCredentials,
                "no credentials",
                challenge,
            )),
            Credential::Bearer(_) if !methods.bearer => {
                Err(not_accepted("bearer tokens are not accepted here"))
            }
            Credential::Bearer(token) => {
                self.bearer(input.source, token, product, CredentialType::Bearer)
                    .await
            }
            Credential::Basic { .. } if !methods.client_credentials => {
                Err(not_accepted("client credentials are not accepted here"))
            }
            Credential::Basic {
                client_id,
                client_secret,
            } => {
                self.client_credentials(input.source, &client_id, &client_secret, product)
                    .await
            }
            Credential::Session(cookie) => self.session(cookie, product, challenge),
        }
    }

    /// A session cookie dcr sealed for this product, not yet expired.
    fn session(
        &self,
        cookie: &str,
        product: &ProductEntry,
        challenge: &'static str,
    ) -> Result<Caller, Denial> {
        let now = self.clock.now();
        let invalid = |why: &'static str| Denial::new(DenyReason::InvalidToken, why, challenge);
        let session = session::open(&self.sealer, cookie)
            .filter(|s| s.expires > now.timestamp())
            .ok_or_else(|| invalid("the session is invalid or has expired"))?;
        if session.product_id != product.id
            || session.strategy_id != product.strategy.id
            || session.issuer != product.issuer
            || session.audience != product.audience
        {
            return Err(invalid(
                "the session was made for another product, or for this one as it was configured before",
            ));
        }
        let issued = session.issued();
        Ok(Caller {
            client_id: session.client_id,
            scopes: session.scopes,
            credential: CredentialType::Session,
            issued: issued.map(|t| t.timestamp()),
            first_seen: issued.unwrap_or(now),
            session_application: Some(session.application_id),
            expires: session.expires,
            token_digest: None,
        })
    }

    /// Whether the gateway-named `source` has used up what it may make dcr do (an empty
    /// source, as from the dcr API without `source_address`, is not limited here).
    fn source_exhausted(&self, source: &str) -> bool {
        let exhausted = !source.is_empty() && self.per_source.check(&source.to_owned()).is_err();
        if exhausted {
            metrics::counter!("dcr_authz_rate_limited_total", "by" => "source").increment(1);
        }
        exhausted
    }
}
