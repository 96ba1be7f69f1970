//! Where the services are and who dcrctl is to them: the flags every command shares
//! (each with an environment default), and gRPC clients that carry the right credentials.
//! Channels connect lazily, so a command only needs the services it calls. A registry
//! call whose role has no static token carries the signed-in person's access token
//! (`dcrctl login`), when there is one.

use clap::Args;
use dcr_proto::authz::v1::authz_service_client::AuthzServiceClient;
use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1::token_service_client::TokenServiceClient;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub use dcr_common::auth::DEVELOPER_HEADER;

use crate::login::PersonLogin;

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Global options")]
pub struct ConnectionArgs {
    /// registry-svc's gRPC address.
    #[arg(
        long,
        global = true,
        env = "DCR_REGISTRY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub registry_url: String,
    /// token-svc's gRPC address.
    #[arg(
        long,
        global = true,
        env = "DCR_TOKEN_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub token_url: String,
    /// authz-svc's gRPC address.
    #[arg(
        long,
        global = true,
        env = "DCR_AUTHZ_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub authz_url: String,
    /// The admin token (providers, strategies, products, registrations, audit, apply).
    #[arg(long, global = true, env = "DCR_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<SecretString>,
    /// The portal token (applications and credentials, acting for --developer).
    #[arg(long, global = true, env = "DCR_PORTAL_TOKEN", hide_env_values = true)]
    pub portal_token: Option<SecretString>,
    /// The developer that portal calls act for.
    #[arg(long, global = true, env = "DCR_DEVELOPER_ID")]
    pub developer: Option<String>,
    /// The gateway token (`check`).
    #[arg(long, global = true, env = "DCR_GATEWAY_TOKEN", hide_env_values = true)]
    pub gateway_token: Option<SecretString>,
    /// The internal service token (product names through the directory, without the
    /// admin token).
    #[arg(long, global = true, env = "DCR_SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: Option<SecretString>,
    /// The identity provider whose sign-in (`dcrctl login`) registry calls without a
    /// static token use (default: the last one signed in at).
    #[arg(long, global = true, env = "DCR_IDENTITY_ISSUER")]
    pub identity_issuer: Option<String>,
    /// TLS settings for https:// URLs; None: from DCR_TLS_CA_FILE and friends.
    #[arg(skip)]
    pub tls: Option<dcr_common::tls::ClientTlsFiles>,
    /// The signed-in person, read (and refreshed) before the command runs when a role
    /// lacks its static token; the error says why a stored sign-in cannot be used.
    #[arg(skip)]
    pub person: Option<Result<PersonLogin, String>>,
}

/// Adds the caller's metadata to every request.
#[derive(Debug, Clone)]
pub struct Credentials {
    bearer: AsciiMetadataValue,
    developer: Option<AsciiMetadataValue>,
}

impl tonic::service::Interceptor for Credentials {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        metadata.insert("authorization", self.bearer.clone());
        if let Some(developer) = &self.developer {
            metadata.insert(DEVELOPER_HEADER, developer.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Credentials>;

/// Whose credentials a call carries, which decides the service it goes to and what to
/// tell the user when it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// registry-svc's admin API, with the admin token.
    Admin,
    /// registry-svc's portal API, with the portal token and a developer id.
    Portal,
    /// authz-svc, with the gateway token.
    Gateway,
    /// registry-svc's directory API (lookups for gateways), with the service token.
    Directory,
    /// token-svc's IssueToken: the client credentials are the request itself.
    Client,
}

/// The flag and environment variable that carry one credential.
#[derive(Debug, Clone, Copy)]
pub struct CredentialFlag {
    pub what: &'static str,
    pub flag: &'static str,
    pub env: &'static str,
    /// What else works instead: a person's sign-in, for the registry's roles.
    pub instead: &'static str,
}

/// The way round a missing admin or portal token.
const SIGN_IN: &str = ", or sign in as a person with `dcrctl login`";

const ADMIN: CredentialFlag = CredentialFlag {
    what: "the admin token",
    flag: "admin-token",
    env: "DCR_ADMIN_TOKEN",
    instead: SIGN_IN,
};
const PORTAL: CredentialFlag = CredentialFlag {
    what: "the portal token",
    flag: "portal-token",
    env: "DCR_PORTAL_TOKEN",
    instead: SIGN_IN,
};
const GATEWAY: CredentialFlag = CredentialFlag {
    what: "the gateway token",
    flag: "gateway-token",
    env: "DCR_GATEWAY_TOKEN",
    instead: "",
};
const SERVICE: CredentialFlag = CredentialFlag {
    what: "the service token",
    flag: "service-token",
    env: "DCR_SERVICE_TOKEN",
    instead: "",
};

impl Role {
    pub fn service(self) -> &'static str {
        match self {
            Role::Admin | Role::Portal | Role::Directory => "registry-svc",
            Role::Gateway => "authz-svc",
            Role::Client => "token-svc",
        }
    }

    pub fn url_flag(self) -> &'static str {
        match self {
            Role::Admin | Role::Portal | Role::Directory => "registry-url",
            Role::Gateway => "authz-url",
            Role::Client => "token-url",
        }
    }

