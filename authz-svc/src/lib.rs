//! authz-svc: answers "may this call through?" for gateways, natively
//! (`dcr.authz.v1.AuthzService`) and as an Envoy ext_authz server. No database and no IdP
//! calls on the hot path: caches, kept current by the registry's change stream.
//!
//! `main.rs` only parses config and calls [`run`]; tests use [`build`] and [`serve`].

pub mod check;
pub mod config;
pub mod credentials;
pub mod decision;
pub mod envoy;
pub mod grpc;
pub mod introspection;
pub mod keys;
pub mod session;
pub mod stats;
pub mod tokens;
pub mod verify;
pub mod xds;

use std::future::Future;
use std::sync::Arc;

use dcr_common::auth::{Authenticator, Guard, Role, ServiceCredentials};
use dcr_common::clock::SharedClock;
use dcr_common::directory::Directory;
use dcr_common::seal::Sealer;
use dcr_common::server::ServiceSet;
use dcr_common::tls::{ClientTlsFiles, ServerTlsFiles};
use dcr_proto::authz::v1::authz_service_server::AuthzServiceServer;
use envoy_types::ext_authz::v3::pb::AuthorizationServer;
use envoy_types::pb::envoy::service::extension::v3::extension_config_discovery_service_server::ExtensionConfigDiscoveryServiceServer;
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;
use tonic::transport::Channel;

pub use config::AuthzConfig;

#[derive(Clone)]
pub struct AuthzState {
    pub checker: check::Checker,
    pub directory: Directory,
    pub fast_path: xds::FastPath,
    gateway_auth: Guard,
    tls: Option<ServerTlsFiles>,
}

/// Calls to the registry and token-svc are bounded: a hung peer makes Checks fail closed
/// (503) instead of hanging the gateway. Token-svc's own IdP calls fit inside this.
const PEER_CALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
const PEER_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

fn channel(tls: &ClientTlsFiles, url: &str, var: &'static str) -> anyhow::Result<Channel> {
    Ok(tls
        .endpoint(url, var)?
        .connect_timeout(PEER_CONNECT_TIMEOUT)
        .timeout(PEER_CALL_TIMEOUT)
        .connect_lazy())
}

pub fn build(config: &AuthzConfig, clock: SharedClock) -> anyhow::Result<AuthzState> {
    let credentials = ServiceCredentials::new(config.tokens.require(Role::Service)?)?;
    let directory = Directory::new(
        channel(&config.client_tls, &config.registry_url, "DCR_REGISTRY_URL")?,
        credentials.clone(),
    );
    let tokens = tokens::TokenClient::new(
        channel(&config.client_tls, &config.token_url, "DCR_TOKEN_URL")?,
        credentials,
    );
    let keys = keys::KeyRing::new(tokens.clone(), clock.clone(), config.keys_max_stale);
    let fast_path = xds::FastPath::new(
        directory.clone(),
        tokens.clone(),
        clock.clone(),
        config.leeway,
    );
    let sealer = Arc::new(Sealer::new(&config.session_key, &[]));
    let checker = check::Checker::new(
        directory.clone(),
        tokens,
        keys,
        sealer,
        clock,
        config.leeway,
        check::CheckLimits {
            introspections_per_provider: config.introspection_rate,
            per_source: config.source_rate,
        },
    );
    Ok(AuthzState {
        checker,
        directory,
        fast_path,
        gateway_auth: Authenticator::new(&config.tokens).guard(&[Role::Gateway]),
        tls: config.tls.clone(),
    })
}

/// Serves both Check APIs and the Envoy fast path's ECDS (behind the gateway token)
/// until `shutdown`.
pub async fn serve(
    state: AuthzState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let follower = tokio::spawn(state.directory.clone().follow_changes());
    let stats = tokio::spawn(state.checker.clone().report_stats());
    let fast_path = tokio::spawn(state.fast_path.clone().keep_current());
    let guard = &state.gateway_auth;
    let routes = Routes::new(guard.wrap(AuthzServiceServer::new(grpc::AuthzApi(
        state.checker.clone(),
    ))))
    .add_service(guard.wrap(AuthorizationServer::new(envoy::EnvoyApi(
        state.checker.clone(),
    ))))
    .add_service(guard.wrap(ExtensionConfigDiscoveryServiceServer::new(
        state.fast_path.ecds(),
    )));
    let directory = state.directory.clone();
    let services = ServiceSet {
        routes,
        names: vec![
            AuthzServiceServer::<grpc::AuthzApi>::NAME,
            AuthorizationServer::<envoy::EnvoyApi>::NAME,
            ExtensionConfigDiscoveryServiceServer::<xds::Ecds>::NAME,
        ],
        // Ready once the change stream keeps the caches current (revocation within 1 s).
        ready: Some(Box::pin(async move { directory.wait_following().await })),
        tls: state.tls.clone(),
    };
    tracing::info!(addr = %listener.local_addr()?, "authz-svc serving");
    let closing = state.fast_path.clone();
    let shutdown = async move {
        shutdown.await;
        closing.close();
    };
    let served = dcr_common::server::serve(listener, services, shutdown).await;
    follower.abort();
    stats.abort();
    fast_path.abort();
    served?;
    tracing::info!("authz-svc stopped");
    Ok(())
}

pub async fn run(config: AuthzConfig) -> anyhow::Result<()> {
    let state = build(&config, dcr_common::clock::system())?;
    dcr_common::metrics::start("DCR_AUTHZ_METRICS_LISTEN", "0.0.0.0:9093").await?;
    let listener = dcr_common::server::bind(config.listen).await?;
    serve(state, listener, dcr_common::server::shutdown_signal()).await
}
