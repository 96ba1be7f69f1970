//! GetIssuerKeys: cached, refetched for an unknown kid at most once per interval, served
//! stale within a bound while the IdP is down. Internal callers only.

use serde_json::json;
use tonic::Code;

use dcr_proto::token::v1 as pb;

use crate::harness::stack;

fn jwks_requests(stats: &serde_json::Value) -> u64 {
    stats["jwks_requests"].as_u64().expect("counter")
}

#[tokio::test]
async fn issuer_keys_are_cached_refetched_sparingly_and_served_stale_within_bounds() {
    let s = stack(&[]).await;
    let issuer = s.idp.base_url.clone();
    let request = |kid: &str| pb::GetIssuerKeysRequest {
        issuer: issuer.clone(),
        kid: kid.into(),
    };

    let refused = s.tokens().get_issuer_keys(request("")).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Code::Unauthenticated,
        "internal callers only"
    );

    let keys = s
        .internal()
        .get_issuer_keys(request(""))
        .await
        .expect("keys")
        .into_inner();
    let jwks: serde_json::Value = serde_json::from_str(&keys.jwks_json).expect("a JWK Set");
    let kid = jwks["keys"][0]["kid"].as_str().expect("kid").to_owned();
    assert!(!keys.stale);
    let fetches = jwks_requests(&s.idp.stats().await);
    assert_eq!(fetches, 1);

    // Cached: a known kid, and an unknown one within the refetch interval, fetch nothing.
    s.internal()
        .get_issuer_keys(request(&kid))
        .await
        .expect("keys");
    s.internal()
        .get_issuer_keys(request("rotated-key"))
        .await
        .expect("keys");
    assert_eq!(jwks_requests(&s.idp.stats().await), 1);
    // After the interval, an unknown kid triggers one fetch.
    s.clock.advance(chrono::Duration::seconds(31));
    s.internal()
        .get_issuer_keys(request("rotated-key"))
        .await
        .expect("keys");
    assert_eq!(jwks_requests(&s.idp.stats().await), 2);

    // Expired and the IdP is down: the last set, marked stale.
    s.idp
        .fail(json!({"path_prefix": "/jwks", "status": 503, "count": -1}))
        .await;
    s.clock.advance(chrono::Duration::minutes(10));
    let stale = s
        .internal()
        .get_issuer_keys(request(""))
        .await
        .expect("stale keys")
        .into_inner();
    assert!(stale.stale);
    assert_eq!(stale.jwks_json, keys.jwks_json);
    // Beyond the staleness bound: an error, never keys of unbounded age.
    s.clock.advance(chrono::Duration::hours(7));
    let gone = s.internal().get_issuer_keys(request("")).await.unwrap_err();
    assert_eq!(gone.code(), Code::Unavailable);
}
