//! dcr.authz.v1.AuthzService: the Check for gateways that speak dcr's own API.

use dcr_proto::authz::v1 as pb;
use tonic::{Request, Response, Status};

use crate::check::{Checker, Outcome};

#[derive(Clone)]
pub struct AuthzApi(pub Checker);

const MAX_HEADERS: usize = 200;

pub fn to_proto(outcome: Outcome) -> pb::CheckResponse {
    pb::CheckResponse {
        decision: if outcome.allow {
            pb::Decision::Allow
        } else {
            pb::Decision::Deny
        } as i32,
        http_status: i32::from(outcome.http_status),
        reason: outcome.reason.to_owned(),
        www_authenticate: outcome.www_authenticate,
        principal: outcome.principal,
        response_headers: outcome.response_headers.into_iter().collect(),
    }
}

#[tonic::async_trait]
impl pb::authz_service_server::AuthzService for AuthzApi {
    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let request = request.into_inner();
        if request.headers.len() > MAX_HEADERS || request.required_scopes.len() > 64 {
            return Err(Status::invalid_argument(
                "too many headers or required scopes",
            ));
        }
        if request
            .headers
            .keys()
            .any(|k| k.bytes().any(|b| b.is_ascii_uppercase()))
        {
            return Err(Status::invalid_argument("header names must be lower case"));
        }
        Ok(Response::new(to_proto(self.0.check(&request).await)))
    }
}
