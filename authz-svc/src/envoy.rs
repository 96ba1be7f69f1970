//! envoy.service.auth.v3.Authorization: dcr as Envoy's external authorizer. The product
//! comes from the route's `context_extensions`: `dcr_product_id` (its id) or `dcr_product`
//! (its name, for configs written before the product exists); both must agree. A route
//! may also name the scopes a call needs, `dcr_required_scopes` (space-separated, as in
//! OAuth): enforced as the dcr API's `required_scopes` are (403 `insufficient_scope`). The
//! checked HTTP request's id (`x-request-id`, else Envoy's request id) is this Check's
//! request id, in its logs and on the calls it makes. An allow adds
//! `x-dcr-application-id`, `x-dcr-client-id` and `x-dcr-scopes` upstream (replacing any the
//! client sent) and passes `Set-Cookie` to the client; a deny answers 401/403/503 with
//! `WWW-Authenticate` and a small JSON body.

use std::collections::HashMap;

use envoy_types::pb::google::protobuf::value::Kind;

use envoy_types::ext_authz::v3::pb::{
    Authorization, CheckRequest, CheckResponse, HeaderAppendAction, HttpStatusCode,
};
use envoy_types::ext_authz::v3::{
    CheckRequestExt as _, CheckResponseExt as _, DeniedHttpResponseBuilder, OkHttpResponseBuilder,
};
use tonic::{Request, Response, Status};

use dcr_common::request_id::RequestId;

use crate::check::{CheckInput, Checker};
use crate::decision::{BEARER, Decision, Denial, DenyReason, Principal};
use crate::xds::filters::{ROUTE_METADATA, ROUTE_PRODUCT_ID, ROUTE_PRODUCT_NAME, ROUTE_SCOPES};

pub const PRODUCT_EXTENSION: &str = "dcr_product_id";
pub const PRODUCT_NAME_EXTENSION: &str = "dcr_product";
pub const REQUIRED_SCOPES_EXTENSION: &str = "dcr_required_scopes";

#[derive(Clone)]
pub struct EnvoyApi(pub Checker);

fn render(decision: Decision) -> CheckResponse {
    match decision {
        Decision::Allow {
            principal,
            set_cookie,
        } => allowed(&principal, set_cookie),
        Decision::Deny(denial) => denied(&denial),
    }
}

fn allowed(principal: &Principal, set_cookie: Option<String>) -> CheckResponse {
    // Every dcr header is written with overwrite semantics, so a client cannot smuggle
    // its own value upstream. (Envoy applies headers_to_remove after these, so
    // removing them here would delete what was just set.)
    let mut ok = OkHttpResponseBuilder::new();
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
    if let Some(cookie) = set_cookie {
        ok.add_response_header("set-cookie", cookie, None, false);
    }
    let mut response = CheckResponse::with_status(Status::ok("allowed"));
    response.set_http_response(ok);
    response
}

fn denied(denial: &Denial) -> CheckResponse {
    let status = match denial.http_status() {
        401 => HttpStatusCode::Unauthorized,
        429 => HttpStatusCode::TooManyRequests,
        503 => HttpStatusCode::ServiceUnavailable,
        _ => HttpStatusCode::Forbidden,
    };
    let reason = denial.reason.as_str();
    let mut denied = DeniedHttpResponseBuilder::new();
    denied.set_http_status(status);
    let challenge = denial.www_authenticate();
    if !challenge.is_empty() {
        denied.add_header("www-authenticate", challenge, None, false);
    }
    denied.add_header("content-type", "application/json", None, false);
    denied.add_header("cache-control", "no-store", None, false);
    denied.set_body(
        serde_json::json!({ "error": reason, "error_description": denial.description }).to_string(),
    );
    let grpc_status = if denial.http_status() == 401 {
        Status::unauthenticated(reason)
    } else {
        Status::permission_denied(reason)
    };
    let mut response = CheckResponse::with_status(grpc_status);
    response.set_http_response(denied);
    response
}

/// The route's `dcr` metadata, which Envoy sends when ext_authz lists the namespace in
/// `route_metadata_context_namespaces`: the same product and scopes the fast path
/// reads, so one route config serves both.
struct RouteMetadata<'a>(Option<&'a envoy_types::pb::google::protobuf::Struct>);

impl<'a> RouteMetadata<'a> {
    fn of(
        attributes: Option<&'a envoy_types::pb::envoy::service::auth::v3::AttributeContext>,
    ) -> Self {
        Self(
            attributes
                .and_then(|a| a.route_metadata_context.as_ref())
                .and_then(|m| m.filter_metadata.get(ROUTE_METADATA)),
        )
    }

