//! Brokering for each vendor's clients (issue 14): a client dcr created gets its token
//! through token-svc, which sends the secret the way the registry recorded for it
//! (Okta and Curity: Basic, as they registered it; Entra: in the form body, as Microsoft
//! documents it). The IdP emulator refuses Okta secrets sent any other way.

use std::sync::Arc;
use std::time::Duration;

use dcr_common::clock::ShiftedClock;
use dcr_common::url_policy::UrlPolicy;
use dcr_proto::token::v1 as pb;
use dcr_testkit::emulator::{calls, emulator, provider};
use dcr_testkit::registry::{TestApp, caller_tokens, spawn_app};
use token_svc::TokenConfig;
use token_svc::config::defaults;
use tokio::sync::oneshot;
use tonic::transport::Channel;

/// token-svc in-process, following `registry`'s directory: its gRPC client, and the
/// sender that keeps it serving while held.
pub async fn broker(
    registry: &TestApp,
) -> (
    pb::token_service_client::TokenServiceClient<Channel>,
    oneshot::Sender<()>,
) {
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
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(token_svc::serve(token.clone(), grpc, http, async {
        let _ = stopped.await;
    }));
    tokio::time::timeout(Duration::from_secs(10), token.directory.wait_following())
        .await
        .expect("following changes");
    let client =
        pb::token_service_client::TokenServiceClient::connect(format!("http://{grpc_addr}"))
            .await
            .expect("connect");
    (client, stop)
}

/// A client dcr creates at `vendor` gets a token through token-svc with one call to the
/// vendor's token endpoint (`route`).
async fn brokered(
    vendor: &str,
    route: &str,
    audience: impl Fn(&dcr_testkit::emulator::Emulator) -> String,
) {
    let emu = emulator().await;
    let registry = spawn_app().await;
    let (_, strategy, _) = registry.setup(provider(&emu, vendor), true).await;
    let created = registry.create_app("dev-1", &strategy.id, "shop").await;
    let client_id = created.application.expect("application").client_id;
    let secret = created.credential.expect("credential").client_secret;
    let (mut tokens, _stop) = broker(&registry).await;

    let before = calls(&emu, route).await;
    let issued = tokens
        .issue_token(pb::IssueTokenRequest {
            client_id,
            client_secret: secret,
            scopes: vec!["read".into()],
            audience: audience(&emu),
        })
        .await
        .unwrap_or_else(|e| panic!("{vendor}: a token: {e}"))
        .into_inner();
    // RFC 6749 section 7.1: the type is case-blind (Curity answers "bearer").
    assert!(
        issued.token_type.eq_ignore_ascii_case("bearer"),
        "{vendor}: {issued:?}"
    );
    assert!(!issued.access_token.is_empty(), "{vendor}");
    assert_eq!(
        calls(&emu, route).await - before,
        1,
        "{vendor}: one call to the IdP"
    );
}

#[tokio::test]
async fn an_okta_client_gets_its_token_by_basic() {
    brokered("okta", "POST /okta/oauth2/default/v1/token", |_| {
        String::new()
    })
    .await;
}

#[tokio::test]
async fn an_entra_client_gets_its_token_by_post() {
    brokered("azure_ad", "POST /entra/{id}/oauth2/v2.0/token", |emu| {
        emu.urls.graph_resource()
    })
    .await;
}

#[tokio::test]
async fn a_curity_client_gets_its_token_by_basic() {
    brokered("curity", "POST /curity/oauth/v2/oauth-token", |_| {
        String::new()
    })
    .await;
}
