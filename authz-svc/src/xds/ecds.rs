//! `envoy.service.extension.v3.ExtensionConfigDiscoveryService`, state of the world:
//! each Envoy stream names the filters it wants (`resource_names`) and gets them now
//! and again whenever the published config changes. An ACK needs nothing; a NACK is
//! logged (Envoy keeps its last good config, and so the calls it cannot judge fall
//! back to ext_authz as before).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use envoy_types::pb::envoy::service::extension::v3::extension_config_discovery_service_server::ExtensionConfigDiscoveryService;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use super::Published;
use super::filters::ROUTE_FILTER;
use super::matchers::any;

const TYPE_URL: &str = "type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig";

#[derive(Clone)]
pub struct Ecds {
    pub(super) published: watch::Receiver<Option<Arc<Published>>>,
    /// True once authz-svc shuts down: every stream ends, so the server can drain.
    pub(super) closing: watch::Receiver<bool>,
    pub(super) rejections: Rejections,
}

/// The filters each Envoy (by node id) last rejected, other than dcr.route.
#[derive(Clone, Default)]
pub struct Rejections(Arc<std::sync::Mutex<HashMap<String, std::collections::HashSet<String>>>>);

impl Rejections {
    fn rejected(&self, node: &str, names: &[String]) {
        if let Ok(mut all) = self.0.lock() {
            all.entry(node.to_owned())
                .or_default()
                .extend(names.iter().filter(|n| *n != ROUTE_FILTER).cloned());
        }
    }

    fn accepted(&self, node: &str, names: &[String]) {
        if let Ok(mut all) = self.0.lock()
            && let Some(rejected) = all.get_mut(node)
        {
            rejected.retain(|n| !names.contains(n));
        }
    }

    /// Whether `node` holds a rejected filter (fails closed if the lock is poisoned).
    fn any(&self, node: &str) -> bool {
        self.0
            .lock()
            .map_or(true, |all| all.get(node).is_some_and(|r| !r.is_empty()))
    }
}

/// How long Envoy keeps `dcr.route` without a new one from dcr (xDS resource TTL).
/// authz-svc sends a new one every second (its `fast_from` moves on), so it expires
/// only when Envoy is cut off from authz-svc; then the listener's default config for
/// it applies, which gives no verdict, so `dcr.fast` allows nothing and every call goes
/// to ext_authz. An Envoy that cannot hear of revocations stops allowing on its own.
pub const ROUTE_TTL: Duration = Duration::from_secs(5);

/// The requested filters that changed since `sent`, each as an xDS `Resource` (the
/// wrapper that carries a TTL).
fn response(
    published: &Published,
    names: &[String],
    sent: &HashMap<String, String>,
    nonce: u64,
) -> DiscoveryResponse {
    let resources = names
        .iter()
        .filter_map(|name| {
            let (version, filter) = published.filters.get(name)?;
            if sent.get(name) == Some(version) {
                return None;
            }
            let ttl = (name == ROUTE_FILTER).then(|| envoy_types::pb::google::protobuf::Duration {
                seconds: i64::try_from(ROUTE_TTL.as_secs()).unwrap_or(i64::MAX),
                nanos: 0,
            });
            Some(any(&Resource {
                name: name.clone(),
                version: version.clone(),
                resource: Some(any(filter.as_ref())),
                ttl,
                ..Default::default()
            }))
        })
        .collect();
    DiscoveryResponse {
        version_info: published.version(names),
        resources,
        type_url: TYPE_URL.to_owned(),
        nonce: nonce.to_string(),
        ..Default::default()
    }
}

/// Envoy's NACK message dumps the whole rejected config first; the reason is at its end.
fn reason(message: &str) -> &str {
    let start = message.len().saturating_sub(600);
    let start = (start..message.len())
        .find(|i| message.is_char_boundary(*i))
        .unwrap_or(0);
    &message[start..]
}

