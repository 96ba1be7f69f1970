//! token-svc: brokers client-credentials token requests to the IdPs with each vendor's
//! quirks and caches the answers; serves issuer keys and introspection to the other dcr
//! services; offers a standard OAuth 2.0 token endpoint over HTTP.
//!
//! `main.rs` only parses config and calls [`run`]; tests use [`build`] and [`serve`].

pub mod broker;
pub mod config;
pub mod discovery;
pub mod errors;
pub mod grpc;
pub mod http;
pub mod introspect;
pub mod keys;
pub mod limits;
pub mod upstream;
pub mod vendor;

use std::future::Future;

use dcr_common::auth::{Authenticator, Role};
use dcr_common::server::ServiceSet;
use dcr_proto::token::v1::token_service_server::TokenServiceServer;
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::service::Routes;

pub use config::TokenConfig;

/// Everything token-svc serves from.
#[derive(Clone, Debug)]
pub struct TokenState {
    pub api: grpc::TokenApi,
    pub directory: dcr_common::directory::Directory,
    /// TLS on both listeners, when configured.
    pub tls: Option<dcr_common::tls::ServerTlsFiles>,
}

pub fn build(config: &TokenConfig) -> anyhow::Result<TokenState> {
    build_with_clock(config, dcr_common::clock::system())
}

/// `build` with a chosen clock (tests move time instead of sleeping).
pub fn build_with_clock(
    config: &TokenConfig,
    clock: dcr_common::clock::SharedClock,
) -> anyhow::Result<TokenState> {
    let http = reqwest::Client::builder()
        .timeout(config.idp_timeout)
        .connect_timeout(config.idp_timeout.min(std::time::Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("dcr-token/", env!("CARGO_PKG_VERSION")))
        .build()?;
    // Lazy: token-svc starts (and answers health) even before the registry is up.
    let channel = config
        .client_tls
        .endpoint(&config.registry_url, "DCR_REGISTRY_URL")?
        .connect_lazy();
    let directory = dcr_common::directory::Directory::new(
        channel,
        dcr_common::auth::ServiceCredentials::new(config.tokens.require(Role::Service)?)?,
    );
    let discovery = discovery::Discovery::new(http.clone(), config.url_policy);
    let broker = broker::Broker::new(
        directory.clone(),
        discovery.clone(),
        http.clone(),
        config.cache_capacity,
        config.cache_max_age,
        config.limits,
    );
    let introspector =
        introspect::Introspector::new(directory.clone(), discovery.clone(), http.clone());
    let keys = keys::KeyCache::new(http, discovery, config.keys_max_stale, clock);
    let service_auth = Authenticator::new(&config.tokens).guard(&[Role::Service]);
    Ok(TokenState {
        api: grpc::TokenApi {
            broker,
            keys,
            introspector,
            service_auth,
        },
        directory,
        tls: config.tls.clone(),
    })
}

/// Serves gRPC on `grpc` and HTTP on `http_listener` until `shutdown`, following the
/// registry's change stream meanwhile.
pub async fn serve(
    state: TokenState,
    grpc: TcpListener,
    http_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let follower = tokio::spawn(state.directory.clone().follow_changes());
    let stats = tokio::spawn(state.api.broker.clone().report_stats());
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tracing::info!(grpc = %grpc.local_addr()?, http = %http_listener.local_addr()?, "token-svc serving");
    let router = http::router(
        state.api.broker.clone(),
        dcr_common::server::ServerLimits::from_env()?,
    );
    let http_server: std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> =
        match &state.tls {
            Some(files) => {
                let acceptor = dcr_common::tls::ReloadingAcceptor::new(
                    files.clone(),
                    dcr_common::tls::HTTP_ALPN,
                )?;
                let incoming = dcr_common::tls::TlsIncoming::new(http_listener, acceptor)?;
                Box::pin(
                    axum::serve(
                        incoming,
                        router.into_make_service_with_connect_info::<http::Peer>(),
                    )
                    .with_graceful_shutdown(wait(stop_rx.clone()))
                    .into_future(),
                )
            }
            None => Box::pin(
                axum::serve(
                    dcr_common::peer::NoDelay(http_listener),
                    router.into_make_service_with_connect_info::<http::Peer>(),
                )
                .with_graceful_shutdown(wait(stop_rx.clone()))
                .into_future(),
            ),
        };
    let directory = state.directory.clone();
    let services = ServiceSet {
        routes: Routes::new(TokenServiceServer::new(state.api.clone())),
        names: vec![TokenServiceServer::<grpc::TokenApi>::NAME],
        // Ready once the change stream keeps the caches current.
        ready: Some(Box::pin(async move { directory.wait_following().await })),
        tls: state.tls.clone(),
    };
    let grpc_server = dcr_common::server::serve(grpc, services, wait(stop_rx));
    let (http_result, grpc_result) = tokio::join!(http_server, grpc_server);
    follower.abort();
    stats.abort();
    http_result?;
    grpc_result?;
    tracing::info!("token-svc stopped");
    Ok(())
}

pub async fn run(config: TokenConfig) -> anyhow::Result<()> {
    let state = build(&config)?;
    dcr_common::metrics::start("DCR_TOKEN_METRICS_LISTEN", "0.0.0.0:9092").await?;
    let grpc = dcr_common::server::bind(config.listen).await?;
    let http = dcr_common::server::bind(config.http_listen).await?;
    serve(state, grpc, http, dcr_common::server::shutdown_signal()).await
}
