//! token-svc configuration, from the environment (names fixed in docs/design.md).

use std::net::SocketAddr;
use std::time::Duration;

use dcr_common::auth::{CallerTokens, Role};
use dcr_common::config::{self, ConfigError};
use dcr_common::tls::{ClientTlsFiles, ServerTlsFiles};
use dcr_common::url_policy::UrlPolicy;

/// The defaults of token-svc's settings, in one place: `from_env` applies them when a
/// variable is unset, and `dcrctl dev` and the tests start from them.
pub mod defaults {
    use std::time::Duration;

    pub const LISTEN: &str = "0.0.0.0:50052";
    pub const HTTP_LISTEN: &str = "0.0.0.0:8080";
    pub const IDP_TIMEOUT: Duration = Duration::from_secs(10);
    pub const CACHE_CAPACITY: u64 = 100_000;
    pub const CACHE_MAX_AGE: Duration = Duration::from_secs(300);
    pub use dcr_common::config::KEYS_MAX_STALE;
}

#[derive(Debug, Clone)]
pub struct TokenConfig {
    pub listen: SocketAddr,
    pub http_listen: SocketAddr,
    /// DCR_REGISTRY_URL: where DirectoryService lives.
    pub registry_url: String,
    /// DCR_SERVICE_TOKEN (required: GetIssuerKeys, IntrospectToken and calls to the
    /// registry); the other roles' tokens when set, so their holders are told PERMISSION_DENIED.
    pub tokens: CallerTokens,
    pub url_policy: UrlPolicy,
    /// DCR_IDP_TIMEOUT_SECONDS (default 10).
    pub idp_timeout: Duration,
    /// DCR_TOKEN_CACHE_CAPACITY: cached tokens at most (default 100000).
    pub cache_capacity: u64,
    /// DCR_TOKEN_CACHE_MAX_AGE_SECONDS: a cached token is used at most this long, so a
    /// revocation missed while the change stream was down still ends (default 300).
    pub cache_max_age: Duration,
    /// DCR_KEYS_MAX_STALE_SECONDS: how long a JWKS may be served while its IdP is down
    /// (default 21600, six hours).
    pub keys_max_stale: Duration,
    /// What anonymous callers may make token-svc do (DCR_TOKEN_RATE_PER_CLIENT, ...).
    pub limits: crate::limits::LimitConfig,
    /// DCR_TLS_CERT_FILE, DCR_TLS_KEY_FILE, DCR_TLS_CLIENT_CA_FILE: TLS (and mTLS) on
    /// both listeners, gRPC and HTTP.
    pub tls: Option<ServerTlsFiles>,
    /// DCR_TLS_CA_FILE, DCR_TLS_CLIENT_CERT_FILE, DCR_TLS_CLIENT_KEY_FILE: for an
    /// `https://` DCR_REGISTRY_URL.
    pub client_tls: ClientTlsFiles,
}

impl TokenConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let registry_url = config::required("DCR_REGISTRY_URL")?;
        url::Url::parse(&registry_url).map_err(|e| {
            ConfigError::new(
                "DCR_REGISTRY_URL",
                format!("{registry_url:?} is not a URL ({e})"),
            )
        })?;
        let capacity = config::optional("DCR_TOKEN_CACHE_CAPACITY")
            .unwrap_or_else(|| defaults::CACHE_CAPACITY.to_string());
        Ok(Self {
            listen: config::listen_addr("DCR_TOKEN_LISTEN", defaults::LISTEN)?,
            http_listen: config::listen_addr("DCR_TOKEN_HTTP_LISTEN", defaults::HTTP_LISTEN)?,
            registry_url,
            tokens: CallerTokens::from_env(&[Role::Service])?,
            url_policy: UrlPolicy::from_env()?,
            idp_timeout: config::seconds(
                "DCR_IDP_TIMEOUT_SECONDS",
                defaults::IDP_TIMEOUT.as_secs(),
            )?,
            cache_capacity: capacity.parse().map_err(|_| {
                ConfigError::new(
                    "DCR_TOKEN_CACHE_CAPACITY",
                    format!("{capacity:?} is not a number"),
                )
            })?,
            cache_max_age: config::seconds(
                "DCR_TOKEN_CACHE_MAX_AGE_SECONDS",
                defaults::CACHE_MAX_AGE.as_secs(),
            )?,
            keys_max_stale: config::seconds(
                "DCR_KEYS_MAX_STALE_SECONDS",
                defaults::KEYS_MAX_STALE.as_secs(),
            )?,
            limits: crate::limits::LimitConfig::from_env()?,
            tls: ServerTlsFiles::from_env()?,
            client_tls: ClientTlsFiles::from_env()?,
        })
    }
}
