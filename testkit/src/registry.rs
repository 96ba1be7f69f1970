//! spawn_app: registry-svc in-process on 127.0.0.1:0 against a fresh database, with
//! typed clients for each caller role, a manual clock and captured logs.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use dcr_common::auth::CallerTokens;
use dcr_common::clock::ShiftedClock;
use dcr_proto::registry::v1 as pb;
use registry_svc::domain::validate::UrlPolicy;
use registry_svc::{Registry, RegistryConfig};
use secrecy::SecretString;
use tokio::sync::oneshot;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub const ADMIN_TOKEN: &str = "admin-token-for-tests-0123456789";
pub const PORTAL_TOKEN: &str = "portal-token-for-tests-0123456789";
pub const SERVICE_TOKEN: &str = "service-token-for-tests-0123456789";
pub const GATEWAY_TOKEN: &str = "gateway-token-for-tests-0123456789";

/// Every role's test token: each service knows them all, so a token of the wrong role
/// gets PERMISSION_DENIED, as in a deployment that sets every variable.
pub fn caller_tokens() -> CallerTokens {
    CallerTokens {
        admin: Some(SecretString::from(ADMIN_TOKEN)),
        portal: Some(SecretString::from(PORTAL_TOKEN)),
        gateway: Some(SecretString::from(GATEWAY_TOKEN)),
        service: Some(SecretString::from(SERVICE_TOKEN)),
    }
}

/// Every log line of this test process (nextest runs each test in its own process).
pub fn captured_logs() -> String {
    let buffer = log_buffer();
    let bytes = buffer.lock().map(|b| b.clone()).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    BUFFER
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let writer = CapturingWriter(buffer.clone());
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    "trace,h2=info,hyper=info,tower=info,sqlx=info,reqwest=debug,hyper_util=info",
                )
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .event_format(dcr_common::telemetry::CallFields::pretty(
                    tracing_subscriber::fmt::format().with_ansi(false),
                ))
                .try_init();
            buffer
        })
        .clone()
}

#[derive(Clone)]
struct CapturingWriter(Arc<Mutex<Vec<u8>>>);

impl Write for CapturingWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        // Also show it when a test fails.
        std::io::stderr().write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A fresh database in the test cluster (DCR_TEST_DATABASE_URL, set by scripts/test).