    pub fn url_env(self) -> &'static str {
        match self {
            Role::Admin | Role::Portal | Role::Directory => "DCR_REGISTRY_URL",
            Role::Gateway => "DCR_AUTHZ_URL",
            Role::Client => "DCR_TOKEN_URL",
        }
    }

    /// The caller token this role sends; None for token-svc, where the client id and
    /// secret in the request are the credentials.
    pub fn credential(self) -> Option<CredentialFlag> {
        match self {
            Role::Admin => Some(ADMIN),
            Role::Portal => Some(PORTAL),
            Role::Gateway => Some(GATEWAY),
            Role::Directory => Some(SERVICE),
            Role::Client => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("{what} is not set: pass --{flag} or set {env}{instead}")]
    Missing {
        what: &'static str,
        flag: &'static str,
        env: &'static str,
        instead: &'static str,
    },
    /// A stored sign-in that cannot be used (expired for good, the IdP unreachable).
    #[error("{0}")]
    Login(String),
    #[error("--{flag} is not a valid value: {reason}")]
    Invalid { flag: &'static str, reason: String },
    #[error("{0}")]
    Tls(dcr_common::config::ConfigError),
}

impl ConnectionError {
    fn missing(credential: CredentialFlag) -> Self {
        Self::Missing {
            what: credential.what,
            flag: credential.flag,
            env: credential.env,
            instead: credential.instead,
        }
    }
}

fn channel(
    url: &str,
    flag: &'static str,
    tls: Option<&dcr_common::tls::ClientTlsFiles>,
) -> Result<Channel, ConnectionError> {
    // Without a scheme the address would parse as a URI and fail later as a transport error.
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(ConnectionError::Invalid {
            flag,
            reason: format!(
                "{url:?} has no scheme: write it as https://{url} (or http://{url} for a \
                 service without TLS)"
            ),
        });
    }
    // https:// trusts DCR_TLS_CA_FILE (else the system roots) and presents
    // DCR_TLS_CLIENT_CERT_FILE/KEY_FILE when set.
    let tls = match tls {
        Some(tls) => tls.clone(),
        None => dcr_common::tls::ClientTlsFiles::from_env().map_err(ConnectionError::Tls)?,
    };
    let endpoint: Endpoint =
        tls.endpoint(url, "DCR_TLS_CA_FILE")
            .map_err(|e| ConnectionError::Invalid {
                flag,
                reason: format!("{url:?}: {}", e.reason),
            })?;
    // A dead address fails fast; a call may still wait on an IdP behind the service.
    Ok(endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(60))
        .connect_lazy())
}

fn bearer(
    token: Option<&SecretString>,
    credential: CredentialFlag,
) -> Result<AsciiMetadataValue, ConnectionError> {
    let token = token.ok_or(ConnectionError::missing(credential))?;
    let mut value: AsciiMetadataValue =
        MetadataValue::try_from(format!("Bearer {}", token.expose_secret())).map_err(|_| {
            ConnectionError::Invalid {
                flag: credential.flag,
                reason: "tokens are printable ASCII".into(),
            }
        })?;
    // Kept out of HPACK tables, and `Debug` prints "Sensitive" instead of the token.
    value.set_sensitive(true);
    Ok(value)
}

impl ConnectionArgs {
    /// The address calls of `role` go to.
    pub fn url_for(&self, role: Role) -> &str {
        match role {
            Role::Admin | Role::Portal | Role::Directory => &self.registry_url,
            Role::Gateway => &self.authz_url,
            Role::Client => &self.token_url,
        }
    }

    /// The signed-in person a call of `role` goes as: one without its static token.
    pub fn uses_login(&self, role: Role) -> Option<&PersonLogin> {
        let static_token = match role {
            Role::Admin => self.admin_token.is_some(),
            Role::Portal => self.portal_token.is_some(),
            Role::Gateway | Role::Directory | Role::Client => return None,
        };
        match &self.person {
            Some(Ok(person)) if !static_token => Some(person),
            _ => None,
        }
    }

    /// The person's bearer for a role without its static token, or why there is none.
    fn person_bearer(
        &self,
        credential: CredentialFlag,
    ) -> Result<AsciiMetadataValue, ConnectionError> {
        match &self.person {
            Some(Ok(person)) => bearer(Some(person.token()), credential),
            Some(Err(problem)) => Err(ConnectionError::Login(problem.clone())),
            None => Err(ConnectionError::missing(credential)),
        }
    }

    fn admin(&self) -> Result<Authed, ConnectionError> {
        let bearer = match &self.admin_token {
            Some(token) => bearer(Some(token), ADMIN)?,
            None => self.person_bearer(ADMIN)?,
        };
        let credentials = Credentials {
            bearer,
            developer: None,
        };
        Ok(InterceptedService::new(
            channel(&self.registry_url, "registry-url", self.tls.as_ref())?,
            credentials,
        ))
    }

