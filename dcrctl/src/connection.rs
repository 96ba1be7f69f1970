//! Where the services are and who dcrctl is to them: the flags every command shares
//! (each with an environment default), and gRPC clients that carry the right credentials.
//! Channels connect lazily, so a command only needs the services it calls.

use clap::Args;
use dcr_proto::authz::v1::authz_service_client::AuthzServiceClient;
use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1::token_service_client::TokenServiceClient;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

pub const DEVELOPER_HEADER: &str = "x-dcr-developer-id";

#[derive(Debug, Clone, Args)]
pub struct ConnectionArgs {
    /// registry-svc's gRPC address.
    #[arg(long, global = true, env = "DCR_REGISTRY_URL", default_value = "http://127.0.0.1:50051")]
    pub registry_url: String,
    /// token-svc's gRPC address.
    #[arg(long, global = true, env = "DCR_TOKEN_URL", default_value = "http://127.0.0.1:50052")]
    pub token_url: String,
    /// authz-svc's gRPC address.
    #[arg(long, global = true, env = "DCR_AUTHZ_URL", default_value = "http://127.0.0.1:50053")]
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
    /// The internal service token (`check`).
    #[arg(long, global = true, env = "DCR_SERVICE_TOKEN", hide_env_values = true)]
    pub service_token: Option<SecretString>,
}

/// Adds the caller's metadata to every request.
#[derive(Debug, Clone)]
pub struct Credentials {
    bearer: AsciiMetadataValue,
    developer: Option<AsciiMetadataValue>,
}

impl tonic::service::Interceptor for Credentials {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let metadata = request.metadata_mut();
        metadata.insert("authorization", self.bearer.clone());
        if let Some(developer) = &self.developer {
            metadata.insert(DEVELOPER_HEADER, developer.clone());
        }
        Ok(request)
    }
}

pub type Authed = InterceptedService<Channel, Credentials>;

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("{what} is not set: pass --{flag} or set {env}")]
    Missing {
        what: &'static str,
        flag: &'static str,
        env: &'static str,
    },
    #[error("{flag} is not a valid value: {reason}")]
    Invalid { flag: &'static str, reason: String },
}

fn channel(url: &str, flag: &'static str) -> Result<Channel, ConnectionError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| ConnectionError::Invalid {
        flag,
        reason: format!("{url:?} is not a URL ({e})"),
    })?;
    Ok(endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .connect_lazy())
}

fn bearer(
    token: Option<&SecretString>,
    what: &'static str,
    flag: &'static str,
    env: &'static str,
) -> Result<AsciiMetadataValue, ConnectionError> {
    let token = token.ok_or(ConnectionError::Missing { what, flag, env })?;
    MetadataValue::try_from(format!("Bearer {}", token.expose_secret())).map_err(|_| {
        ConnectionError::Invalid {
            flag,
            reason: "tokens are printable ASCII".into(),
        }
    })
}

impl ConnectionArgs {
    fn admin(&self) -> Result<Authed, ConnectionError> {
        let credentials = Credentials {
            bearer: bearer(self.admin_token.as_ref(), "the admin token", "admin-token", "DCR_ADMIN_TOKEN")?,
            developer: None,
        };
        Ok(InterceptedService::new(channel(&self.registry_url, "registry-url")?, credentials))
    }

    fn portal(&self) -> Result<Authed, ConnectionError> {
        let developer = self.developer.as_deref().ok_or(ConnectionError::Missing {
            what: "the developer id",
            flag: "developer",
            env: "DCR_DEVELOPER_ID",
        })?;
        let credentials = Credentials {
            bearer: bearer(self.portal_token.as_ref(), "the portal token", "portal-token", "DCR_PORTAL_TOKEN")?,
            developer: Some(MetadataValue::try_from(developer).map_err(|_| {
                ConnectionError::Invalid {
                    flag: "developer",
                    reason: "developer ids are printable ASCII".into(),
                }
            })?),
        };
        Ok(InterceptedService::new(channel(&self.registry_url, "registry-url")?, credentials))
    }

    pub fn providers(&self) -> Result<reg::provider_service_client::ProviderServiceClient<Authed>, ConnectionError> {
        Ok(reg::provider_service_client::ProviderServiceClient::new(self.admin()?))
    }

    pub fn strategies(&self) -> Result<reg::strategy_service_client::StrategyServiceClient<Authed>, ConnectionError> {
        Ok(reg::strategy_service_client::StrategyServiceClient::new(self.admin()?))
    }

    pub fn products(&self) -> Result<reg::product_service_client::ProductServiceClient<Authed>, ConnectionError> {
        Ok(reg::product_service_client::ProductServiceClient::new(self.admin()?))
    }

    pub fn audit(&self) -> Result<reg::audit_service_client::AuditServiceClient<Authed>, ConnectionError> {
        Ok(reg::audit_service_client::AuditServiceClient::new(self.admin()?))
    }

    pub fn applications(
        &self,
    ) -> Result<reg::application_service_client::ApplicationServiceClient<Authed>, ConnectionError> {
        Ok(reg::application_service_client::ApplicationServiceClient::new(self.portal()?))
    }

    /// IssueToken authenticates with the client credentials it carries: no caller token.
    pub fn tokens(&self) -> Result<TokenServiceClient<Channel>, ConnectionError> {
        Ok(TokenServiceClient::new(channel(&self.token_url, "token-url")?))
    }

    pub fn authz(&self) -> Result<AuthzServiceClient<Authed>, ConnectionError> {
        let credentials = Credentials {
            bearer: bearer(self.service_token.as_ref(), "the service token", "service-token", "DCR_SERVICE_TOKEN")?,
            developer: None,
        };
        Ok(AuthzServiceClient::new(InterceptedService::new(
            channel(&self.authz_url, "authz-url")?,
            credentials,
        )))
    }
}
