//! authz-svc configuration, from the environment (names fixed in docs/design.md).

use std::net::SocketAddr;
use std::time::Duration;

use dcr_common::auth::{CallerTokens, Role};
use dcr_common::config::{self, ConfigError};
use dcr_common::tls::{ClientTlsFiles, ServerTlsFiles};

/// The defaults of authz-svc's settings, in one place: `from_env` applies them when a
/// variable is unset, and `dcrctl dev` and the tests start from them.
pub mod defaults {
    use std::time::Duration;

    pub const LISTEN: &str = "0.0.0.0:50053";
    /// Clock skew allowed on `exp`, `nbf` and `iat`.
    pub const LEEWAY: Duration = Duration::from_secs(30);
    /// Introspection calls per second, for all callers together.
    pub const INTROSPECTION_RATE: u32 = 20;
    /// Unknown-credential work per second per source address.
    pub const SOURCE_RATE: u32 = 50;
    pub use dcr_common::config::KEYS_MAX_STALE;
}

#[derive(Debug, Clone)]
pub struct AuthzConfig {
    pub listen: SocketAddr,
    pub registry_url: String,
    pub token_url: String,
    /// DCR_GATEWAY_TOKEN (Check) and DCR_SERVICE_TOKEN (calls to the registry and
    /// token-svc) are required; the others when set, so their holders are told PERMISSION_DENIED.
    pub tokens: CallerTokens,
    /// DCR_SESSION_SECRET: base64 of 32 bytes; seals session cookies.
    pub session_key: [u8; 32],
    /// DCR_AUTHZ_LEEWAY_SECONDS: clock skew allowed on exp/nbf (default 30).
    pub leeway: Duration,
    /// DCR_KEYS_MAX_STALE_SECONDS: how long cached issuer keys keep validating tokens while
    /// token-svc or the IdP is down (default 21600).
    pub keys_max_stale: Duration,
    /// DCR_AUTHZ_INTROSPECTION_RATE: introspections of unknown opaque tokens per provider
    /// per second (default 20, bursts of 40).
    pub introspection_rate: dcr_common::rate_limit::Rate,
    /// DCR_AUTHZ_RATE_PER_SOURCE: token requests and introspections that unknown
    /// credentials cause, per source address the gateway names (default 50 a second).
    pub source_rate: dcr_common::rate_limit::Rate,
    /// DCR_TLS_CERT_FILE, DCR_TLS_KEY_FILE, DCR_TLS_CLIENT_CA_FILE: TLS (and mTLS).
    pub tls: Option<ServerTlsFiles>,
    /// DCR_TLS_CA_FILE, DCR_TLS_CLIENT_CERT_FILE, DCR_TLS_CLIENT_KEY_FILE: for
    /// `https://` DCR_REGISTRY_URL and DCR_TOKEN_URL.
    pub client_tls: ClientTlsFiles,
}

fn url(var: &'static str) -> Result<String, ConfigError> {
    let value = config::required(var)?;
    url_ok(var, &value)?;
    Ok(value)
}

fn url_ok(var: &'static str, value: &str) -> Result<(), ConfigError> {
    match value.parse::<tonic::transport::Uri>() {
        Ok(uri) if uri.scheme().is_some() && uri.host().is_some() => Ok(()),
        _ => Err(ConfigError::new(
            var,
            format!("{value:?} is not a URL like https://host:port"),
        )),
    }
}

impl AuthzConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let session = config::required("DCR_SESSION_SECRET")?;
        Ok(Self {
            listen: config::listen_addr("DCR_AUTHZ_LISTEN", defaults::LISTEN)?,
            registry_url: url("DCR_REGISTRY_URL")?,
            token_url: url("DCR_TOKEN_URL")?,
            tokens: CallerTokens::from_env(&[Role::Gateway, Role::Service])?,
            session_key: config::key32("DCR_SESSION_SECRET", &session)?,
            leeway: config::seconds("DCR_AUTHZ_LEEWAY_SECONDS", defaults::LEEWAY.as_secs())?,
            keys_max_stale: config::seconds(
                "DCR_KEYS_MAX_STALE_SECONDS",
                defaults::KEYS_MAX_STALE.as_secs(),
            )?,
            introspection_rate: dcr_common::rate_limit::Rate::from_env(
                "DCR_AUTHZ_INTROSPECTION_RATE",
                defaults::INTROSPECTION_RATE,
            )?,
            source_rate: dcr_common::rate_limit::Rate::from_env(
                "DCR_AUTHZ_RATE_PER_SOURCE",
                defaults::SOURCE_RATE,
            )?,
            tls: ServerTlsFiles::from_env()?,
            client_tls: ClientTlsFiles::from_env()?,
        })
    }
}
