//! Readiness: authz-svc reports NOT_SERVING until its caches follow the registry's change
//! stream (only then can it promise revocation within a second), SERVING after.

use std::time::Duration;

use authz_svc::AuthzConfig;
use dcr_testkit::authz::{SESSION_KEY, authz_stack};
use dcr_testkit::registry::caller_tokens;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

async fn health(addr: std::net::SocketAddr) -> i32 {
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: "dcr.authz.v1.AuthzService".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status
}

#[tokio::test]
async fn not_serving_until_the_change_stream_is_followed() {
    // A registry that is not there: a port nothing listens on.
    let unused = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let config = AuthzConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        registry_url: format!("http://{unused}"),
        token_url: format!("http://{unused}"),
        tokens: caller_tokens(),
        session_key: SESSION_KEY,
        leeway: Duration::from_secs(30),
        introspection_rate: dcr_common::rate_limit::Rate::per_second(20),
        source_rate: dcr_common::rate_limit::Rate::per_second(50),
        keys_max_stale: Duration::from_secs(3600),
        tls: None,
        client_tls: Default::default(),
    };
    let state = authz_svc::build(&config, dcr_common::clock::system()).expect("build authz-svc");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(authz_svc::serve(state, listener, std::future::pending()));
    assert_eq!(health(addr).await, ServingStatus::NotServing as i32);

    // With the registry there and followed: SERVING.
    let s = authz_stack(&[]).await;
    assert_eq!(health(s.addr).await, ServingStatus::Serving as i32);
}
