//! Basic client credentials: exchanged through token-svc, then validated as a bearer.

use base64::Engine as _;
use dcr_proto::authz::v1 as pb;
use dcr_testkit::authz::authz_stack;

pub fn basic(client_id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    )
}

#[tokio::test]
async fn client_credentials_are_exchanged_and_checked() {
    let s = authz_stack(&[]).await;
    let product = s.base.product_id.clone();
    let (app_id, client_id, secret) = s.registered_app("dev-1", "m2m").await;

    let allowed = s
        .check(
            &product,
            &[("authorization", &basic(&client_id, &secret))],
            &["read"],
        )
        .await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");
    let principal = allowed.principal.expect("principal");
    assert_eq!(principal.application_id, app_id);
    assert_eq!(
        principal.credential_type,
        pb::CredentialType::ClientCredentials as i32
    );

    // The second check is served from caches: no new IdP call, and the counters say so.
    let calls = s.base.token_requests().await;
    let stats = &s.state.checker.stats;
    let read = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    let (basic_hits, verified_hits) = (read(&stats.basic_hits), read(&stats.verified_hits));
    let again = s
        .check(
            &product,
            &[("authorization", &basic(&client_id, &secret))],
            &[],
        )
        .await;
    assert_eq!(again.decision, pb::Decision::Allow as i32);
    assert_eq!(s.base.token_requests().await, calls);
    assert_eq!(read(&stats.basic_hits), basic_hits + 1);
    assert_eq!(read(&stats.verified_hits), verified_hits + 1);

    let wrong = s
        .check(
            &product,
            &[("authorization", &basic(&client_id, "wrong-secret"))],
            &[],
        )
        .await;
    let unknown = s
        .check(
            &product,
            &[("authorization", &basic("nobody", "wrong-secret"))],
            &[],
        )
        .await;
    assert_eq!(
        (wrong.http_status, wrong.reason.as_str()),
        (401, "invalid_client")
    );
    assert!(wrong.www_authenticate.starts_with("Basic"), "{wrong:?}");
    assert_eq!(
        (wrong.http_status, &wrong.reason, &wrong.www_authenticate),
        (
            unknown.http_status,
            &unknown.reason,
            &unknown.www_authenticate
        )
    );
}
