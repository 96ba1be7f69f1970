//! registry-svc: persists providers, auth strategies, API products, applications,
//! credentials and registrations, and keeps each application's IdP client in step.
//!
//! `main.rs` only parses config and calls [`run`]; tests and launchers use [`build`] and
//! [`serve`] to start the service in-process on a listener they bound.

pub mod api;
pub mod config;
pub mod domain;
pub mod identity;
pub mod idp;
pub mod lifecycle;
pub mod registry;
pub mod store;

use std::future::Future;
use std::sync::Arc;

use dcr_common::seal::Sealer;
use secrecy::ExposeSecret as _;
use tokio::net::TcpListener;

pub use config::RegistryConfig;
pub use registry::{Faults, Registry, Settings};

/// Opens the store DATABASE_URL names (running pending migrations) and assembles the
/// registry.
pub async fn build(config: &RegistryConfig) -> anyhow::Result<Registry> {
    let sealer = Arc::new(Sealer::new(
        &config.master_key,
        &config.previous_master_keys,
    ));
    let store = open_store(config.database_url.expose_secret(), sealer).await?;
    Ok(Registry {
        store,
        idp: idp::IdpDeps::new(config.url_policy, config.idp_timeout)?,
        clock: dcr_common::clock::system(),
        settings: Settings {
            url_policy: config.url_policy,
            operation_lease: config.operation_lease,
        },
        faults: Arc::new(Faults::default()),
    })
}

/// Postgres for `postgres://` and `postgresql://` URLs (deployments: several replicas
/// share it); SQLite for `sqlite:` URLs (dev mode and single-node runs: one process owns
/// the file). The URL itself is never echoed: it may hold a password.
async fn open_store(url: &str, sealer: Arc<Sealer>) -> anyhow::Result<Arc<dyn store::Store>> {
    let cannot_open =
        |e: store::StoreError| anyhow::anyhow!("cannot open the database (DATABASE_URL): {e}");
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = store::PgStore::connect(url, sealer)
            .await
            .map_err(cannot_open)?;
        Ok(Arc::new(store))
    } else if url.starts_with("sqlite:") {
        let store = store::SqliteStore::open(url, sealer)
            .await
            .map_err(cannot_open)?;
        Ok(Arc::new(store))
    } else {
        anyhow::bail!(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite: (e.g. sqlite://.dcr/dcr.db)"
        )
    }
}

/// Serves the registry's gRPC services (plus health and reflection) and runs the
/// reconciler, until `shutdown` resolves.
pub async fn serve(
    registry: Registry,
    config: &RegistryConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let reconciler = tokio::spawn(registry.clone().run_reconciler(config.reconcile_interval));
    let identity = config
        .identity
        .clone()
        .map(|c| Arc::new(identity::Identity::new(c)));
    let mut services = api::services(&registry, &config.tokens, identity);
    services.tls = config.tls.clone();
    tracing::info!(addr = %listener.local_addr()?, "registry-svc serving");
    let served = dcr_common::server::serve(listener, services, shutdown).await;
    reconciler.abort();
    served?;
    tracing::info!("registry-svc stopped");
    Ok(())
}

/// Runs registry-svc until Ctrl-C or SIGTERM.
pub async fn run(config: RegistryConfig) -> anyhow::Result<()> {
    let registry = build(&config).await?;
    dcr_common::metrics::start("DCR_REGISTRY_METRICS_LISTEN", "0.0.0.0:9091").await?;
    let listener = dcr_common::server::bind(config.listen).await?;
    serve(
        registry,
        &config,
        listener,
        dcr_common::server::shutdown_signal(),
    )
    .await
}

/// Applies pending migrations and returns (`registry-svc migrate`).
pub async fn migrate(config: &RegistryConfig) -> anyhow::Result<()> {
    build(config).await.map(|_| ())
}
