//! The decision: product -> strategy -> allowed methods; credential -> verified principal;
//! principal -> application (ACTIVE, not revoked) -> registration (APPROVED) -> scopes.
//! Every error is a deny (invariant 4): an unreachable registry or IdP answers 503.
//!
//! Caches: verified tokens by hash until `exp` (first sight costs one signature check,
//! later sights a hash lookup); tokens for Basic credentials by keyed hash of the secret
//! and the client's generation; directory entries (common::directory, invalidated by the
//! change stream). Revocation: a credential revoked (or rotated away) at time R denies
//! tokens issued before R's second, and tokens issued in that second that authz had
//! already seen before R; sessions made before R; Basic secrets the IdP now refuses.

use dcr_common::rate_limit::{KeyedLimit, Rate};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use dcr_common::clock::SharedClock;
use dcr_common::directory::{Directory, DirectoryError};
use dcr_common::seal::Sealer;
use dcr_proto::authz::v1 as pb;
use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1 as tok;
use moka::Expiry;
use moka::future::Cache;

use crate::credentials::{self, Credential};
use crate::introspection::{introspect, is_jwt};
use crate::keys::KeyRing;
use crate::session::{self, Session};
use crate::stats::Stats;
use crate::tokens::TokenClient;
use crate::verify::{Rejected, Verified, verify};

const MAX_CACHED: Duration = Duration::from_secs(3600);

/// The outcome of a check, before it is rendered for the dcr API or for Envoy.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub allow: bool,
    pub http_status: u16,
    pub reason: &'static str,
    pub description: String,
    pub www_authenticate: String,
    pub principal: Option<pb::Principal>,
    pub response_headers: Vec<(String, String)>,
}

impl Outcome {
    fn deny(
        http_status: u16,
        reason: &'static str,
        description: impl Into<String>,
        challenge: &str,
    ) -> Self {
        let description = description.into();
        let www_authenticate = if http_status == 503 {
            String::new()
        } else if reason == "missing_credentials" {
            challenge.to_owned()
        } else {
            format!(
                "{challenge}, error=\"{reason}\", error_description=\"{}\"",
                description.replace('"', "'")
            )
        };
        Self {
            allow: false,
            http_status,
            reason,
            description,
            www_authenticate,
            principal: None,
            response_headers: Vec::new(),
        }
    }

    /// Too many attempts that would reach the IdP: denied (fail closed), try later.
    fn rate_limited(what: &str, challenge: &str) -> Self {
        Self::deny(
            429,
            "rate_limited",
            format!("too many {what}; try again in a few seconds"),
            challenge,
        )
    }

    fn unavailable(what: &str) -> Self {
        Self::deny(
            503,
            "temporarily_unavailable",
            format!("{what} is unavailable; try again"),
            "",
        )
    }
}

struct SeenToken {
    verified: Verified,
    first_seen: DateTime<Utc>,
    cache_until: Instant,
}

struct UntilExpiry;

impl<K> Expiry<K, Arc<SeenToken>> for UntilExpiry {
    fn expire_after_create(&self, _: &K, value: &Arc<SeenToken>, now: Instant) -> Option<Duration> {
        Some(value.cache_until.saturating_duration_since(now))
    }
}

