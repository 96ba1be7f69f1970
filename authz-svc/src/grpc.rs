//! dcr.authz.v1.AuthzService: the Check for gateways that speak dcr's own API.

use dcr_common::error::Violations;
use dcr_proto::authz::v1 as pb;
use tonic::{Request, Response, Status};

use crate::check::{CheckInput, Checker};
use crate::decision::{CredentialType, Decision, Principal};

#[derive(Clone)]
pub struct AuthzApi(pub Checker);

const MAX_HEADERS: usize = 200;
/// Scopes one Check may require.
const MAX_REQUIRED_SCOPES: usize = 64;

/// A decision as the dcr API answers it.
pub fn to_proto(decision: Decision) -> pb::CheckResponse {
    let http_status = i32::from(decision.http_status());
    match decision {
        Decision::Allow {
            principal,
            set_cookie,
        } => pb::CheckResponse {
            decision: pb::Decision::Allow as i32,
            http_status,
            reason: String::new(),
            www_authenticate: String::new(),
            principal: Some(principal_to_proto(principal)),
            response_headers: set_cookie
                .map(|cookie| ("set-cookie".to_owned(), cookie))
                .into_iter()
                .collect(),
        },
        Decision::Deny(denial) => pb::CheckResponse {
            decision: pb::Decision::Deny as i32,
            http_status,
            reason: denial.reason.as_str().to_owned(),
            www_authenticate: denial.www_authenticate(),
            principal: None,
            response_headers: Default::default(),
        },
    }
}

fn principal_to_proto(principal: Principal) -> pb::Principal {
    let credential_type = match principal.credential {
        CredentialType::ClientCredentials => pb::CredentialType::ClientCredentials,
        CredentialType::Bearer => pb::CredentialType::Bearer,
        CredentialType::Session => pb::CredentialType::Session,
    };
    pb::Principal {
        application_id: principal.application_id,
        developer_id: principal.developer_id,
        client_id: principal.client_id,
        scopes: principal.scopes,
        credential_type: credential_type as i32,
    }
}

#[tonic::async_trait]
impl pb::authz_service_server::AuthzService for AuthzApi {
    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let request = request.into_inner();
        let mut violations = Violations::new();
        if request.headers.len() > MAX_HEADERS {
            violations.add("headers", format!("at most {MAX_HEADERS} headers"));
        }
        if request.required_scopes.len() > MAX_REQUIRED_SCOPES {
            violations.add(
                "required_scopes",
                format!("at most {MAX_REQUIRED_SCOPES} scopes"),
            );
        }
        if request
            .headers
            .keys()
            .any(|k| k.bytes().any(|b| b.is_ascii_uppercase()))
        {
            violations.add("headers", "header names must be lower case");
        }
        violations.finish()?;
        let input = CheckInput {
            product_id: &request.product_id,
            product_name: "",
            headers: &request.headers,
            required_scopes: &request.required_scopes,
            source: &request.source_address,
        };
        Ok(Response::new(to_proto(self.0.check(&input).await)))
    }
}
