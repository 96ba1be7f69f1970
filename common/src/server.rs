//! gRPC server bootstrap shared by every service: the service's routes plus
//! `grpc.health.v1` and server reflection (v1 and v1alpha), served on a listener the
//! caller bound (port 0 in tests), until the shutdown future resolves. On shutdown every
//! service is first marked NOT_SERVING so load balancers stop sending, then in-flight
//! calls drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::coalesce;

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// Bounds on what callers can make a server hold, from the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// DCR_MAX_CONCURRENT_STREAMS: HTTP/2 streams one connection may have open (default 256).
    pub streams_per_connection: u32,
    /// DCR_MAX_CONCURRENT_REQUESTS: calls in progress on the whole server (default 4096);
    /// more wait for a free place.
    pub concurrent_requests: usize,
    /// DCR_MAX_HEADER_LIST_BYTES: the HTTP/2 header list of one call (default 16384).
    pub header_list_bytes: u32,
    /// DCR_REQUEST_TIMEOUT_SECONDS: one call, start to response (default 60); streams
    /// such as WatchChanges go on after their response has started.
    pub request_timeout: std::time::Duration,
}

impl ServerLimits {
    const STREAMS: u64 = 256;
    const REQUESTS: u64 = 4096;
    const HEADER_BYTES: u64 = 16 * 1024;
    const TIMEOUT_SECS: u64 = 60;

    pub fn from_env() -> Result<Self, crate::config::ConfigError> {
        let number = |var: &'static str, default: u64| -> Result<u64, crate::config::ConfigError> {
            match crate::config::optional(var) {
                None => Ok(default),
                Some(raw) => raw.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    crate::config::ConfigError::new(
                        var,
                        format!("{raw:?} is not a positive whole number"),
                    )
                }),
            }
        };
        let small = |var: &'static str, default: u64| -> Result<u32, crate::config::ConfigError> {
            u32::try_from(number(var, default)?)
                .map_err(|_| crate::config::ConfigError::new(var, "is too large"))
        };
        Ok(Self {
            streams_per_connection: small("DCR_MAX_CONCURRENT_STREAMS", Self::STREAMS)?,
            concurrent_requests: usize::try_from(number(
                "DCR_MAX_CONCURRENT_REQUESTS",
                Self::REQUESTS,
            )?)
            .unwrap_or(usize::MAX),
            header_list_bytes: small("DCR_MAX_HEADER_LIST_BYTES", Self::HEADER_BYTES)?,
            request_timeout: std::time::Duration::from_secs(number(
                "DCR_REQUEST_TIMEOUT_SECONDS",
                Self::TIMEOUT_SECS,
            )?),
        })
    }
}

/// The defaults `from_env` applies to unset variables (tests and `dcrctl dev`).
impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            streams_per_connection: Self::STREAMS as u32,
            concurrent_requests: Self::REQUESTS as usize,
            header_list_bytes: Self::HEADER_BYTES as u32,
            request_timeout: std::time::Duration::from_secs(Self::TIMEOUT_SECS),
        }
    }
}

/// What a service hands to `serve`.
pub struct ServiceSet {
    pub routes: Routes,
    /// Fully qualified gRPC service names, reported by the health service.
    pub names: Vec<&'static str>,
    /// Resolves when the service can answer correctly (e.g. its caches follow the
    /// registry's change stream); until then health says NOT_SERVING. None: at once.
    pub ready: Option<std::pin::Pin<Box<dyn Future<Output = ()> + Send>>>,
    /// Set: the listener speaks TLS only (DCR_TLS_CERT_FILE and friends).
    pub tls: Option<crate::tls::ServerTlsFiles>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("reflection setup failed: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("server failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
}

pub use crate::listen::bind;

pub async fn serve(
    listener: TcpListener,
    services: ServiceSet,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), ServeError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    let initial = if services.ready.is_some() {
        ServingStatus::NotServing
    } else {
        ServingStatus::Serving
    };
    set_status(&health, &services.names, initial).await;
    let stopping = Arc::new(AtomicBool::new(false));
    let readiness = services
        .ready
        .map(|ready| report_ready(ready, &health, &services.names, &stopping));

    let reflection_v1 = reflection(&services.names).build_v1()?;
    let reflection_v1alpha = reflection(&services.names).build_v1alpha()?;

    let names = services.names.clone();
    let drain = async move {
        shutdown.await;
        stopping.store(true, Ordering::SeqCst);
        if let Some(readiness) = readiness {
            readiness.abort();
        }
        tracing::info!("shutting down: marking NOT_SERVING and draining in-flight calls");
        set_status(&health, &names, ServingStatus::NotServing).await;
    };

