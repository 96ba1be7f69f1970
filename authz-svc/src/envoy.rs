//! envoy.service.auth.v3.Authorization: dcr as Envoy's external authorizer. The product
//! comes from the route's `context_extensions["dcr_product_id"]`. An allow adds
//! `x-dcr-application-id`, `x-dcr-client-id` and `x-dcr-scopes` upstream (replacing any the
//! client sent) and passes `Set-Cookie` to the client; a deny answers 401/403/503 with
//! `WWW-Authenticate` and a small JSON body.

use std::collections::HashMap;

use dcr_proto::authz::v1 as pb;
use envoy_types::ext_authz::v3::pb::{
    Authorization, CheckRequest, CheckResponse, HeaderAppendAction, HttpStatusCode,
};
use envoy_types::ext_authz::v3::{
    CheckRequestExt as _, CheckResponseExt as _, DeniedHttpResponseBuilder, OkHttpResponseBuilder,
};
use tonic::{Request, Response, Status};

use crate::check::{Checker, Outcome};

pub const PRODUCT_EXTENSION: &str = "dcr_product_id";

#[derive(Clone)]
pub struct EnvoyApi(pub Checker);

fn render(outcome: Outcome) -> CheckResponse {
    if outcome.allow {
        // Every dcr header is written with overwrite semantics, so a client cannot smuggle
        // its own value upstream. (Envoy applies headers_to_remove after these, so
        // removing them here would delete what was just set.)
        let mut ok = OkHttpResponseBuilder::new();
        if let Some(principal) = &outcome.principal {
            let overwrite = Some(HeaderAppendAction::OverwriteIfExistsOrAdd);
            ok.add_header(
                "x-dcr-application-id",
                principal.application_id.clone(),
                overwrite,
                false,
            );
            ok.add_header(
                "x-dcr-client-id",
                principal.client_id.clone(),
                overwrite,
                false,
            );
            ok.add_header("x-dcr-scopes", principal.scopes.join(" "), overwrite, true);
        }
        for (name, value) in &outcome.response_headers {
            ok.add_response_header(name.clone(), value.clone(), None, false);
        }
        let mut response = CheckResponse::with_status(Status::ok("allowed"));
        response.set_http_response(ok);
        return response;
    }
    let status = match outcome.http_status {
        401 => HttpStatusCode::Unauthorized,
        503 => HttpStatusCode::ServiceUnavailable,
        _ => HttpStatusCode::Forbidden,
    };
    let mut denied = DeniedHttpResponseBuilder::new();
    denied.set_http_status(status);
    if !outcome.www_authenticate.is_empty() {
        denied.add_header(
            "www-authenticate",
            outcome.www_authenticate.clone(),
            None,
            false,
        );
    }
    denied.add_header("content-type", "application/json", None, false);
    denied.add_header("cache-control", "no-store", None, false);
    denied.set_body(
        serde_json::json!({ "error": outcome.reason, "error_description": outcome.description })
            .to_string(),
    );
    let grpc_status = if outcome.http_status == 401 {
        Status::unauthenticated(outcome.reason)
    } else {
        Status::permission_denied(outcome.reason)
    };
    let mut response = CheckResponse::with_status(grpc_status);
    response.set_http_response(denied);
    response
}

#[tonic::async_trait]
impl Authorization for EnvoyApi {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        let request = request.into_inner();
        let product_id = request
            .attributes
            .as_ref()
            .and_then(|a| a.context_extensions.get(PRODUCT_EXTENSION).cloned())
            .unwrap_or_default();
        let headers: HashMap<String, String> =
            request.get_client_headers().cloned().unwrap_or_default();
        let check = pb::CheckRequest {
            product_id,
            headers,
            required_scopes: Vec::new(),
        };
        Ok(Response::new(render(self.0.check(&check).await)))
    }
}