pub async fn fresh_database() -> String {
    let admin_url = std::env::var("DCR_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("DCR_TEST_DATABASE_URL is not set: run the tests with scripts/test, or point it at a Postgres whose user may CREATE DATABASE")
    });
    let name = format!("dcr_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("connect to the test cluster");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    let mut url = url::Url::parse(&admin_url).expect("DCR_TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    /// `http://127.0.0.1:port`, or `https://localhost:port` with TLS.
    pub url: String,
    pub registry: Registry,
    pub clock: Arc<ShiftedClock>,
    pub database_url: String,
    pub clients: RegistryClients,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config(database_url: &str) -> RegistryConfig {
    RegistryConfig {
        database_url: SecretString::from(database_url.to_owned()),
        master_key: [42; 32],
        previous_master_keys: Vec::new(),
        tokens: caller_tokens(),
        listen: "127.0.0.1:0".parse().expect("addr"),
        url_policy: UrlPolicy {
            allow_http_loopback: true,
            allow_http_hosts: &[],
        },
        idp_timeout: registry_svc::config::defaults::IDP_TIMEOUT,
        tls: None,
        // Tests drive the reconciler themselves (reconcile_once), with the manual clock.
        reconcile_interval: Duration::from_secs(3600),
        operation_lease: registry_svc::config::defaults::OPERATION_LEASE,
        identity: None,
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(adjust: impl FnOnce(&mut RegistryConfig)) -> TestApp {
    let database_url = fresh_database().await;
    spawn_app_on(database_url, adjust).await
}

/// registry-svc on the store `database_url` names (a fresh Postgres database, or a SQLite
/// file the caller owns, so it can stop the service and start it again on the same data).
pub async fn spawn_app_on(
    database_url: String,
    adjust: impl FnOnce(&mut RegistryConfig),
) -> TestApp {
    log_buffer();
    let mut config = test_config(&database_url);
    adjust(&mut config);
    let mut registry = registry_svc::build(&config).await.expect("build registry");
    let clock = Arc::new(ShiftedClock::new());
    registry.clock = clock.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let config_tls = config.tls.clone();
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
    // The listener is bound, so connecting cannot race the server's start. With TLS, the
    // test's certificate set is the folder of the server's certificate.
    let tls = tls_set(&config_tls);
    let url = crate::tls::url(addr, tls.as_ref());
    let channel = crate::tls::client(tls.as_ref())
        .endpoint(&url, "registry")
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    TestApp {
        addr,
        url,
        registry,
        clock,
        database_url,
        clients: RegistryClients::new(channel),
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// The certificate set (testkit::tls) a TLS listener serves from.
pub fn tls_set(tls: &Option<dcr_common::tls::ServerTlsFiles>) -> Option<dcr_common::pki::SetFiles> {
    tls.as_ref()
        .map(|files| dcr_common::pki::SetFiles::in_dir(files.cert.parent().expect("cert folder")))
}

impl TestApp {
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("join").expect("server ran cleanly");
        }
    }

    pub async fn pool(&self) -> sqlx::PgPool {
        sqlx::PgPool::connect(&self.database_url)
            .await
            .expect("connect")
    }

    /// `n` copies of `application_id`, each ACTIVE with client id `copy-<i>` and an
    /// APPROVED registration for `product_id`, written straight into the database (no
    /// IdP clients, no change events): for measuring what gateways do with many apps.
    pub async fn approve_copies(&self, application_id: &str, product_id: &str, n: usize) {
        let pool = self.pool().await;
        let app: uuid::Uuid = application_id.parse().expect("an application id");
        let product: uuid::Uuid = product_id.parse().expect("a product id");
        let n = i64::try_from(n).expect("a count");
        sqlx::query(
            "INSERT INTO applications (id, developer_id, name, description, strategy_id, client_id,
                 redirect_uris, state, create_time, update_time)
             SELECT gen_random_uuid(), developer_id, name || ' copy ' || i, description, strategy_id,
                 'copy-' || i, redirect_uris, 'ACTIVE', now(), now()
             FROM applications, generate_series(1, $2) AS i WHERE id = $1",
        )
        .bind(app)
        .bind(n)
        .execute(&pool)
        .await
        .expect("copy the application");
        sqlx::query(
            "INSERT INTO registrations (id, application_id, product_id, status, create_time, update_time)
             SELECT gen_random_uuid(), id, $1, 'APPROVED', now(), now()
             FROM applications WHERE client_id LIKE 'copy-%'",
        )
        .bind(product)
        .execute(&pool)
        .await
        .expect("approve the copies");
    }
}

impl std::ops::Deref for TestApp {
    type Target = RegistryClients;

    fn deref(&self) -> &RegistryClients {
        &self.clients
    }
}

/// Typed registry clients for each caller role over one channel: the in-process
/// registry's (`TestApp` derefs to them) or a registry-svc process's.
#[derive(Clone)]
pub struct RegistryClients {
    pub channel: Channel,
}

impl RegistryClients {
    pub fn new(channel: Channel) -> Self {
        Self { channel }
    }

    fn with(&self, token: &str, developer: Option<&str>) -> InterceptedService<Channel, Metadata> {
        InterceptedService::new(
            self.channel.clone(),
            Metadata {
                token: token.to_owned(),
                developer: developer.map(str::to_owned),
            },
        )
    }

    pub fn providers(
        &self,
    ) -> pb::provider_service_client::ProviderServiceClient<InterceptedService<Channel, Metadata>>
    {
        pb::provider_service_client::ProviderServiceClient::new(self.with(ADMIN_TOKEN, None))
    }

    pub fn strategies(
        &self,
    ) -> pb::strategy_service_client::StrategyServiceClient<InterceptedService<Channel, Metadata>>
    {
        pb::strategy_service_client::StrategyServiceClient::new(self.with(ADMIN_TOKEN, None))
    }

    pub fn products(
        &self,
    ) -> pb::product_service_client::ProductServiceClient<InterceptedService<Channel, Metadata>>
    {
        pb::product_service_client::ProductServiceClient::new(self.with(ADMIN_TOKEN, None))
    }

    pub fn audit(
        &self,
    ) -> pb::audit_service_client::AuditServiceClient<InterceptedService<Channel, Metadata>> {
        pb::audit_service_client::AuditServiceClient::new(self.with(ADMIN_TOKEN, None))
    }

    pub fn portal(
        &self,
        developer: &str,
    ) -> pb::application_service_client::ApplicationServiceClient<
        InterceptedService<Channel, Metadata>,
    > {
        pb::application_service_client::ApplicationServiceClient::new(
            self.with(PORTAL_TOKEN, Some(developer)),
        )
    }

    pub fn directory(
        &self,
    ) -> pb::directory_service_client::DirectoryServiceClient<InterceptedService<Channel, Metadata>>
    {
        pb::directory_service_client::DirectoryServiceClient::new(self.with(SERVICE_TOKEN, None))
    }

    /// What ResolveClient says of which of the client's tokens need token-svc's record:
    /// (every one, those issued before a time).
    pub async fn issue_records(&self, client_id: &str) -> (bool, bool) {
        let resolved = self
            .directory()
            .resolve_client(pb::ResolveClientRequest {
                client_id: client_id.to_owned(),
            })
            .await
            .expect("resolve")
            .into_inner();
        (
            resolved.issue_record_required,
            resolved.issue_record_required_before.is_some(),
        )
    }

    /// Every service's client as one person, with their access token (SSO).
    pub fn person(&self, token: &str) -> PersonClients {
        PersonClients {
            channel: self.with(token, None),
        }
    }

    /// A client with any token and developer header, for authentication tests.
    pub fn raw(
        &self,
        token: &str,
        developer: Option<&str>,
    ) -> InterceptedService<Channel, Metadata> {
        self.with(token, developer)
    }

    /// Provider + strategy (+ product) in one go; returns (provider, strategy, product).
    pub async fn setup(
        &self,
        provider: pb::Provider,
        auto_approve: bool,
    ) -> (pb::Provider, pb::AuthStrategy, pb::ApiProduct) {
        let provider = self
            .providers()
            .create_provider(pb::CreateProviderRequest {
                provider: Some(provider),
            })
            .await
            .expect("create provider")
            .into_inner();
        let strategy = self
            .strategies()
            .create_strategy(pb::CreateStrategyRequest {
                strategy: Some(pb::AuthStrategy {
                    name: format!("strategy-{}", provider.name),
                    provider_id: provider.id.clone(),
                    scopes: vec!["read".into()],
                    auto_approve,
                    ..Default::default()
                }),
            })
            .await
            .expect("create strategy")
            .into_inner();
        let product = self
            .products()
            .create_product(pb::CreateProductRequest {
                product: Some(pb::ApiProduct {
                    name: format!("product-{}", provider.name),
                    strategy_id: strategy.id.clone(),
                    audience: "https://api.example.com".into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("create product")
            .into_inner();
        (provider, strategy, product)
    }

    pub async fn create_app(
        &self,
        developer: &str,
        strategy_id: &str,
        name: &str,
    ) -> pb::CreateApplicationResponse {
        self.portal(developer)
            .create_application(pb::CreateApplicationRequest {
                name: name.into(),
                strategy_id: strategy_id.into(),
                ..Default::default()
            })
            .await
            .expect("create application")
            .into_inner()
    }
}

/// Adds the caller's metadata to every request.
#[derive(Clone)]
/// The registry's clients as a person signed in through the identity provider.
pub struct PersonClients {
    channel: InterceptedService<Channel, Metadata>,
}

type Signed = InterceptedService<Channel, Metadata>;

impl PersonClients {
    pub fn providers(&self) -> pb::provider_service_client::ProviderServiceClient<Signed> {
        pb::provider_service_client::ProviderServiceClient::new(self.channel.clone())
    }

    pub fn strategies(&self) -> pb::strategy_service_client::StrategyServiceClient<Signed> {
        pb::strategy_service_client::StrategyServiceClient::new(self.channel.clone())
    }

    pub fn products(&self) -> pb::product_service_client::ProductServiceClient<Signed> {
        pb::product_service_client::ProductServiceClient::new(self.channel.clone())
    }

    pub fn audit(&self) -> pb::audit_service_client::AuditServiceClient<Signed> {
        pb::audit_service_client::AuditServiceClient::new(self.channel.clone())
    }

    pub fn applications(&self) -> pb::application_service_client::ApplicationServiceClient<Signed> {
        pb::application_service_client::ApplicationServiceClient::new(self.channel.clone())
    }

    pub fn directory(&self) -> pb::directory_service_client::DirectoryServiceClient<Signed> {
        pb::directory_service_client::DirectoryServiceClient::new(self.channel.clone())
    }

    pub fn identity(&self) -> pb::identity_service_client::IdentityServiceClient<Signed> {
        pb::identity_service_client::IdentityServiceClient::new(self.channel.clone())
    }
}

#[derive(Clone)]
pub struct Metadata {
    token: String,
    developer: Option<String>,
}

impl Metadata {
    /// The internal service token, as one dcr service sends it to another.
    pub fn service() -> Self {
        Self {
            token: SERVICE_TOKEN.to_owned(),
            developer: None,
        }
    }

    /// The gateway token, as a gateway sends it to authz-svc.
    pub fn gateway() -> Self {
        Self {
            token: GATEWAY_TOKEN.to_owned(),
            developer: None,
        }
    }
}

impl Interceptor for Metadata {
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

/// The field violations of an INVALID_ARGUMENT status.
pub fn violations(status: &tonic::Status) -> Vec<String> {
    violations_with_descriptions(status)
        .into_iter()
        .map(|(field, _)| field)
        .collect()
}

/// The field violations of an error, as (field, description).
pub fn violations_with_descriptions(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt as _;
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}
