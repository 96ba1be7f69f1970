//! token-svc and authz-svc next to a portal test stack: what a developer's app meets after
//! the portal gave it a secret (a token from `/oauth2/token`, a gateway asking `Check`).

use std::time::Duration;

use authz_svc::AuthzConfig;
use dcr_common::rate_limit::Rate;
use dcr_common::url_policy::UrlPolicy;
use dcr_proto::authz::v1 as pb;
use dcr_testkit::registry::{Metadata, caller_tokens};
use token_svc::TokenConfig;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::helpers::Stack;

pub struct Gateway {
    /// token-svc's `http://127.0.0.1:<port>/oauth2/token`.
    pub token_endpoint: String,
    authz: Channel,
}

const POLICY: UrlPolicy = UrlPolicy {
    allow_http_loopback: true,
    allow_http_hosts: &[],
};

/// Starts token-svc and authz-svc against the stack's registry; returns once both follow
/// its change stream.
pub async fn gateway(s: &Stack) -> Gateway {
    let token_config = TokenConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: "127.0.0.1:0".parse().unwrap(),
        registry_url: s.registry.url.clone(),
        tokens: caller_tokens(),
        url_policy: POLICY,
        idp_timeout: token_svc::config::defaults::IDP_TIMEOUT,
        cache_capacity: token_svc::config::defaults::CACHE_CAPACITY,
        cache_max_age: token_svc::config::defaults::CACHE_MAX_AGE,
        keys_max_stale: token_svc::config::defaults::KEYS_MAX_STALE,
        limits: Default::default(),
        tls: None,
        client_tls: Default::default(),
    };
    let token = token_svc::build(&token_config).unwrap();
    let token_grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let token_grpc_addr = token_grpc.local_addr().unwrap();
    let token_endpoint = format!("http://{}/oauth2/token", token_http.local_addr().unwrap());
    tokio::spawn(token_svc::serve(
        token.clone(),
        token_grpc,
        token_http,
        std::future::pending(),
    ));
    let defaults = authz_svc::config::defaults::LEEWAY;
    let authz_config = AuthzConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        registry_url: s.registry.url.clone(),
        token_url: format!("http://{token_grpc_addr}"),
        tokens: caller_tokens(),
        session_key: [7; 32],
        leeway: defaults,
        introspection_rate: Rate::per_second(authz_svc::config::defaults::INTROSPECTION_RATE),
        source_rate: Rate::per_second(authz_svc::config::defaults::SOURCE_RATE),
        keys_max_stale: authz_svc::config::defaults::KEYS_MAX_STALE,
        tls: None,
        client_tls: Default::default(),
    };
    let authz = authz_svc::build(&authz_config, dcr_common::clock::system()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(authz_svc::serve(
        authz.clone(),
        listener,
        std::future::pending(),
    ));
    tokio::time::timeout(Duration::from_secs(10), async {
        token.directory.wait_following().await;
        authz.directory.wait_following().await;
    })
    .await
    .expect("token-svc and authz-svc follow the registry");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    Gateway {
        token_endpoint,
        authz: channel,
    }
}

impl Gateway {
    /// An access token for the app's client id and secret, as any OAuth client gets one
    /// (client_secret_basic at token-svc's `/oauth2/token`).
    pub async fn token(&self, client_id: &str, secret: &str, scope: &str) -> String {
        let response = reqwest::Client::new()
            .post(&self.token_endpoint)
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(status.is_success(), "token: {status} {body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    fn authz(
        &self,
    ) -> pb::authz_service_client::AuthzServiceClient<InterceptedService<Channel, Metadata>> {
        pb::authz_service_client::AuthzServiceClient::with_interceptor(
            self.authz.clone(),
            Metadata::gateway(),
        )
    }

    /// What authz-svc answers a gateway for a call to `product` with `token`.
    pub async fn check(&self, product: &str, token: &str) -> pb::CheckResponse {
        self.authz()
            .check(pb::CheckRequest {
                product_id: product.to_owned(),
                headers: [("authorization".to_owned(), format!("Bearer {token}"))].into(),
                required_scopes: Vec::new(),
                source_address: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
    }

    /// Polls `check` every 20 ms until it answers `decision`, for at most 5 s (dcr promises
    /// a revocation everywhere within 1 s).
    pub async fn until(
        &self,
        product: &str,
        token: &str,
        decision: pb::Decision,
    ) -> pb::CheckResponse {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let answer = self.check(product, token).await;
            if answer.decision == decision as i32 || tokio::time::Instant::now() > deadline {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
