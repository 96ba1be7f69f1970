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

/// The test process's resident memory, from /proc.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("resident pages");
    pages * 4096
}

/// Issuers that answer their JWKS with 50 MiB (announced or chunked) or a body that never
/// ends: each is refused as soon as it passes the ceiling, memory stays flat, and an
/// honest issuer asked at the same time is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_endless_idp_answers_are_refused_without_growing_memory() {
    use axum::body::{Body, Bytes};
    use axum::routing::get;

    const FIFTY_MIB: usize = 50 << 20;
    let s = stack(&[]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let chunk = || Bytes::from(vec![b' '; 64 * 1024]);
    let discovery = |name: &'static str, base: String| {
        get(move || {
            let issuer = format!("{base}/{name}");
            async move { axum::Json(json!({ "issuer": issuer, "jwks_uri": format!("{issuer}/jwks") })) }
        })
    };
    let app = axum::Router::new()
        .route(
            "/announced/.well-known/openid-configuration",
            discovery("announced", base.clone()),
        )
        .route(
            "/chunked/.well-known/openid-configuration",
            discovery("chunked", base.clone()),
        )
        .route(
            "/endless/.well-known/openid-configuration",
            discovery("endless", base.clone()),
        )
        // Made chunk by chunk as sent, so the test's own server holds no 50 MiB either.
        .route(
            "/announced/jwks",
            get(move || async move {
                let chunks = futures::stream::iter(
                    (0..FIFTY_MIB / (64 * 1024)).map(move |_| Ok::<_, std::io::Error>(chunk())),
                );
                (
                    [("content-length", FIFTY_MIB.to_string())],
                    Body::from_stream(chunks),
                )
            }),
        )
        .route(
            "/chunked/jwks",
            get(move || async move {
                let chunks = futures::stream::iter(
                    (0..FIFTY_MIB / (64 * 1024)).map(move |_| Ok::<_, std::io::Error>(chunk())),
                );
                Body::from_stream(chunks)
            }),
        )
        .route(
            "/endless/jwks",
            get(move || async move {
                Body::from_stream(futures::stream::repeat_with(move || {
                    Ok::<_, std::io::Error>(chunk())
                }))
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });

    let before = resident_bytes();
    let ask = |issuer: String| {
        let mut client = s.internal();
        async move {
            client
                .get_issuer_keys(pb::GetIssuerKeysRequest {
                    issuer,
                    kid: String::new(),
                })
                .await
        }
    };
    let started = std::time::Instant::now();
    let (announced, chunked, endless, honest) = tokio::join!(
        ask(format!("{base}/announced")),
        ask(format!("{base}/chunked")),
        ask(format!("{base}/endless")),
        ask(s.idp.base_url.clone()),
    );
    let elapsed = started.elapsed();
    let grown = resident_bytes().saturating_sub(before);
    for (name, answer) in [
        ("announced", announced),
        ("chunked", chunked),
        ("endless", endless),
    ] {
        let refused = answer.expect_err(name);
        assert_eq!(refused.code(), Code::Unavailable, "{name}: {refused:?}");
        assert!(
            refused.message().contains("larger than"),
            "{name}: {refused:?}"
        );
    }
    honest.expect("the honest issuer's keys");
    assert!(
        elapsed < std::time::Duration::from_secs(5),
        "refusals took {elapsed:?}"
    );
    assert!(
        grown < 16 << 20,
        "resident memory grew by {} MiB",
        grown >> 20
    );
    println!(
        "refused in {elapsed:?}; resident memory grew by {} KiB",
        grown >> 10
    );
}
