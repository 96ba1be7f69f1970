//! registry-svc configuration, from the environment (names fixed in docs/design.md).

use std::net::SocketAddr;
use std::time::Duration;

use dcr_common::auth::{CallerTokens, Role};
use dcr_common::config::{self, ConfigError};
use dcr_common::tls::ServerTlsFiles;
use secrecy::SecretString;

use crate::domain::validate::UrlPolicy;
use crate::identity::IdentityConfig;

/// The defaults of registry-svc's settings, in one place: `from_env` applies them when a
/// variable is unset, and `dcrctl dev` and the tests start from them.
pub mod defaults {
    use std::time::Duration;

    pub const LISTEN: &str = "0.0.0.0:50051";
    pub const IDP_TIMEOUT: Duration = Duration::from_secs(10);
    pub const RECONCILE_INTERVAL: Duration = Duration::from_secs(15);
    pub const OPERATION_LEASE: Duration = Duration::from_secs(60);
}

#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub database_url: SecretString,
    /// DCR_MASTER_KEY seals; DCR_MASTER_KEY_PREVIOUS (comma-separated) still open.
    pub master_key: [u8; 32],
    pub previous_master_keys: Vec<[u8; 32]>,
    pub tokens: CallerTokens,
    pub listen: SocketAddr,
    pub url_policy: UrlPolicy,
    /// DCR_IDP_TIMEOUT_SECONDS: one IdP call, connect to last byte (default 10).
    pub idp_timeout: Duration,
    /// DCR_RECONCILE_INTERVAL_SECONDS: how often the reconciler looks (default 15).
    pub reconcile_interval: Duration,
    /// DCR_OPERATION_LEASE_SECONDS: how long a request owns its IdP operation (default 60).
    pub operation_lease: Duration,
    /// DCR_TLS_CERT_FILE, DCR_TLS_KEY_FILE, DCR_TLS_CLIENT_CA_FILE: TLS (and mTLS).
    pub tls: Option<ServerTlsFiles>,
    /// DCR_IDENTITY_*: people sign in through this identity provider. None: only the
    /// static machine tokens.
    pub identity: Option<IdentityConfig>,
}

impl RegistryConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let master = config::required("DCR_MASTER_KEY")?;
        let previous = config::optional("DCR_MASTER_KEY_PREVIOUS").unwrap_or_default();
        let idp_timeout =
            config::seconds("DCR_IDP_TIMEOUT_SECONDS", defaults::IDP_TIMEOUT.as_secs())?;
        let operation_lease = config::seconds(
            "DCR_OPERATION_LEASE_SECONDS",
            defaults::OPERATION_LEASE.as_secs(),
        )?;
        if operation_lease <= idp_timeout {
            return Err(ConfigError::new(
                "DCR_OPERATION_LEASE_SECONDS",
                "must be longer than DCR_IDP_TIMEOUT_SECONDS, or the reconciler could undo a request still waiting on the IdP",
            ));
        }
        let url_policy = UrlPolicy::from_env()?;
        let identity = IdentityConfig::from_env(url_policy)?;
        // With people signing in, the portal token (which may act as any developer) is
        // optional: unset, developers are only ever who their tokens say.
        let required: &[Role] = if identity.is_some() {
            &[Role::Admin, Role::Service]
        } else {
            &[Role::Admin, Role::Portal, Role::Service]
        };
        Ok(Self {
            database_url: database_url(config::required("DATABASE_URL")?)?,
            master_key: config::key32("DCR_MASTER_KEY", &master)?,
            previous_master_keys: previous
                .split(',')
                .filter(|k| !k.trim().is_empty())
                .map(|k| config::key32("DCR_MASTER_KEY_PREVIOUS", k))
                .collect::<Result<_, _>>()?,
            // The gateway token is optional here: known, its holders get PERMISSION_DENIED.
            tokens: CallerTokens::from_env(required)?,
            listen: config::listen_addr("DCR_REGISTRY_LISTEN", defaults::LISTEN)?,
            url_policy,
            idp_timeout,
            reconcile_interval: config::seconds(
                "DCR_RECONCILE_INTERVAL_SECONDS",
                defaults::RECONCILE_INTERVAL.as_secs(),
            )?,
            operation_lease,
            tls: ServerTlsFiles::from_env()?,
            identity,
        })
    }
}

/// The store's URL: Postgres or SQLite, checked here so a wrong one stops the service as
/// every other bad setting does. The value is never echoed (it may hold a password).
fn database_url(url: String) -> Result<SecretString, ConfigError> {
    const SCHEMES: [&str; 3] = ["postgres://", "postgresql://", "sqlite:"];
    if SCHEMES.iter().any(|scheme| url.starts_with(scheme)) {
        Ok(SecretString::from(url))
    } else {
        Err(ConfigError::new(
            "DATABASE_URL",
            "must start with postgres://, postgresql:// or sqlite: (e.g. sqlite://.dcr/dcr.db)",
        ))
    }
}