#[derive(Clone)]
pub struct Checker {
    directory: Directory,
    tokens: TokenClient,
    keys: KeyRing,
    sealer: Arc<Sealer>,
    clock: SharedClock,
    leeway: Duration,
    verified: Cache<[u8; 32], Arc<SeenToken>>,
    basic: Cache<[u8; 32], Arc<str>>,
    /// Opaque tokens the IdP called inactive (or that failed verification), by keyed hash:
    /// the same bad token again costs no introspection for a while.
    rejected: Cache<[u8; 32], &'static str>,
    /// Introspections per provider: random opaque tokens cannot make dcr flood an IdP.
    introspections: KeyedLimit<String>,
    /// What unknown credentials make dcr do (token requests, introspections) per source
    /// address, when the gateway names it.
    per_source: KeyedLimit<String>,
    mac_key: [u8; 32],
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

/// The WWW-Authenticate challenge for a strategy's methods (static: no allocation on the
/// allow path).
fn challenge(methods: &[i32]) -> &'static str {
    if methods.contains(&(reg::AuthMethod::ClientCredentials as i32)) {
        "Bearer realm=\"dcr\", Basic realm=\"dcr\""
    } else {
        "Bearer realm=\"dcr\""
    }
}

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
            verified: Cache::builder()
                .max_capacity(1_000_000)
                .expire_after(UntilExpiry)
                .build(),
            basic: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(Duration::from_secs(60))
                .build(),
            rejected: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(REJECTED_TTL)
                .build(),
            introspections: KeyedLimit::new(limits.introspections_per_provider),
            per_source: KeyedLimit::new(limits.per_source),
            mac_key,
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

    /// `decide`, counted.
    pub async fn check(&self, request: &pb::CheckRequest) -> Outcome {
        let outcome = self.decide(request).await;
        self.stats.decided(outcome.allow, outcome.reason);
        outcome
    }

    /// `check` for a gateway route that names its product by id (`request.product_id`),
    /// by name (`product_name`), or both, which must then be the same product.
    pub async fn check_route(&self, product_name: &str, mut request: pb::CheckRequest) -> Outcome {
        let outcome = match self.named_product(product_name, &request.product_id).await {
            Ok(Some(id)) => {
                request.product_id = id;
                self.decide(&request).await
            }
            Ok(None) => self.decide(&request).await,
            Err(outcome) => outcome,
        };
        self.stats.decided(outcome.allow, outcome.reason);
        outcome
    }

    /// The id of the product named `name` (None when no name is given), checked against
    /// the route's id when it gives one too.
    async fn named_product(&self, name: &str, id: &str) -> Result<Option<String>, Outcome> {
        if name.is_empty() {
            return Ok(None);
        }
        let unknown =
            |why: &str| Outcome::deny(403, "unknown_product", why, "Bearer realm=\"dcr\"");
        if name.len() > 255 {
            return Err(unknown("the route's product name is too long"));
        }
        let product = match self.directory.resolve_product_by_name(name).await {
            Ok(Some(product)) => product,
            Ok(None) => return Err(unknown("no product has the route's product name")),
            Err(DirectoryError::Unavailable(_)) => {
                return Err(Outcome::unavailable("the registry"));
            }
            Err(_) => return Err(unknown("no product has the route's product name")),
        };
        let Some(found) = product.product.as_ref().map(|p| p.id.clone()) else {
            return Err(Outcome::unavailable("the registry"));
        };
        if !id.is_empty() && id != found {
            return Err(Outcome::deny(
                403,
                "product_mismatch",
                "the route's dcr_product and dcr_product_id name different products",
                "Bearer realm=\"dcr\"",
            ));
        }
        Ok(Some(found))
    }

    async fn decide(&self, request: &pb::CheckRequest) -> Outcome {
        if request.product_id.is_empty() || request.product_id.len() > 128 {
            return Outcome::deny(
                403,
                "unknown_product",
                "the route names no dcr product",
                "Bearer realm=\"dcr\"",
            );
        }
        let product = match self.directory.resolve_product(&request.product_id).await {
            Ok(Some(product)) => product,
            Ok(None) => {
                return Outcome::deny(
                    403,
                    "unknown_product",
                    "no such product",
                    "Bearer realm=\"dcr\"",
                );
            }
            Err(_) => return Outcome::unavailable("the registry"),
        };
        let Some(strategy) = product.strategy.as_ref() else {
            return Outcome::unavailable("the registry");
        };
        let methods = &strategy.auth_methods;
        let challenge = challenge(methods);
        let allows = |m: reg::AuthMethod| methods.contains(&(m as i32));
        let session_enabled = allows(reg::AuthMethod::Session);
        let cookie_name = session_enabled.then_some(strategy.session_cookie_name.as_str());
        let headers = request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()));
        let credential = match credentials::parse(headers, cookie_name) {
            Ok(credential) => credential,
            Err(malformed) => {
                return Outcome::deny(401, "invalid_request", malformed.to_string(), challenge);
            }
        };
        let audience = product
            .product
            .as_ref()
            .map(|p| p.audience.as_str())
            .filter(|a| !a.is_empty())
            .unwrap_or(strategy.audience.as_str());
        let (principal, issued, first_seen) = match credential {
            Credential::None => {
                return Outcome::deny(401, "missing_credentials", "no credentials", challenge);
            }
            Credential::Bearer(token) => {
                if !allows(reg::AuthMethod::Bearer) {
                    return Outcome::deny(
                        401,
                        "method_not_allowed",
                        "bearer tokens are not accepted here",
                        challenge,
                    );
                }
                match self
                    .bearer(
                        &request.source_address,
                        &token,
                        &product.provider_id,
                        &product.issuer,
                        audience,
                        strategy,
                        pb::CredentialType::Bearer,
                    )
                    .await
                {
                    Ok(found) => found,
                    Err(outcome) => return outcome,
                }
            }
            Credential::Basic {
                client_id,
                client_secret,
            } => {
                if !allows(reg::AuthMethod::ClientCredentials) {
                    return Outcome::deny(
                        401,
                        "method_not_allowed",
                        "client credentials are not accepted here",
                        challenge,
                    );
                }
                let token = match self
                    .exchange(
                        &request.source_address,
                        &client_id,
                        &client_secret,
                        audience,
                        strategy,
                    )
                    .await
                {
                    Ok(token) => token,
                    Err(outcome) => return outcome,
                };
                let found = self
                    .bearer(
                        &request.source_address,
                        &token,
                        &product.provider_id,
                        &product.issuer,
                        audience,
                        strategy,
                        pb::CredentialType::ClientCredentials,
                    )
                    .await;
                match found {
                    Ok(found) if found.0.client_id == client_id => found,
                    Ok(_) => {
                        return Outcome::deny(
                            401,
                            "invalid_client",
                            "the token names another client",
                            challenge,
                        );
                    }
                    Err(outcome) => return outcome,
                }
            }
            Credential::Session(cookie) => {
                let now = self.clock.now();
                let session =
                    session::open(&self.sealer, &cookie).filter(|s| s.expires > now.timestamp());
                let Some(session) = session else {
                    return Outcome::deny(
                        401,
                        "invalid_token",
                        "the session is invalid or has expired",
                        challenge,
                    );
                };
                let principal = pb::Principal {
                    application_id: session.application_id.clone(),
                    developer_id: String::new(),
                    client_id: session.client_id.clone(),
                    scopes: session.scopes.clone(),
                    credential_type: pb::CredentialType::Session as i32,
                };
                let issued = session.issued();
                (
                    principal,
                    issued.map(|t| t.timestamp()),
                    issued.unwrap_or(now),
                )
            }
        };
        self.authorize(
            principal,
            issued,
            first_seen,
            &request.product_id,
            &request.required_scopes,
            strategy,
            challenge,
        )
        .await
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

    /// Verified claims for a token, from the cache or by one signature check (a JWT) or
    /// one introspection (an opaque token).
    #[allow(clippy::too_many_arguments)]
    async fn bearer(
        &self,
        source: &str,
        token: &str,
        provider_id: &str,
        issuer: &str,
        audience: &str,
        strategy: &reg::AuthStrategy,
        kind: pb::CredentialType,
    ) -> Result<(pb::Principal, Option<i64>, DateTime<Utc>), Outcome> {
        let challenge = challenge(&strategy.auth_methods);
        let key = *blake3::Hasher::new_keyed(&self.mac_key)
            .update(issuer.as_bytes())
            .update(&[0])
            .update(token.as_bytes())
            .finalize()
            .as_bytes();
        let now = self.clock.now();
        let seen = match self.verified.get(&key).await {
            Some(seen) => {
                self.stats.lookup("verified", true);
                seen
            }
            None => {
                self.stats.lookup("verified", false);
                if let Some(why) = self.rejected.get(&key).await {
                    return Err(Outcome::deny(401, "invalid_token", why, challenge));
                }
                let verified = if is_jwt(token) {
                    verify(token, issuer, &self.keys, now, self.leeway).await
                } else {
                    if self.introspections.check(&provider_id.to_owned()).is_err()
                        || self.source_exhausted(source)
                    {
                        metrics::counter!("dcr_authz_rate_limited_total", "by" => "introspection")
                            .increment(1);
                        return Err(Outcome::rate_limited("unknown opaque tokens", challenge));
                    }
                    self.stats.introspected();
                    introspect(&self.tokens, provider_id, token, issuer, now).await
                };
                let verified = match verified {
                    Ok(verified) => verified,
                    Err(Rejected::Unavailable(what)) => return Err(Outcome::unavailable(what)),
                    Err(Rejected::Invalid(why)) => {
                        self.rejected.insert(key, why).await;
                        return Err(Outcome::deny(401, "invalid_token", why, challenge));
                    }
                    Err(Rejected::NotNow(why)) => {
                        return Err(Outcome::deny(401, "invalid_token", why, challenge));
                    }
                };
                let left = Duration::from_secs(
                    u64::try_from(verified.expires - now.timestamp()).unwrap_or(0),
                );
                let seen = Arc::new(SeenToken {
                    verified,
                    first_seen: now,
                    cache_until: Instant::now() + left.min(MAX_CACHED),
                });
                self.verified.insert(key, seen.clone()).await;
                seen
            }
        };
        let verified = &seen.verified;
        if verified.expires + i64::try_from(self.leeway.as_secs()).unwrap_or(0) <= now.timestamp() {
            return Err(Outcome::deny(
                401,
                "invalid_token",
                "the token has expired",
                challenge,
            ));
        }
        if !audience.is_empty() && !verified.audiences.iter().any(|a| a == audience) {
            return Err(Outcome::deny(
                401,
                "invalid_token",
                "the token is not for this audience",
                challenge,
            ));
        }
        let Some(client_id) = verified.client_id(&strategy.credential_claims) else {
            return Err(Outcome::deny(
                401,
                "invalid_token",
                "the token names no client",
                challenge,
            ));
        };
        let principal = pb::Principal {
            application_id: String::new(),
            developer_id: String::new(),
            client_id,
            scopes: verified.scopes.clone(),
            credential_type: kind as i32,
        };
        Ok((principal, verified.issued, seen.first_seen))
    }

    /// A token for Basic credentials, through token-svc (cached there and here).
    async fn exchange(
        &self,
        source: &str,
        client_id: &str,
        secret: &str,
        audience: &str,
        strategy: &reg::AuthStrategy,
    ) -> Result<String, Outcome> {
        let generation = self.directory.generation(client_id);
        let material = format!("{client_id}\u{0}{secret}\u{0}{audience}\u{0}{generation}");
        let key = *blake3::keyed_hash(&self.mac_key, material.as_bytes()).as_bytes();
        if let Some(token) = self.basic.get(&key).await {
            self.stats.lookup("basic", true);
            return Ok(token.to_string());
        }
        self.stats.lookup("basic", false);
        if self.source_exhausted(source) {
            return Err(Outcome::rate_limited(
                "attempts from this address",
                "Basic realm=\"dcr\"",
            ));
        }
        let request = tok::IssueTokenRequest {
            client_id: client_id.to_owned(),
            client_secret: secret.to_owned(),
            scopes: strategy.scopes.clone(),
            audience: audience.to_owned(),
        };
        match self.tokens.issue(request).await {
            Ok(response) => {
                let token: Arc<str> = Arc::from(response.access_token.as_str());
                if response.expires_in > 60 {
                    self.basic.insert(key, token).await;
                }
                Ok(response.access_token)
            }
            Err(status) if status.code() == tonic::Code::Unauthenticated => Err(Outcome::deny(
                401,
                "invalid_client",
                "client authentication failed",
                "Basic realm=\"dcr\"",
            )),
            Err(status) if status.code() == tonic::Code::InvalidArgument => Err(Outcome::deny(
                401,
                "invalid_client",
                "the identity provider refused the request",
                challenge(&strategy.auth_methods),
            )),
            // token-svc's limit for this client id (attempts that would reach the IdP).
            Err(status) if status.code() == tonic::Code::ResourceExhausted => Err(
                Outcome::rate_limited("attempts with these credentials", "Basic realm=\"dcr\""),
            ),
            Err(_) => Err(Outcome::unavailable("token-svc")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn authorize(
        &self,
        mut principal: pb::Principal,
        issued: Option<i64>,
        first_seen: DateTime<Utc>,
        product_id: &str,
        required_scopes: &[String],
        strategy: &reg::AuthStrategy,
        challenge: &str,
    ) -> Outcome {
        let client = match self.directory.resolve_client(&principal.client_id).await {
            Ok(Some(client)) => client,
            Ok(None) => {
                return Outcome::deny(
                    403,
                    "not_registered",
                    "the client is not a dcr application",
                    challenge,
                );
            }
            Err(DirectoryError::Unavailable(_)) => return Outcome::unavailable("the registry"),
            Err(_) => {
                return Outcome::deny(
                    403,
                    "not_registered",
                    "the client is not a dcr application",
                    challenge,
                );
            }
        };
        let Some(app) = client.application.as_ref() else {
            return Outcome::unavailable("the registry");
        };
        let session_app_differs = principal.credential_type == pb::CredentialType::Session as i32
            && principal.application_id != app.id;
        if app.state != reg::ApplicationState::Active as i32 || session_app_differs {
            return Outcome::deny(
                401,
                "invalid_token",
                "the application is not active",
                challenge,
            );
        }
        if let Some(revoked) = client
            .revoked_before
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        {
            let before_revocation = match issued {
                Some(iat) => {
                    iat < revoked.timestamp()
                        || (iat == revoked.timestamp() && first_seen < revoked)
                }
                None => first_seen < revoked,
            };
            if before_revocation {
                return Outcome::deny(
                    401,
                    "invalid_token",
                    "the credential behind this token was revoked",
                    challenge,
                );
            }
        }
        if !client.approved_product_ids.iter().any(|p| p == product_id) {
            if client.pending_product_ids.iter().any(|p| p == product_id) {
                return Outcome::deny(
                    403,
                    "registration_pending",
                    "the registration awaits approval",
                    challenge,
                );
            }
            return Outcome::deny(
                403,
                "not_registered",
                "the application is not registered for this product",
                challenge,
            );
        }
        let missing: Vec<&str> = required_scopes
            .iter()
            .filter(|s| !principal.scopes.contains(s))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            let mut outcome = Outcome::deny(
                403,
                "insufficient_scope",
                "the token lacks a required scope",
                challenge,
            );
            outcome
                .www_authenticate
                .push_str(&format!(", scope=\"{}\"", required_scopes.join(" ")));
            return outcome;
        }
        principal.application_id = app.id.clone();
        principal.developer_id = app.developer_id.clone();
        let mut response_headers = Vec::new();
        let session_enabled = strategy
            .auth_methods
            .contains(&(reg::AuthMethod::Session as i32));
        if session_enabled && principal.credential_type != pb::CredentialType::Session as i32 {
            let now = self.clock.now();
            let ttl = strategy
                .session_ttl
                .as_ref()
                .map(|d| d.seconds)
                .filter(|s| *s > 0)
                .unwrap_or(3600);
            let session = Session {
                application_id: app.id.clone(),
                client_id: principal.client_id.clone(),
                scopes: principal.scopes.clone(),
                expires: now.timestamp() + ttl,
                issued_ms: now.timestamp_millis(),
            };
            let value = session::seal(&self.sealer, &session);
            response_headers.push((
                "set-cookie".to_owned(),
                session::set_cookie(&strategy.session_cookie_name, &value, ttl),
            ));
        }
        Outcome {
            allow: true,
            http_status: 200,
            reason: "",
            description: String::new(),
            www_authenticate: String::new(),
            principal: Some(principal),
            response_headers,
        }
    }
}
