//! token-svc in-process next to an in-process registry, with clients.

use std::sync::Arc;
use std::time::Duration;

use crate::peers::{self, INITIAL_ACCESS_TOKEN, Peer};
use crate::registry::{Metadata, TestApp, spawn_app_with};
use dcr_common::clock::ShiftedClock;
use dcr_common::pki::SetFiles;
use dcr_common::url_policy::UrlPolicy;
use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1 as pb;
use token_svc::config::defaults;
use token_svc::{TokenConfig, TokenState};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

pub struct Stack {
    pub idp: Peer,
    pub registry: TestApp,
    pub token: TokenState,
    pub clock: Arc<ShiftedClock>,
    pub grpc: Channel,
    pub grpc_addr: std::net::SocketAddr,
    pub http_base: String,
    pub strategy_id: String,
    pub provider_id: String,
    pub product_id: String,
    _stop: tokio::sync::oneshot::Sender<()>,
}

pub fn rfc7591_provider(name: &str, issuer: &str) -> reg::Provider {
    reg::Provider {
        name: name.into(),
        issuer: issuer.into(),
        active: true,
        config: Some(reg::provider::Config::Rfc7591(reg::Rfc7591Config {
            registration_endpoint: String::new(),
            initial_access_token: INITIAL_ACCESS_TOKEN.into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// oidc-provider (with `peer_args`), registry with an rfc7591 provider for it, token-svc.
pub async fn stack(peer_args: &[&str]) -> Stack {
    stack_with(peer_args, None).await
}

/// `stack`, with every listener on TLS (mTLS) from `tls` and every channel on https.
pub async fn stack_with(peer_args: &[&str], tls: Option<&SetFiles>) -> Stack {
    let idp = peers::oidc_provider_with(peer_args).await;
    let registry = spawn_app_with(|c| c.tls = tls.map(|t| t.server_tls(true))).await;
    let (provider, strategy, product) = registry
        .setup(rfc7591_provider("oidc", &idp.base_url), true)
        .await;
    let config = TokenConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        http_listen: "127.0.0.1:0".parse().expect("addr"),
        registry_url: registry.url.clone(),
        tokens: crate::registry::caller_tokens(),
        url_policy: UrlPolicy {
            allow_http_loopback: true,
            allow_http_hosts: &[],
        },
        idp_timeout: defaults::IDP_TIMEOUT,
        cache_capacity: defaults::CACHE_CAPACITY,
        cache_max_age: defaults::CACHE_MAX_AGE,
        keys_max_stale: defaults::KEYS_MAX_STALE,
        limits: Default::default(),
        tls: tls.map(|t| t.server_tls(true)),
        client_tls: crate::tls::client(tls),
    };
    let clock = Arc::new(ShiftedClock::new());
    let token = token_svc::build_with_clock(&config, clock.clone()).expect("build token-svc");
    let grpc_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let http_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let grpc_addr = grpc_listener.local_addr().expect("addr");
    let http_addr = http_listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(token_svc::serve(
        token.clone(),
        grpc_listener,
        http_listener,
        async {
            let _ = stopped.await;
        },
    ));
    // Revocation tests need the change stream: wait until it is connected.
    tokio::time::timeout(Duration::from_secs(10), token.directory.wait_following())
        .await
        .expect("following changes");
    let grpc = crate::tls::client(tls)
        .endpoint(&crate::tls::url(grpc_addr, tls), "token-svc")
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    Stack {
        idp,
        registry,
        token,
        clock,
        grpc,
        grpc_addr,
        http_base: crate::tls::url(http_addr, tls),
        strategy_id: strategy.id,
        provider_id: provider.id,
        product_id: product.id,
        _stop: stop,
    }
}

impl Stack {
    pub fn tokens(&self) -> pb::token_service_client::TokenServiceClient<Channel> {
        pb::token_service_client::TokenServiceClient::new(self.grpc.clone())
    }

    /// A TokenService client that carries the internal service token.
    pub fn internal(
        &self,
    ) -> pb::token_service_client::TokenServiceClient<InterceptedService<Channel, Metadata>> {
        pb::token_service_client::TokenServiceClient::with_interceptor(
            self.grpc.clone(),
            Metadata::service(),
        )
    }

    /// Creates an app in the registry: (application id, client id, secret).
    pub async fn app(&self, developer: &str, name: &str) -> (String, String, String) {
        let created = self
            .registry
            .create_app(developer, &self.strategy_id, name)
            .await;
        let application = created.application.expect("application");
        let secret = created.credential.expect("credential").client_secret;
        self.caught_up().await;
        (application.id, application.client_id, secret)
    }

    /// Waits until token-svc has applied every change the registry has made, so a test's
    /// calls do not race the change stream (whose events bump the token cache keys).
    pub async fn caught_up(&self) {
        caught_up_with(&self.registry, &self.token.directory, "token-svc").await;
    }

    pub async fn issue(
        &self,
        client_id: &str,
        secret: &str,
        audience: &str,
    ) -> Result<pb::IssueTokenResponse, tonic::Status> {
        self.tokens()
            .issue_token(pb::IssueTokenRequest {
                client_id: client_id.into(),
                client_secret: secret.into(),
                scopes: vec!["read".into()],
                audience: audience.into(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    pub async fn token_requests(&self) -> u64 {
        self.idp.stats().await["token_requests"]
            .as_u64()
            .expect("counter")
    }
}

/// Waits until `directory` (of the service `who`) has applied every change `registry`
/// has committed so far.
pub(crate) async fn caught_up_with(
    registry: &TestApp,
    directory: &dcr_common::directory::Directory,
    who: &str,
) {
    let latest = registry.registry.store.latest_seq().await.expect("seq");
    let latest = u64::try_from(latest).unwrap_or(0);
    tokio::time::timeout(Duration::from_secs(10), async {
        // A condition poll, not a fixed wait: it ends as soon as the position arrives.
        while directory.position() < latest {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{who} follows the registry's changes"));
}

/// The payload of a JWT, unverified (the tests check claims, authz-svc verifies).
pub fn jwt_claims(token: &str) -> serde_json::Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("json")
}
