//! dcr.token.v1.TokenService. IssueToken is authenticated by the client's own secret;
//! GetIssuerKeys and IntrospectToken are internal (DCR_SERVICE_TOKEN), so nobody outside
//! can make token-svc fetch arbitrary URLs or use a provider's introspection client.

use dcr_common::auth::Guard;
use dcr_proto::token::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::{Request, Response, Status};

use crate::broker::{Broker, TokenRequest};
use crate::errors::TokenError;
use crate::introspect::Introspector;
use crate::keys::KeyCache;

#[derive(Clone, Debug)]
pub struct TokenApi {
    pub broker: Broker,
    pub keys: KeyCache,
    pub introspector: Introspector,
    pub service_auth: Guard,
}

fn timestamp(time: std::time::SystemTime) -> prost_types::Timestamp {
    let since = time
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    prost_types::Timestamp {
        seconds: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(since.subsec_nanos()).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl pb::token_service_server::TokenService for TokenApi {
    async fn issue_token(
        &self,
        request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        // dcr's own services (authz-svc exchanging Basic credentials) apply their own
        // limits; every other caller is limited by its address.
        let source = match self.service_auth.authenticate(&request) {
            Ok(_) => None,
            Err(_) => request.remote_addr().map(|a| a.ip()),
        };
        let r = request.into_inner();
        let request = TokenRequest {
            client_id: r.client_id,
            client_secret: SecretString::from(r.client_secret),
            scopes: r.scopes,
            audience: r.audience,
            source,
        };
        let token = self.broker.issue(&request).await?;
        Ok(Response::new(pb::IssueTokenResponse {
            access_token: token.token.access_token.expose_secret().to_owned(),
            token_type: token.token.token_type.clone(),
            expires_in: i64::try_from(token.expires_in()).unwrap_or(0),
            scope: token.token.scope.clone(),
        }))
    }

    async fn get_issuer_keys(
        &self,
        request: Request<pb::GetIssuerKeysRequest>,
    ) -> Result<Response<pb::GetIssuerKeysResponse>, Status> {
        self.service_auth.authenticate(&request)?;
        let r = request.into_inner();
        if r.issuer.is_empty() {
            return Err(TokenError::InvalidRequest("issuer is required".into()).into());
        }
        let kid = (!r.kid.is_empty()).then_some(r.kid.as_str());
        let keys = self.keys.get(&r.issuer, kid).await?;
        Ok(Response::new(pb::GetIssuerKeysResponse {
            issuer: r.issuer,
            jwks_json: keys.set.jwks_json.to_string(),
            fetch_time: Some(timestamp(keys.set.fetch_time())),
            expire_time: Some(timestamp(keys.set.expire_time())),
            stale: keys.stale,
        }))
    }

    async fn introspect_token(
        &self,
        request: Request<pb::IntrospectTokenRequest>,
    ) -> Result<Response<pb::IntrospectTokenResponse>, Status> {
        self.service_auth.authenticate(&request)?;
        let r = request.get_ref();
        let answer = self
            .introspector
            .introspect(&r.provider_id, &r.token)
            .await?;
        Ok(Response::new(answer))
    }
}
