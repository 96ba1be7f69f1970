//! authz-svc's client of token-svc (IssueToken for Basic credentials, GetIssuerKeys),
//! carrying the internal service token.

use dcr_proto::token::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::transport::Channel;
use tonic::{Request, Status};

#[derive(Clone)]
pub struct TokenClient {
    channel: Channel,
    bearer: tonic::metadata::MetadataValue<tonic::metadata::Ascii>,
}

impl TokenClient {
    pub fn new(channel: Channel, service_token: &SecretString) -> anyhow::Result<Self> {
        let bearer = format!("Bearer {}", service_token.expose_secret())
            .parse()
            .map_err(|_| anyhow::anyhow!("DCR_SERVICE_TOKEN is not valid gRPC metadata"))?;
        Ok(Self { channel, bearer })
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.bearer.clone());
        request
    }

    fn client(&self) -> pb::token_service_client::TokenServiceClient<Channel> {
        pb::token_service_client::TokenServiceClient::new(self.channel.clone())
    }

    pub async fn issue(
        &self,
        message: pb::IssueTokenRequest,
    ) -> Result<pb::IssueTokenResponse, Status> {
        self.client()
            .issue_token(self.request(message))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn issuer_keys(
        &self,
        message: pb::GetIssuerKeysRequest,
    ) -> Result<pb::GetIssuerKeysResponse, Status> {
        self.client()
            .get_issuer_keys(self.request(message))
            .await
            .map(tonic::Response::into_inner)
    }
}
