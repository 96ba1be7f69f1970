//! spawn_app_on_sqlite: registry-svc in-process on 127.0.0.1:0 over a SQLite file, as
//! `dcrctl dev` runs it: no Postgres needed. The caller owns the file (a temp dir), so a
//! test can stop the service and start it again on the same data.

use std::path::Path;
use std::sync::Arc;

use dcr_common::clock::ShiftedClock;
use dcr_proto::registry::v1 as pb;
use registry_svc::Registry;
use tokio::sync::oneshot;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::registry::{ADMIN_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN, test_config};

pub struct SqliteApp {
    pub addr: std::net::SocketAddr,
    pub registry: Registry,
    pub clock: Arc<ShiftedClock>,
    /// The `sqlite:` DATABASE_URL the service was given.
    pub database_url: String,
    pub channel: Channel,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

/// Starts registry-svc with `DATABASE_URL=sqlite://<file>` (created when missing).
pub async fn spawn_app_on_sqlite(file: &Path) -> SqliteApp {
    // Installs the test log capture, as spawn_app does.
    crate::registry::captured_logs();
    let database_url = format!("sqlite://{}", file.display());
    let config = test_config(&database_url);
    let mut registry = registry_svc::build(&config).await.expect("build registry");
    let clock = Arc::new(ShiftedClock::new());
    registry.clock = clock.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel();
    let server = tokio::spawn({
        let registry = registry.clone();
        async move {
            registry_svc::serve(registry, &config, listener, async {
                let _ = rx.await;
            })
            .await
        }
    });
    // The listener is bound, so connecting cannot race the server's start.
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    SqliteApp {
        addr,
        registry,
        clock,
        database_url,
        channel,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl SqliteApp {
    /// Stops serving and waits for the server to finish. The store's pools close when
    /// the last handle to the registry goes (this app and its server task).
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("join").expect("server ran cleanly");
        }
    }

    fn with(&self, token: &str, developer: Option<&str>) -> InterceptedService<Channel, Caller> {
        InterceptedService::new(
            self.channel.clone(),
            Caller {
                token: token.to_owned(),
                developer: developer.map(str::to_owned),
            },
        )
    }

    pub fn providers(
        &self,
    ) -> pb::provider_service_client::ProviderServiceClient<InterceptedService<Channel, Caller>>
    {
        pb::provider_service_client::ProviderServiceClient::new(self.with(ADMIN_TOKEN, None))
    }

    pub fn strategies(
        &self,
    ) -> pb::strategy_service_client::StrategyServiceClient<InterceptedService<Channel, Caller>>
    {
        pb::strategy_service_client::StrategyServiceClient::new(self.with(ADMIN_TOKEN, None))
    }

    pub fn products(
        &self,
    ) -> pb::product_service_client::ProductServiceClient<InterceptedService<Channel, Caller>> {
        pb::product_service_client::ProductServiceClient::new(self.with(ADMIN_TOKEN, None))
    }

    pub fn portal(
        &self,
        developer: &str,
    ) -> pb::application_service_client::ApplicationServiceClient<InterceptedService<Channel, Caller>>
    {
        pb::application_service_client::ApplicationServiceClient::new(
            self.with(PORTAL_TOKEN, Some(developer)),
        )
    }

    pub fn directory(
        &self,
    ) -> pb::directory_service_client::DirectoryServiceClient<InterceptedService<Channel, Caller>>
    {
        pb::directory_service_client::DirectoryServiceClient::new(self.with(SERVICE_TOKEN, None))
    }
}

/// Adds a caller's token (and developer) to every request, as `registry::Metadata` does
/// for [`crate::registry::TestApp`].
#[derive(Clone)]
pub struct Caller {
    token: String,
    developer: Option<String>,
}

impl Interceptor for Caller {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        let bearer = format!("Bearer {}", self.token)
            .parse()
            .map_err(|_| tonic::Status::internal("bad token"))?;
        request.metadata_mut().insert("authorization", bearer);
        if let Some(developer) = &self.developer {
            let value = developer
                .parse()
                .map_err(|_| tonic::Status::internal("bad developer"))?;
            request.metadata_mut().insert("x-dcr-developer-id", value);
        }
        Ok(request)
    }
}