/// One Envoy's stream, until either side ends it: what it asks for now, and again
/// whenever it changes.
async fn follow(
    mut inbound: Streaming<DiscoveryRequest>,
    mut published: watch::Receiver<Option<Arc<Published>>>,
    mut closing: watch::Receiver<bool>,
    rejections: Rejections,
    outbound: mpsc::Sender<Result<DiscoveryResponse, Status>>,
) {
    let mut names: Vec<String> = Vec::new();
    let mut sent: HashMap<String, String> = HashMap::new();
    let mut nonce = 0u64;
    let mut node = String::new();
    loop {
        tokio::select! {
            next = inbound.message() => match next {
                Ok(Some(request)) => {
                    if let Some(id) = request.node.as_ref().map(|n| n.id.as_str()).filter(|id| !id.is_empty()) {
                        id.clone_into(&mut node);
                    }
                    if let Some(error) = &request.error_detail {
                        tracing::warn!(
                            node = %node,
                            version = %request.version_info,
                            error = %reason(&error.message),
                            "Envoy rejected dcr's filter config; it keeps its last good one, so its fast path stops until it takes a new one"
                        );
                        rejections.rejected(&node, &request.resource_names);
                    } else if !request.response_nonce.is_empty() {
                        rejections.accepted(&node, &request.resource_names);
                    }
                    if request.resource_names != names {
                        names = request.resource_names;
                        sent.clear();
                    }
                }
                Ok(None) | Err(_) => return,
            },
            changed = published.changed() => if changed.is_err() { return },
            _ = closing.wait_for(|closing| *closing) => return,
        }
        let Some(current) = published.borrow_and_update().clone() else {
            continue;
        };
        let changed = names
            .iter()
            .any(|n| current.filters.get(n).map(|(v, _)| v) != sent.get(n));
        if names.is_empty() || !changed {
            continue;
        }
        // An Envoy that rejected dcr.fast or dcr.jwt_authn keeps an older one, which may
        // still allow what was revoked since: its dcr.route is not renewed, so it expires
        // (ROUTE_TTL) and the fast path allows nothing until the Envoy takes a new one.
        if names.iter().any(|n| n == ROUTE_FILTER) && rejections.any(&node) {
            continue;
        }
        nonce += 1;
        let response = response(&current, &names, &sent, nonce);
        if outbound.send(Ok(response)).await.is_err() {
            return;
        }
        for name in &names {
            if let Some((version, _)) = current.filters.get(name) {
                sent.insert(name.clone(), version.clone());
            }
        }
    }
}

#[tonic::async_trait]
impl ExtensionConfigDiscoveryService for Ecds {
    type StreamExtensionConfigsStream = ReceiverStream<Result<DiscoveryResponse, Status>>;

    async fn stream_extension_configs(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Self::StreamExtensionConfigsStream>, Status> {
        let (outbound, responses) = mpsc::channel(4);
        tokio::spawn(follow(
            request.into_inner(),
            self.published.clone(),
            self.closing.clone(),
            self.rejections.clone(),
            outbound,
        ));
        Ok(Response::new(ReceiverStream::new(responses)))
    }

    type DeltaExtensionConfigsStream = ReceiverStream<Result<DeltaDiscoveryResponse, Status>>;

    async fn delta_extension_configs(
        &self,
        _request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Self::DeltaExtensionConfigsStream>, Status> {
        Err(Status::unimplemented(
            "dcr serves ECDS as state of the world: use api_type GRPC, not DELTA_GRPC",
        ))
    }

    async fn fetch_extension_configs(
        &self,
        request: Request<DiscoveryRequest>,
    ) -> Result<Response<DiscoveryResponse>, Status> {
        let current = self
            .published
            .borrow()
            .clone()
            .ok_or_else(|| Status::unavailable("dcr has not read the registry yet"))?;
        Ok(Response::new(response(
            &current,
            &request.get_ref().resource_names,
            &HashMap::new(),
            0,
        )))
    }
}
