//! Brokering for an Auth0 client (issue 14): token-svc sends the secret exactly the way
//! the client was created with (dcr creates Auth0 clients with `client_secret_post`, and
//! the directory says so); the IdP emulator, like Auth0, refuses any other way.

use std::sync::Arc;
use std::time::Duration;

use dcr_common::clock::ShiftedClock;
use dcr_common::url_policy::UrlPolicy;
use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1 as pb;
use dcr_testkit::emulator::{auth0_api, calls, emulator, provider};
use dcr_testkit::registry::{caller_tokens, spawn_app};
use token_svc::TokenConfig;
use token_svc::config::defaults;

const AUDIENCE: &str = "https://api.example.com";
const TOKEN_ROUTE: &str = "POST /auth0/oauth/token";

#[tokio::test]
async fn a_client_created_with_post_gets_its_token_by_post() {
    let emu = emulator().await;
    auth0_api(&emu, AUDIENCE).await;
    let registry = spawn_app().await;
    let (_, strategy, product) = registry.setup(provider(&emu, "auth0"), true).await;
    let created = registry.create_app("dev-1", &strategy.id, "shop").await;
    let application = created.application.expect("application");
    let secret = created.credential.expect("credential").client_secret;
    // An approved registration: a client grant on the product's audience at Auth0.
    registry
        .portal("dev-1")
        .create_registration(reg::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register");

    let config = TokenConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        http_listen: "127.0.0.1:0".parse().expect("addr"),
        registry_url: registry.url.clone(),
        tokens: caller_tokens(),
        url_policy: UrlPolicy {
            allow_http_loopback: true,
            allow_http_hosts: &[],
        },
        idp_timeout: defaults::IDP_TIMEOUT,
        cache_capacity: defaults::CACHE_CAPACITY,
        cache_max_age: defaults::CACHE_MAX_AGE,
        keys_max_stale: defaults::KEYS_MAX_STALE,
        limits: Default::default(),
        tls: None,
        client_tls: dcr_testkit::tls::client(None),
    };
    let token = token_svc::build_with_clock(&config, Arc::new(ShiftedClock::new()))
        .expect("build token-svc");
    let grpc = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let grpc_addr = grpc.local_addr().expect("addr");
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(token_svc::serve(token.clone(), grpc, http, async {
        let _ = stopped.await;
    }));
    tokio::time::timeout(Duration::from_secs(10), token.directory.wait_following())
        .await
        .expect("following changes");
    let mut tokens =
        pb::token_service_client::TokenServiceClient::connect(format!("http://{grpc_addr}"))
            .await
            .expect("connect");

    let before = calls(&emu, TOKEN_ROUTE).await;
    let issued = tokens
        .issue_token(pb::IssueTokenRequest {
            client_id: application.client_id.clone(),
            client_secret: secret,
            scopes: vec!["read".into()],
            audience: AUDIENCE.into(),
        })
        .await
        .expect("a token: the secret went by Post, the only way Auth0 takes it here")
        .into_inner();
    assert_eq!(issued.token_type, "Bearer");
    assert_eq!(
        calls(&emu, TOKEN_ROUTE).await - before,
        1,
        "one call to Auth0's token endpoint"
    );
}
