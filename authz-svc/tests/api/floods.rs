//! Floods from an anonymous caller (bounded in count and time, loopback only): 2,000
//! wrong secrets for one client id and 2,000 random opaque tokens make a handful of IdP
//! calls (the peer's own counters), are answered 429 / RESOURCE_EXHAUSTED with when to
//! retry; 500 random Basic credentials from one source address are limited per source;
//! and a well-behaved app in the same run keeps getting tokens and ALLOWs.

use std::time::{Duration, Instant};

use dcr_proto::authz::v1 as pb;
use dcr_proto::token::v1 as tok;
use dcr_testkit::authz::authz_stack;
use futures::StreamExt as _;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::opaque::{
    OPAQUE, introspection_client, introspections, opaque_product, set_introspection_client,
};

const AUDIENCE: &str = "https://api.example.com";
const FLOOD: usize = 2_000;
const IN_FLIGHT: usize = 16;
/// The defaults: per client id 10 calls a second with bursts of 20 (token-svc), per
/// provider 20 introspections a second with bursts of 40 (authz-svc).
const CLIENT_RATE: (f64, f64) = (10.0, 20.0);
const INTROSPECTION_RATE: (f64, f64) = (20.0, 40.0);
/// authz-svc's default per source address the gateway names: 50 a second, bursts of 100.
const SOURCE_RATE: (f64, f64) = (50.0, 100.0);

/// The most calls a limit of (per second, burst) lets through in `elapsed`, plus one for
/// the boundary.
fn allowed(rate: (f64, f64), elapsed: Duration) -> u64 {
    (rate.1 + rate.0 * elapsed.as_secs_f64()).ceil() as u64 + 1
}

