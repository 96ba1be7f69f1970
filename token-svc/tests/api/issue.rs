//! IssueToken: real tokens, one IdP call for many equal requests, revocation, and the
//! same answer for unknown clients and wrong secrets.

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::harness::{jwt_claims, stack};

#[tokio::test]
async fn tokens_for_registry_apps_come_from_the_idp_and_then_from_the_cache() {
    let s = stack(&[]).await;
    let (_, client_id, secret) = s.app("dev-1", "shop").await;

    let opaque = s.issue(&client_id, &secret, "").await.expect("token");
    assert_eq!(opaque.token_type, "Bearer");
    assert!(
        opaque.expires_in > 3500 && opaque.expires_in <= 3600,
        "{}",
        opaque.expires_in
    );
    // The IdP vouches for it: introspection with the app's own credentials.
    let introspection: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token/introspection", s.idp.base_url))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("token", opaque.access_token.as_str())])
        .send()
        .await
        .expect("introspect")
        .json()
        .await
        .expect("json");
    assert_eq!(introspection["active"], true);
    assert_eq!(introspection["client_id"], client_id.as_str());

    // With an audience: an RFC 8707 resource indicator, so a JWT for that audience.
    let jwt = s
        .issue(&client_id, &secret, "https://api.example.com")
        .await
        .expect("token");
    let claims = jwt_claims(&jwt.access_token);
    assert_eq!(
        (claims["aud"].as_str(), claims["client_id"].as_str()),
        (Some("https://api.example.com"), Some(client_id.as_str()))
    );

    let calls = s.token_requests().await;
    let again = s
        .issue(&client_id, &secret, "https://api.example.com")
        .await
        .expect("cached");
    assert_eq!(again.access_token, jwt.access_token);
    assert_eq!(s.token_requests().await, calls, "served from the cache");
    assert!(
        s.token
            .api
            .broker
            .stats
            .hits
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test]
async fn a_thousand_concurrent_identical_misses_make_one_idp_call() {
    let s = stack(&[]).await;
    let (_, client_id, secret) = s.app("dev-1", "busy").await;
    // A thousand callers at once, over one connection that keeps at most 128 calls on
    // the wire, below token-svc's 256 streams per connection: a client that opens more
    // than the server's limit gets streams refused, and h2 closes a connection that
    // keeps doing so (seen in CI as "transport error: Closed" under load). The callers
    // beyond the first 128 wait in the client, so the misses still pile up on the one
    // IdP call in flight, or find its token in the cache.
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", s.grpc_addr))
        .expect("endpoint")
        .concurrency_limit(128)
        .connect()
        .await
        .expect("connect");
    let client = dcr_proto::token::v1::token_service_client::TokenServiceClient::new(channel);
    let issue = || {
        let mut client = client.clone();
        let request = dcr_proto::token::v1::IssueTokenRequest {
            client_id: client_id.clone(),
            client_secret: secret.clone(),
            scopes: vec!["read".into()],
            audience: "https://api.example.com".into(),
        };
        async move { client.issue_token(request).await }
    };
    let before = s.token_requests().await;
    let results = join_all((0..1000).map(|_| issue())).await;
    let tokens: std::collections::HashSet<String> = results
        .into_iter()
        .map(|r| r.expect("token").into_inner().access_token)
        .collect();
    assert_eq!(tokens.len(), 1, "everyone got the one token");
    assert_eq!(s.token_requests().await - before, 1, "one IdP call");
}

#[tokio::test]
async fn unknown_client_and_wrong_secret_get_the_same_answer_and_a_wrong_secret_is_never_served_from_cache()
 {
    let s = stack(&[]).await;
    let (_, client_id, secret) = s.app("dev-1", "probe").await;
    s.issue(&client_id, &secret, "")
        .await
        .expect("the right secret works (and is cached)");
    let wrong = s.issue(&client_id, "not-the-secret", "").await.unwrap_err();
    let unknown = s
        .issue("no-such-client", "not-the-secret", "")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    assert_eq!(
        (wrong.code(), wrong.message()),
        (unknown.code(), unknown.message())
    );
    let reason = |status: &tonic::Status| status.get_details_error_info().map(|i| i.reason);
    assert_eq!(reason(&wrong).as_deref(), Some("invalid_client"));
    assert_eq!(reason(&wrong), reason(&unknown));
}

#[tokio::test]
async fn a_regenerated_secret_or_deleted_app_is_refused_within_a_second() {
    let s = stack(&[]).await;
    let (app_id, client_id, old_secret) = s.app("dev-1", "rotating").await;
    s.issue(&client_id, &old_secret, "")
        .await
        .expect("cached under the old secret");

    let new_secret = s
        .registry
        .portal("dev-1")
        .regenerate_secret(dcr_proto::registry::v1::RegenerateSecretRequest {
            application_id: app_id.clone(),
        })
        .await
        .expect("regenerate")
        .into_inner()
        .client_secret;
    let refused_after = refused_within(&s, &client_id, &old_secret).await;
    assert!(
        refused_after < Duration::from_secs(1),
        "old secret refused after {refused_after:?}"
    );
    s.issue(&client_id, &new_secret, "")
        .await
        .expect("the new secret works");

    s.registry
        .portal("dev-1")
        .delete_application(dcr_proto::registry::v1::DeleteApplicationRequest {
            id: app_id,
            allow_missing: false,
        })
        .await
        .expect("delete");
    let refused_after = refused_within(&s, &client_id, &new_secret).await;
    assert!(
        refused_after < Duration::from_secs(1),
        "deleted app refused after {refused_after:?}"
    );
}

/// Polls (no sleeping in between beyond a yield) until the credential is refused.
async fn refused_within(s: &crate::harness::Stack, client_id: &str, secret: &str) -> Duration {
    let start = Instant::now();
    loop {
        match s.issue(client_id, secret, "").await {
            Err(status) if status.code() == Code::Unauthenticated => return start.elapsed(),
            _ if start.elapsed() > Duration::from_secs(5) => return start.elapsed(),
            _ => tokio::task::yield_now().await,
        }
    }
}

#[tokio::test]
async fn an_idp_outage_is_unavailable_and_nothing_is_cached() {
    let s = stack(&[]).await;
    let (_, client_id, secret) = s.app("dev-1", "outage").await;
    s.idp
        .fail(json!({"path_prefix": "/token", "method": "POST", "status": 503, "count": 1}))
        .await;
    let before = s.token_requests().await;
    let down = s.issue(&client_id, &secret, "").await.unwrap_err();
    assert_eq!(down.code(), Code::Unavailable);
    assert!(
        !down.message().contains("injected"),
        "IdP bodies do not pass through: {}",
        down.message()
    );
    s.issue(&client_id, &secret, "")
        .await
        .expect("works once the IdP is back");
    assert_eq!(
        s.token_requests().await - before,
        2,
        "the failure was not cached"
    );

    s.idp.fail(json!({"path_prefix": "/token", "method": "POST", "delay_ms": 0, "reset": true, "count": 1})).await;
    let dropped = s
        .issue(&client_id, "another-secret-to-miss-the-cache", "")
        .await
        .unwrap_err();
    assert_eq!(dropped.code(), Code::Unavailable);
}

/// Every token token-svc hands out is on record with the registry, also for a client
/// with nothing revoked. A gateway that hears of a revocation before token-svc does
/// takes only recorded tokens of that client, so a token handed out in between for a
/// live secret must already be among them (seen in CI: a browser test's fresh token was
/// refused as `invalid_token` when token-svc's change stream ran behind authz-svc's).
#[tokio::test]
async fn every_token_handed_out_is_on_record_before_any_revocation() {
    let s = stack(&[]).await;
    let (_, client_id, secret) = s.app("dev-1", "recorded").await;
    assert_eq!(
        s.registry.issue_records(&client_id).await,
        (false, false),
        "nothing of this client is revoked"
    );
    let on_record = |token: String| {
        let directory = s.registry.directory();
        let client_id = client_id.clone();
        async move {
            let mut directory = directory;
            directory
                .find_issued_token(dcr_proto::registry::v1::FindIssuedTokenRequest {
                    client_id,
                    token_digest: dcr_common::directory::token_digest(&token).to_vec(),
                })
                .await
                .expect("FindIssuedToken")
                .into_inner()
                .found
        }
    };
    let token = s.issue(&client_id, &secret, "").await.expect("token");
    assert!(on_record(token.access_token.clone()).await);
    assert!(
        !on_record(format!("{}x", token.access_token)).await,
        "a token token-svc never handed out is not"
    );
}
