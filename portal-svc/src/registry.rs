//! registry-svc, called as the signed-in person: every call carries their own access token,
//! so the registry decides what they may do and its audit log names them.

use dcr_proto::registry::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Adds `authorization: Bearer <the person's access token>` to a call.
#[derive(Clone)]
pub struct Bearer(AsciiMetadataValue);

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

type Signed = InterceptedService<Channel, Bearer>;

/// The registry's services for one person.
pub struct As {
    channel: Channel,
    bearer: Bearer,
}

impl As {
    pub fn applications(&self) -> pb::application_service_client::ApplicationServiceClient<Signed> {
        pb::application_service_client::ApplicationServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer.clone(),
        )
    }

    pub fn identity(&self) -> pb::identity_service_client::IdentityServiceClient<Signed> {
        pb::identity_service_client::IdentityServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer.clone(),
        )
    }

    pub fn providers(&self) -> pb::provider_service_client::ProviderServiceClient<Signed> {
        pb::provider_service_client::ProviderServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer.clone(),
        )
    }

    pub fn strategies(&self) -> pb::strategy_service_client::StrategyServiceClient<Signed> {
        pb::strategy_service_client::StrategyServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer.clone(),
        )
    }

    pub fn products(&self) -> pb::product_service_client::ProductServiceClient<Signed> {
        pb::product_service_client::ProductServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer.clone(),
        )
    }

    pub fn audit(&self) -> pb::audit_service_client::AuditServiceClient<Signed> {
        pb::audit_service_client::AuditServiceClient::with_interceptor(
            self.channel.clone(),
            self.bearer.clone(),
        )
    }
}

/// The channel to registry-svc (lazy: the portal starts, and shows its sign-in page, while
/// the registry is still starting).
#[derive(Clone, Debug)]
pub struct Registry {
    channel: Channel,
}

impl Registry {
    pub fn new(channel: Channel) -> Self {
        Self { channel }
    }

    /// The registry as the person holding `token`.
    pub fn acting_as(&self, token: &SecretString) -> Result<As, tonic::Status> {
        let value: AsciiMetadataValue =
            MetadataValue::try_from(format!("Bearer {}", token.expose_secret())).map_err(|_| {
                tonic::Status::unauthenticated("the access token is not a valid header value")
            })?;
        Ok(As {
            channel: self.channel.clone(),
            bearer: Bearer(value),
        })
    }
}