fn random_text() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn floods_make_a_handful_of_idp_calls_and_honest_clients_go_on() {
    let s = authz_stack(&[]).await;
    let (_, good_id, good_secret) = s.registered_app("dev-good", "well-behaved").await;
    let (_, victim_id, _) = s.registered_app("dev-victim", "attacked").await;
    s.base
        .issue(&good_id, &good_secret, AUDIENCE)
        .await
        .expect("the honest app's token");

    // 1. Wrong secrets for one client id, each different (no cache can answer them).
    let idp_before = s.base.token_requests().await;
    let started = Instant::now();
    let answers: Vec<Result<tok::IssueTokenResponse, tonic::Status>> =
        futures::stream::iter(0..FLOOD)
            .map(|_| {
                let (client, id) = (s.base.tokens(), victim_id.clone());
                async move {
                    let mut client = client;
                    client
                        .issue_token(tok::IssueTokenRequest {
                            client_id: id,
                            client_secret: random_text(),
                            scopes: vec!["read".into()],
                            audience: AUDIENCE.into(),
                        })
                        .await
                        .map(tonic::Response::into_inner)
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
    let elapsed = started.elapsed();
    let idp_calls = s.base.token_requests().await - idp_before;
    assert!(
        answers.iter().all(Result::is_err),
        "a wrong secret got a token"
    );
    let limited: Vec<&tonic::Status> = answers
        .iter()
        .filter_map(|a| a.as_ref().err())
        .filter(|s| s.code() == Code::ResourceExhausted)
        .collect();
    let refused = answers
        .iter()
        .filter(|a| a.as_ref().err().map(tonic::Status::code) == Some(Code::Unauthenticated))
        .count();
    assert_eq!(limited.len() + refused, FLOOD, "only refusals and limits");
    assert!(
        idp_calls <= allowed(CLIENT_RATE, elapsed),
        "{FLOOD} wrong secrets in {elapsed:?} made {idp_calls} IdP token calls"
    );
    assert!(!limited.is_empty(), "the flood was never limited");
    let retry = limited[0]
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("RESOURCE_EXHAUSTED says when to retry");
    assert!(retry >= Duration::from_secs(1), "{retry:?}");
    println!(
        "wrong secrets: {FLOOD} in {elapsed:?}: {idp_calls} IdP calls, {} limited, {refused} refused",
        limited.len()
    );

    // Over HTTP too: 429, Retry-After, an RFC 6749 error body. (The client's allowance
    // refills while the flood's results are checked, so a few more wrong secrets may
    // still reach the IdP before the limit answers again: at most a burst.)
    let mut http = None;
    for _ in 0..(CLIENT_RATE.1 as usize * 3) {
        let response = reqwest::Client::new()
            .post(format!("{}/oauth2/token", s.base.http_base))
            .basic_auth(&victim_id, Some(random_text()))
            .form(&[("grant_type", "client_credentials"), ("audience", AUDIENCE)])
            .send()
            .await
            .expect("post");
        if response.status() == 429 {
            http = Some(response);
            break;
        }
        assert_eq!(response.status(), 401, "a wrong secret is refused");
    }
    let http = http.expect("the HTTP endpoint answers 429 once the client's limit is spent");
    let retry_after = http.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(retry_after.parse::<u64>().expect("seconds") >= 1);
    let body: serde_json::Value = http.json().await.expect("json");
    assert_eq!(body["error"], "temporarily_unavailable", "{body}");

    // The honest app is untouched: its token comes from the cache, and Checks allow.
    s.base
        .issue(&good_id, &good_secret, AUDIENCE)
        .await
        .expect("the honest app still gets its token");

    // 2. Random opaque tokens to Check: introspection is limited per provider.
    let product = opaque_product(&s).await;
    let (introspector, introspector_secret) = introspection_client(&s).await;
    set_introspection_client(&s, &introspector, &introspector_secret).await;
    let (app, app_secret, _) = s
        .app_registered_for("dev-good", &s.base.strategy_id, &product, "opaque honest")
        .await;
    let honest = format!(
        "Bearer {}",
        s.idp_token(&app.client_id, &app_secret, OPAQUE).await
    );
    // Introspection credentials are asked for at each introspection: no wait needed.
    let ok = s
        .check(&product, &[("authorization", &honest)], &["read"])
        .await;
    assert_eq!(ok.decision, pb::Decision::Allow as i32, "{ok:?}");

    let before = introspections(&s).await;
    let started = Instant::now();
    let decisions: Vec<pb::CheckResponse> = futures::stream::iter(0..FLOOD)
        .map(|i| {
            let product = product.clone();
            let honest = honest.clone();
            let s = &s;
            async move {
                // Every 100th call is the honest app's: it must keep getting through.
                let token = if i % 100 == 0 {
                    honest
                } else {
                    format!("Bearer {}", random_text())
                };
                s.check(&product, &[("authorization", &token)], &["read"])
                    .await
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let idp_calls = introspections(&s).await - before;
    let allows = decisions
        .iter()
        .filter(|d| d.decision == pb::Decision::Allow as i32)
        .count();
    assert_eq!(
        allows,
        FLOOD / 100,
        "the honest app's calls, and only them, allowed"
    );
    let limited = decisions.iter().filter(|d| d.http_status == 429).count();
    assert!(limited > 0, "the opaque flood was never limited");
    assert!(
        idp_calls <= allowed(INTROSPECTION_RATE, elapsed),
        "{FLOOD} random opaque tokens in {elapsed:?} made {idp_calls} introspections"
    );
    println!(
        "random opaque tokens: {FLOOD} in {elapsed:?}: {idp_calls} introspections, {limited} limited"
    );

    // 3. Random Basic credentials from one source address the gateway names: limited per
    // source (each unknown client id would cost a registry lookup), while the honest app,
    // from another address, gets through.
    let basic = |id: &str, secret: &str| {
        use base64::Engine as _;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    let from = |source: &str, authorization: String| pb::CheckRequest {
        product_id: s.base.product_id.clone(),
        headers: [("authorization".to_owned(), authorization)].into(),
        required_scopes: Vec::new(),
        source_address: source.to_owned(),
    };
    let attacker = "203.0.113.9";
    let started = Instant::now();
    let answers: Vec<pb::CheckResponse> = futures::stream::iter(0..FLOOD / 4)
        .map(|_| {
            let mut authz = s.authz();
            let request = from(attacker, basic(&random_text(), &random_text()));
            async move { authz.check(request).await.expect("check").into_inner() }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let let_through = allowed(SOURCE_RATE, started.elapsed());
    let limited: Vec<&pb::CheckResponse> = answers
        .iter()
        .filter(|a| a.http_status == 429 && a.reason == "rate_limited")
        .collect();
    assert!(
        answers
            .iter()
            .all(|a| a.decision == pb::Decision::Deny as i32),
        "unknown clients let through"
    );
    assert!(
        limited.len() as u64 + let_through >= (FLOOD / 4) as u64,
        "only {} of {} calls from one address were limited",
        limited.len(),
        FLOOD / 4
    );
    let honest = s
        .authz()
        .check(from("198.51.100.7", basic(&good_id, &good_secret)))
        .await
        .expect("check")
        .into_inner();
    assert_eq!(honest.decision, pb::Decision::Allow as i32, "{honest:?}");
}
