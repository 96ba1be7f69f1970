//! portal-svc configuration, from the environment (names fixed in docs/design.md).

use std::net::SocketAddr;
use std::time::Duration;

use dcr_common::config::{self, ConfigError};
use dcr_common::rate_limit::Rate;
use dcr_common::server::ServerLimits;
use dcr_common::tls::{ClientTlsFiles, ServerTlsFiles};
use dcr_common::url_policy::{UrlPolicy, idp_url};
use secrecy::SecretString;
use url::Url;

/// The defaults of portal-svc's settings, in one place.
pub mod defaults {
    use std::time::Duration;

    pub const LISTEN: &str = "0.0.0.0:8090";
    /// An ID token with the person's name, email and groups, and a refresh token.
    pub const SCOPE: &str = "openid profile email groups offline_access";
    /// Signed out after this long without a page view.
    pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
    /// Signed out this long after signing in, however active.
    pub const SESSION_MAX: Duration = Duration::from_secs(8 * 60 * 60);
    /// Sessions held at once; sign-ins beyond wait for one to end.
    pub const MAX_SESSIONS: usize = 100_000;
    /// Sign-ins started or finished per second per source address.
    pub const SIGN_IN_RATE: u32 = 10;
}

#[derive(Debug, Clone)]
pub struct PortalConfig {
    /// DCR_PORTAL_LISTEN (default 0.0.0.0:8090).
    pub listen: SocketAddr,
    /// DCR_REGISTRY_URL: registry-svc's gRPC endpoint.
    pub registry_url: String,
    /// DCR_PORTAL_PUBLIC_URL: the address people's browsers use (the redirect URI is
    /// `{public_url}/auth/callback`). Default `http://127.0.0.1:<port>`, or
    /// `https://localhost:<port>` under TLS.
    pub public_url: Url,
    /// DCR_IDENTITY_ISSUER: where people sign in (as registry-svc has it).
    pub issuer: String,
    /// DCR_IDENTITY_AUDIENCE: asked for as the access token's audience, so registry-svc
    /// accepts it.
    pub audience: String,
    /// DCR_PORTAL_CLIENT_ID and DCR_PORTAL_CLIENT_SECRET: the portal's client at the
    /// identity provider; without a secret it signs in as a public client (PKCE only).
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// DCR_PORTAL_SCOPES (default "openid profile email groups offline_access").
    pub scope: String,
    /// DCR_SESSION_SECRET: base64 of 32 bytes; seals the session and sign-in cookies.
    pub session_key: [u8; 32],
    /// DCR_PORTAL_SESSION_IDLE_SECONDS (default 1800) and DCR_PORTAL_SESSION_MAX_SECONDS
    /// (default 28800).
    pub session_idle: Duration,
    pub session_max: Duration,
    /// DCR_PORTAL_TOKEN_ENDPOINT: token-svc's public `/oauth2/token` URL, shown in the
    /// "get a token" example (a placeholder when unset).
    pub token_endpoint: Option<String>,
    pub url_policy: UrlPolicy,
    /// DCR_PORTAL_SIGN_IN_RATE_PER_SOURCE (default 10 a second, bursts of 20): sign-ins
    /// started and finished per source address, each a call to the identity provider that
    /// anyone can make the portal do.
    pub sign_in_rate: Rate,
    /// DCR_REQUEST_TIMEOUT_SECONDS and DCR_MAX_CONCURRENT_REQUESTS, as for every service.
    pub limits: ServerLimits,
    /// DCR_TLS_CERT_FILE, DCR_TLS_KEY_FILE: HTTPS only.
    pub tls: Option<ServerTlsFiles>,
    /// DCR_TLS_CA_FILE, DCR_TLS_CLIENT_CERT_FILE, DCR_TLS_CLIENT_KEY_FILE: for an
    /// `https://` registry and identity provider.
    pub client_tls: ClientTlsFiles,
}

impl PortalConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let listen = config::listen_addr("DCR_PORTAL_LISTEN", defaults::LISTEN)?;
        let tls = ServerTlsFiles::from_env()?;
        let url_policy = UrlPolicy::from_env()?;
        let registry_url = config::required("DCR_REGISTRY_URL")?;
        Url::parse(&registry_url).map_err(|e| {
            ConfigError::new(
                "DCR_REGISTRY_URL",
                format!("{registry_url:?} is not a URL ({e})"),
            )
        })?;
        let issuer = config::required("DCR_IDENTITY_ISSUER")?;
        idp_url(&issuer, url_policy)
            .map_err(|reason| ConfigError::new("DCR_IDENTITY_ISSUER", reason))?;
        let public_url = match config::optional("DCR_PORTAL_PUBLIC_URL") {
            Some(url) => public_url(&url, url_policy)?,
            None if tls.is_some() => {
                public_url(&format!("https://localhost:{}", listen.port()), url_policy)?
            }
            None => public_url(&format!("http://127.0.0.1:{}", listen.port()), url_policy)?,
        };
        let session = config::required("DCR_SESSION_SECRET")?;
        Ok(Self {
            listen,
            registry_url,
            public_url,
            issuer,
            audience: config::required("DCR_IDENTITY_AUDIENCE")?,
            client_id: config::required("DCR_PORTAL_CLIENT_ID")?,
            client_secret: config::optional("DCR_PORTAL_CLIENT_SECRET").map(SecretString::from),
            scope: config::optional("DCR_PORTAL_SCOPES").unwrap_or_else(|| defaults::SCOPE.into()),
            session_key: config::key32("DCR_SESSION_SECRET", &session)?,
            session_idle: config::seconds(
                "DCR_PORTAL_SESSION_IDLE_SECONDS",
                defaults::SESSION_IDLE.as_secs(),
            )?,
            session_max: config::seconds(
                "DCR_PORTAL_SESSION_MAX_SECONDS",
                defaults::SESSION_MAX.as_secs(),
            )?,
            token_endpoint: config::optional("DCR_PORTAL_TOKEN_ENDPOINT"),
            url_policy,
            sign_in_rate: Rate::from_env(
                "DCR_PORTAL_SIGN_IN_RATE_PER_SOURCE",
                defaults::SIGN_IN_RATE,
            )?,
            limits: ServerLimits::from_env()?,
            tls,
            client_tls: ClientTlsFiles::from_env()?,
        })
    }

    /// Where the identity provider sends people back to.
    pub fn redirect_uri(&self) -> String {
        format!("{}auth/callback", self.public_url)
    }

    /// Cookies carry `Secure` and the `__Host-` prefix when people reach the portal over
    /// https (browsers refuse both on plain http).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
}

/// The public base URL: https (or http where the policy allows), no query or fragment,
/// with a trailing slash so paths join onto it.
fn public_url(value: &str, policy: UrlPolicy) -> Result<Url, ConfigError> {
    let var = "DCR_PORTAL_PUBLIC_URL";
    let mut url = idp_url(value, policy).map_err(|reason| ConfigError::new(var, reason))?;
    if url.query().is_some() {
        return Err(ConfigError::new(var, "must not have a query"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}