    fn portal(&self) -> Result<Authed, ConnectionError> {
        // A person is the developer their token names: no header, no portal token.
        if self.portal_token.is_none() && self.person.is_some() {
            let credentials = Credentials {
                bearer: self.person_bearer(PORTAL)?,
                developer: None,
            };
            return Ok(InterceptedService::new(
                channel(&self.registry_url, "registry-url", self.tls.as_ref())?,
                credentials,
            ));
        }
        let developer = self.developer.as_deref().ok_or(ConnectionError::Missing {
            what: "the developer id",
            flag: "developer",
            env: "DCR_DEVELOPER_ID",
            instead: " (with the portal token), or sign in as a person with `dcrctl login`",
        })?;
        let credentials = Credentials {
            bearer: bearer(self.portal_token.as_ref(), PORTAL)?,
            developer: Some(MetadataValue::try_from(developer).map_err(|_| {
                ConnectionError::Invalid {
                    flag: "developer",
                    reason: "developer ids are printable ASCII".into(),
                }
            })?),
        };
        Ok(InterceptedService::new(
            channel(&self.registry_url, "registry-url", self.tls.as_ref())?,
            credentials,
        ))
    }

    /// Whether admin calls can be made (name resolution for portal commands needs them):
    /// with the admin token, or as a signed-in person (whose roles may still refuse).
    pub fn has_admin_token(&self) -> bool {
        self.admin_token.is_some() || matches!(self.person, Some(Ok(_)))
    }

    /// Whether portal calls can be made: the portal token for a developer, or a person.
    pub fn has_portal(&self) -> bool {
        (self.portal_token.is_some() && self.developer.is_some())
            || matches!(self.person, Some(Ok(_)))
    }

    /// `IdentityService` with the credentials a command would use, in this order: the
    /// admin token, the portal token, the person's sign-in; and the role that names them.
    pub fn identity(
        &self,
    ) -> Result<
        (
            reg::identity_service_client::IdentityServiceClient<Authed>,
            Role,
        ),
        ConnectionError,
    > {
        let (service, role) = if self.admin_token.is_some() || self.portal_token.is_none() {
            (self.admin()?, Role::Admin)
        } else {
            (self.portal()?, Role::Portal)
        };
        Ok((
            reg::identity_service_client::IdentityServiceClient::new(service),
            role,
        ))
    }

    pub fn has_service_token(&self) -> bool {
        self.service_token.is_some()
    }

    /// The registry's lookups for gateways (a product by name), with the service token.
    pub fn directory(
        &self,
    ) -> Result<reg::directory_service_client::DirectoryServiceClient<Authed>, ConnectionError>
    {
        let credentials = Credentials {
            bearer: bearer(self.service_token.as_ref(), SERVICE)?,
            developer: None,
        };
        Ok(reg::directory_service_client::DirectoryServiceClient::new(
            InterceptedService::new(
                channel(&self.registry_url, "registry-url", self.tls.as_ref())?,
                credentials,
            ),
        ))
    }

    pub fn providers(
        &self,
    ) -> Result<reg::provider_service_client::ProviderServiceClient<Authed>, ConnectionError> {
        Ok(reg::provider_service_client::ProviderServiceClient::new(
            self.admin()?,
        ))
    }

    pub fn strategies(
        &self,
    ) -> Result<reg::strategy_service_client::StrategyServiceClient<Authed>, ConnectionError> {
        Ok(reg::strategy_service_client::StrategyServiceClient::new(
            self.admin()?,
        ))
    }

    pub fn products(
        &self,
    ) -> Result<reg::product_service_client::ProductServiceClient<Authed>, ConnectionError> {
        Ok(reg::product_service_client::ProductServiceClient::new(
            self.admin()?,
        ))
    }

    pub fn audit(
        &self,
    ) -> Result<reg::audit_service_client::AuditServiceClient<Authed>, ConnectionError> {
        Ok(reg::audit_service_client::AuditServiceClient::new(
            self.admin()?,
        ))
    }

    pub fn applications(
        &self,
    ) -> Result<reg::application_service_client::ApplicationServiceClient<Authed>, ConnectionError>
    {
        Ok(reg::application_service_client::ApplicationServiceClient::new(self.portal()?))
    }

    /// IssueToken authenticates with the client credentials it carries: no caller token.
    pub fn tokens(&self) -> Result<TokenServiceClient<Channel>, ConnectionError> {
        Ok(TokenServiceClient::new(channel(
            &self.token_url,
            "token-url",
            self.tls.as_ref(),
        )?))
    }

    pub fn authz(&self) -> Result<AuthzServiceClient<Authed>, ConnectionError> {
        let credentials = Credentials {
            bearer: bearer(self.gateway_token.as_ref(), GATEWAY)?,
            developer: None,
        };
        Ok(AuthzServiceClient::new(InterceptedService::new(
            channel(&self.authz_url, "authz-url", self.tls.as_ref())?,
            credentials,
        )))
    }
}