    let tls = services
        .tls
        .map(|files| crate::tls::ReloadingAcceptor::new(files, crate::tls::GRPC_ALPN))
        .transpose()?;
    let limits = ServerLimits::from_env()?;
    let router = Server::builder()
        .max_concurrent_streams(limits.streams_per_connection)
        .http2_max_header_list_size(limits.header_list_bytes)
        .timeout(limits.request_timeout)
        .layer(
            tower::ServiceBuilder::new()
                .layer(crate::metrics::MetricsLayer)
                .layer(crate::request_id::RequestIdLayer)
                .layer(crate::concurrency::ConcurrencyLimitLayer::new(
                    limits.concurrent_requests,
                )),
        )
        .add_routes(services.routes)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha);
    // Answers of calls that finish together leave in one write (coalesce.rs).
    match tls {
        Some(acceptor) => {
            let incoming = coalesce::each(crate::tls::TlsIncoming::new(listener, acceptor)?);
            router.serve_with_incoming_shutdown(incoming, drain).await?;
        }
        // Small gRPC frames must leave at once: without TCP_NODELAY, Nagle's algorithm
        // and delayed ACKs add ~40 ms to replies written in more than one piece.
        None => {
            let incoming = coalesce::each(TcpIncoming::from(listener).with_nodelay(Some(true)));
            router.serve_with_incoming_shutdown(incoming, drain).await?;
        }
    }
    Ok(())
}

/// The status of each named service, then of the server as a whole (`""`).
async fn set_status(health: &HealthReporter, names: &[&'static str], status: ServingStatus) {
    for name in names {
        health.set_service_status(*name, status).await;
    }
    health.set_service_status("", status).await;
}

/// Health turns SERVING once `ready` resolves, unless shutdown began first.
fn report_ready(
    ready: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    health: &HealthReporter,
    names: &[&'static str],
    stopping: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (health, names, stopping) = (health.clone(), names.to_vec(), stopping.clone());
    tokio::spawn(async move {
        ready.await;
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        set_status(&health, &names, ServingStatus::Serving).await;
        tracing::info!("ready: health reports SERVING");
    })
}

/// Reflection advertises what this server serves, not every service in dcr's protos.
fn reflection(names: &[&'static str]) -> tonic_reflection::server::Builder<'static> {
    names.iter().fold(
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(dcr_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .with_service_name(HEALTH_SERVICE),
        |builder, name| builder.with_service_name(*name),
    )
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled: a signal that arrives between the call and
/// the first `.await` (say, right after a process printed that it is ready) is caught
/// rather than killing the process with the default action.
#[cfg(unix)]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind: SignalKind, name: &'static str| {
        signal(kind)
            .inspect_err(|error| tracing::warn!(%error, "cannot listen for {name}"))
            .ok()
    };
    let interrupt = listen(SignalKind::interrupt(), "Ctrl-C");
    let terminate = listen(SignalKind::terminate(), "SIGTERM");
    async move {
        let next = |signal: Option<tokio::signal::unix::Signal>| async move {
            match signal {
                Some(mut signal) => {
                    signal.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            () = next(interrupt) => {}
            () = next(terminate) => {}
        }
    }
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    }
}

/// The `health` subcommand of every service binary (container health checks, exec
/// probes): asks the gRPC health service at `listen` (an unspecified address means this
/// host) and answers whether it is SERVING, within 3 seconds.
pub async fn probe(listen: SocketAddr) -> bool {
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let check = async {
        let channel = probe_endpoint(addr).ok()?.connect().await.ok()?;
        let status = tonic_health::pb::health_client::HealthClient::new(channel)
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .ok()?
            .into_inner()
            .status;
        Some(status == ServingStatus::Serving as i32)
    };
    tokio::time::timeout(std::time::Duration::from_secs(3), check)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// `http://` to a plaintext listener; with the service's TLS settings,
/// `https://localhost:<port>` trusting DCR_TLS_CA_FILE and presenting the client
/// certificate when mTLS is on. The certificate must name `localhost` for the probe.
fn probe_endpoint(
    addr: SocketAddr,
) -> Result<tonic::transport::Endpoint, crate::config::ConfigError> {
    if crate::tls::ServerTlsFiles::from_env()?.is_some() {
        crate::tls::ClientTlsFiles::from_env()?.endpoint(
            &format!("https://localhost:{}", addr.port()),
            "DCR_TLS_CA_FILE",
        )
    } else {
        crate::tls::ClientTlsFiles::default().endpoint(&format!("http://{addr}"), "listen address")
    }
}

/// `health` for a binary whose listen address is `var` (default `default`): exit code 0
/// when SERVING, 1 otherwise (2 for a bad address).
pub async fn health_command(var: &'static str, default: &str) -> std::process::ExitCode {
    match crate::config::listen_addr(var, default) {
        Ok(listen) if probe(listen).await => std::process::ExitCode::SUCCESS,
        Ok(listen) => {
            eprintln!("not serving at {listen}");
            std::process::ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("{error}");
            std::process::ExitCode::from(2)
        }
    }
}
