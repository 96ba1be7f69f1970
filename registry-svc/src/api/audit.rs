//! dcr.registry.v1.AuditService (admin; people with the admin, approver or viewer role).

use dcr_common::error::ApiError;
use dcr_proto::registry::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert::audit_to_proto;
use super::{next_page_token, page_request};
use crate::registry::Registry;
use crate::store::AuditFilter;

#[derive(Debug, Clone)]
pub struct AuditApi(pub Registry);

fn filter(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditApi {
    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let r = request.get_ref();
        let f = AuditFilter {
            actor: filter(&r.actor),
            role: filter(&r.role),
            action: filter(&r.action),
            resource_type: filter(&r.resource_type),
            resource_id: filter(&r.resource_id),
        };
        let page = self
            .0
            .store
            .list_audit(&f, &page_request(r.page_size, &r.page_token)?)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: page.items.iter().map(audit_to_proto).collect(),
            next_page_token: next_page_token(page.next),
        }))
    }
}