    fn value(&self, key: &str) -> Option<&'a Kind> {
        self.0?.fields.get(key)?.kind.as_ref()
    }

    fn text(&self, key: &str) -> String {
        match self.value(key) {
            Some(Kind::StringValue(text)) => text.clone(),
            _ => String::new(),
        }
    }

    /// A list of scopes, or one space-separated string of them. Anything else there
    /// requires a scope no token has, so the route fails closed.
    fn scopes(&self) -> Vec<String> {
        match self.value(ROUTE_SCOPES) {
            None => Vec::new(),
            Some(Kind::StringValue(text)) => text.split_whitespace().map(str::to_owned).collect(),
            Some(Kind::ListValue(list)) => list
                .values
                .iter()
                .map(|v| match &v.kind {
                    Some(Kind::StringValue(scope)) => scope.clone(),
                    _ => UNREADABLE_SCOPE.to_owned(),
                })
                .collect(),
            Some(_) => vec![UNREADABLE_SCOPE.to_owned()],
        }
    }
}

/// Stands for a required scope dcr could not read (never granted: it has a space).
const UNREADABLE_SCOPE: &str = "unreadable required_scopes";

/// The one value two places give, or None when they give different ones.
fn agreed(a: String, b: String) -> Option<String> {
    match (a.is_empty(), b.is_empty()) {
        (_, true) => Some(a),
        (true, false) => Some(b),
        (false, false) => (a == b).then_some(a),
    }
}

/// The checked HTTP request's own id, when it is fit to be a request id.
fn http_request_id(request: &CheckRequest) -> Option<RequestId> {
    let http = request
        .attributes
        .as_ref()?
        .request
        .as_ref()?
        .http
        .as_ref()?;
    [
        http.headers.get(dcr_common::request_id::HEADER),
        Some(&http.id),
    ]
    .into_iter()
    .flatten()
    .find_map(|id| RequestId::parse(id))
}

#[tonic::async_trait]
impl Authorization for EnvoyApi {
    async fn check(
        &self,
        request: Request<CheckRequest>,
    ) -> Result<Response<CheckResponse>, Status> {
        let request = request.into_inner();
        let attributes = request.attributes.as_ref();
        let extension = |name: &str| {
            attributes
                .and_then(|a| a.context_extensions.get(name).cloned())
                .unwrap_or_default()
        };
        let route = RouteMetadata::of(attributes);
        let source_address = attributes
            .and_then(|a| a.source.as_ref())
            .and_then(|peer| peer.address.as_ref())
            .and_then(|address| match &address.address {
                Some(
                    envoy_types::pb::envoy::config::core::v3::address::Address::SocketAddress(
                        socket,
                    ),
                ) => Some(socket.address.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let (Some(product_id), Some(product_name)) = (
            agreed(extension(PRODUCT_EXTENSION), route.text(ROUTE_PRODUCT_ID)),
            agreed(
                extension(PRODUCT_NAME_EXTENSION),
                route.text(ROUTE_PRODUCT_NAME),
            ),
        ) else {
            return Ok(Response::new(denied(&Denial::new(
                DenyReason::ProductMismatch,
                "the route's context extensions and its dcr metadata name different products",
                BEARER,
            ))));
        };
        let mut required_scopes: Vec<String> = extension(REQUIRED_SCOPES_EXTENSION)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        required_scopes.extend(route.scopes());
        let no_headers = HashMap::new();
        let input = CheckInput {
            product_id: &product_id,
            product_name: &product_name,
            // Borrowed, not copied: Envoy's map is the domain request's headers.
            headers: request.get_client_headers().unwrap_or(&no_headers),
            required_scopes: &required_scopes,
            source: &source_address,
        };
        let checked = self.0.check(&input);
        let decision = match http_request_id(&request) {
            // The gRPC call's id (Envoy usually sends none) is replaced by the HTTP one.
            Some(id) => dcr_common::request_id::scope(id, checked).await,
            None => checked.await,
        };
        Ok(Response::new(render(decision)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use envoy_types::pb::envoy::service::auth::v3::{AttributeContext, attribute_context};

    fn checked(header: Option<&str>, id: &str) -> CheckRequest {
        let http = attribute_context::HttpRequest {
            id: id.to_owned(),
            headers: header
                .map(|h| [("x-request-id".to_owned(), h.to_owned())].into())
                .unwrap_or_default(),
            ..Default::default()
        };
        CheckRequest {
            attributes: Some(AttributeContext {
                request: Some(attribute_context::Request {
                    http: Some(http),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn the_http_requests_own_id_is_taken_when_fit() {
        assert_eq!(
            http_request_id(&checked(Some("gw-1"), "envoy-1"))
                .map(|id| id.to_string())
                .as_deref(),
            Some("gw-1")
        );
        assert_eq!(
            http_request_id(&checked(Some("has spaces"), "envoy-1"))
                .map(|id| id.to_string())
                .as_deref(),
            Some("envoy-1")
        );
        assert_eq!(
            http_request_id(&checked(None, "envoy-1"))
                .map(|id| id.to_string())
                .as_deref(),
            Some("envoy-1")
        );
        assert!(http_request_id(&checked(None, "")).is_none());
        assert!(http_request_id(&CheckRequest::default()).is_none());
    }
}
