//! authz-svc in-process on top of the token stack (oidc-provider, registry, token-svc).

use std::sync::Arc;
use std::time::Duration;

use authz_svc::config::defaults;
use authz_svc::{AuthzConfig, AuthzState};
use dcr_common::clock::ShiftedClock;
use dcr_common::rate_limit::Rate;
use dcr_proto::authz::v1 as pb;
use dcr_proto::registry::v1 as reg;
use tonic::transport::Channel;

use crate::registry::Metadata;
use crate::token::{Stack, caught_up_with, stack_with};
use dcr_common::pki::SetFiles;
use tonic::service::interceptor::InterceptedService;

pub const SESSION_KEY: [u8; 32] = [7; 32];

pub struct AuthzStack {
    pub base: Stack,
    pub state: AuthzState,
    pub clock: Arc<ShiftedClock>,
    pub addr: std::net::SocketAddr,
    pub channel: Channel,
    config: AuthzConfig,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub async fn authz_stack(peer_args: &[&str]) -> AuthzStack {
    authz_stack_with(peer_args, None).await
}

/// `authz_stack` with every listener on TLS (mTLS) from `tls` and every channel on https.
pub async fn authz_stack_with(peer_args: &[&str], tls: Option<&SetFiles>) -> AuthzStack {
    let base = stack_with(peer_args, tls).await;
    let config = AuthzConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        registry_url: base.registry.url.clone(),
        token_url: crate::tls::url(base.grpc_addr, tls),
        tokens: crate::registry::caller_tokens(),
        session_key: SESSION_KEY,
        leeway: defaults::LEEWAY,
        introspection_rate: Rate::per_second(defaults::INTROSPECTION_RATE),
        source_rate: Rate::per_second(defaults::SOURCE_RATE),
        keys_max_stale: defaults::KEYS_MAX_STALE,
        tls: tls.map(|t| t.server_tls(true)),
        client_tls: crate::tls::client(tls),
    };
    let clock = Arc::new(ShiftedClock::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (state, stop, server) = serve(&config, &clock, listener).await;
    let channel = crate::tls::client(tls)
        .endpoint(&crate::tls::url(addr, tls), "authz-svc")
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    AuthzStack {
        base,
        state,
        clock,
        addr,
        channel,
        config,
        stop: Some(stop),
        server: Some(server),
    }
}

type Server = (
    AuthzState,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<anyhow::Result<()>>,
);

/// authz-svc built from `config` and serving on `listener`, once it follows the
/// registry's changes.
async fn serve(
    config: &AuthzConfig,
    clock: &Arc<ShiftedClock>,
    listener: tokio::net::TcpListener,
) -> Server {
    let state = authz_svc::build(config, clock.clone()).expect("build authz-svc");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(authz_svc::serve(state.clone(), listener, async {
        let _ = stopped.await;
    }));
    tokio::time::timeout(Duration::from_secs(10), state.directory.wait_following())
        .await
        .expect("following changes");
    (state, stop, server)
}

impl AuthzStack {
    /// AuthzService with the gateway token.
    pub fn authz(
        &self,
    ) -> pb::authz_service_client::AuthzServiceClient<InterceptedService<Channel, Metadata>> {
        pb::authz_service_client::AuthzServiceClient::with_interceptor(
            self.channel.clone(),
            Metadata::gateway(),
        )
    }

    pub async fn check(
        &self,
        product_id: &str,
        headers: &[(&str, &str)],
        scopes: &[&str],
    ) -> pb::CheckResponse {
        self.authz()
            .check(pb::CheckRequest {
                product_id: product_id.into(),
                headers: headers
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                required_scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                source_address: String::new(),
            })
            .await
            .expect("check")
            .into_inner()
    }

    /// An app registered (auto-approved) for the stack's product, once token-svc and
    /// authz-svc know of it: (app id, client id, secret).
    pub async fn registered_app(&self, developer: &str, name: &str) -> (String, String, String) {
        let (app, client, secret) = self.base.app(developer, name).await;
        self.base
            .registry
            .portal(developer)
            .create_registration(reg::CreateRegistrationRequest {
                application_id: app.clone(),
                product_id: self.base.product_id.clone(),
                scopes: Vec::new(),
            })
            .await
            .expect("register");
        self.caught_up().await;
        (app, client, secret)
    }

    /// Another strategy on the stack's provider (settings from `strategy`) and a product
    /// for it with the usual audience: (strategy id, product id).
    pub async fn product_with(&self, name: &str, strategy: reg::AuthStrategy) -> (String, String) {
        let registry = &self.base.registry;
        let strategy = registry
            .strategies()
            .create_strategy(reg::CreateStrategyRequest {
                strategy: Some(reg::AuthStrategy {
                    name: name.into(),
                    provider_id: self.base.provider_id.clone(),
                    ..strategy
                }),
            })
            .await
            .expect("strategy")
            .into_inner();
        let product = registry
            .products()
            .create_product(reg::CreateProductRequest {
                product: Some(reg::ApiProduct {
                    name: name.into(),
                    strategy_id: strategy.id.clone(),
                    audience: "https://api.example.com".into(),
                    ..Default::default()
                }),
            })
            .await
            .expect("product")
            .into_inner();
        (strategy.id, product.id)
    }

    /// An app of `strategy_id` with a registration for `product_id`:
    /// (application, its secret, the registration).
    pub async fn app_registered_for(
        &self,
        developer: &str,
        strategy_id: &str,
        product_id: &str,
        name: &str,
    ) -> (reg::Application, String, reg::Registration) {
        let created = self
            .base
            .registry
            .create_app(developer, strategy_id, name)
            .await;
        let application = created.application.expect("application");
        let registration = self
            .base
            .registry
            .portal(developer)
            .create_registration(reg::CreateRegistrationRequest {
                application_id: application.id.clone(),
                product_id: product_id.into(),
                scopes: Vec::new(),
            })
            .await
            .expect("register")
            .into_inner();
        self.caught_up().await;
        (
            application,
            created.credential.expect("credential").client_secret,
            registration,
        )
    }

    /// Waits until token-svc and authz-svc have applied every change the registry has
    /// made, so a test's checks do not race the change stream (a change arriving between
    /// two checks retires what the first one cached).
    pub async fn caught_up(&self) {
        self.base.caught_up().await;
        caught_up_with(&self.base.registry, &self.state.directory, "authz-svc").await;
    }

    /// A client_credentials JWT straight from the IdP (resource = audience).
    pub async fn idp_token(&self, client_id: &str, secret: &str, resource: &str) -> String {
        let body: serde_json::Value = reqwest::Client::new()
            .post(format!("{}/token", self.base.idp.base_url))
            .basic_auth(client_id, Some(secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "read"),
                ("resource", resource),
            ])
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("json");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token: {body}"))
            .to_owned()
    }

    pub async fn stop(mut self) {
        self.shut_down().await;
    }

    async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("join").expect("authz stopped cleanly");
        }
    }

    /// Stops authz-svc, runs `meanwhile` while it is down, then starts a new authz-svc
    /// (nothing kept from the old one but its config and clock) on the same address, as
    /// a restarted process would be.
    pub async fn restart<F: std::future::Future<Output = ()>>(&mut self, meanwhile: F) {
        self.shut_down().await;
        meanwhile.await;
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .expect("bind the same address again");
        let (state, stop, server) = serve(&self.config, &self.clock, listener).await;
        self.state = state;
        self.stop = Some(stop);
        self.server = Some(server);
    }
}
