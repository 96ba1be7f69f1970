//! dcr.registry.v1.IdentityService: who the caller is (any valid token).

use dcr_common::auth::{Caller, caller};
use dcr_proto::registry::v1 as pb;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone, Copy)]
pub struct IdentityApi;

fn who(caller: &Caller) -> pb::WhoAmIResponse {
    let mut answer = pb::WhoAmIResponse {
        actor: caller.audit_name(),
        developer_id: caller.developer_id().unwrap_or_default().to_owned(),
        ..Default::default()
    };
    match caller {
        Caller::Person(person, _) => {
            answer.roles = person.roles.iter().map(|r| r.name().to_owned()).collect();
            answer.issuer = person.issuer.clone();
            answer.subject = person.subject.clone();
            answer.name = person.name.clone().unwrap_or_default();
            answer.email = person.email.clone().unwrap_or_default();
            // A person's developer id is theirs whatever role this call used.
            answer.developer_id = person.developer_id.clone();
        }
        machine => answer.roles = vec![machine.audit_role()],
    }
    answer
}

#[tonic::async_trait]
impl pb::identity_service_server::IdentityService for IdentityApi {
    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        Ok(Response::new(who(&caller(&request)?)))
    }
}
