//! authz-svc's client of token-svc (IssueToken for Basic credentials, GetIssuerKeys,
//! IntrospectToken for opaque tokens),
//! carrying the internal service token.

use dcr_common::auth::ServiceCredentials;
use dcr_proto::token::v1 as pb;
use tonic::Status;
use tonic::transport::Channel;

#[derive(Clone)]
pub struct TokenClient {
    channel: Channel,
    credentials: ServiceCredentials,
}

impl TokenClient {
    pub fn new(channel: Channel, credentials: ServiceCredentials) -> Self {
        Self {
            channel,
            credentials,
        }
    }

    fn client(&self) -> pb::token_service_client::TokenServiceClient<Channel> {
        pb::token_service_client::TokenServiceClient::new(self.channel.clone())
    }

    pub async fn issue(
        &self,
        message: pb::IssueTokenRequest,
    ) -> Result<pb::IssueTokenResponse, Status> {
        self.client()
            .issue_token(self.credentials.request(message))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn issuer_keys(
        &self,
        message: pb::GetIssuerKeysRequest,
    ) -> Result<pb::GetIssuerKeysResponse, Status> {
        self.client()
            .get_issuer_keys(self.credentials.request(message))
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn introspect(
        &self,
        message: pb::IntrospectTokenRequest,
    ) -> Result<pb::IntrospectTokenResponse, Status> {
        self.client()
            .introspect_token(self.credentials.request(message))
            .await
            .map(tonic::Response::into_inner)
    }
}
