use std::time::{Duration, Instant};

use dcr_idp_emulator::OKTA_API_TOKEN;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{body, spawn};

/// The rate-limit reset header is `seconds` from now, in UTC epoch seconds.
fn assert_reset_in(headers: &reqwest::header::HeaderMap, name: &str, seconds: i64) {
    let reset: i64 = headers[name].to_str().unwrap().parse().unwrap();
    let ahead = reset - chrono::Utc::now().timestamp();
    assert!(
        (seconds - 1..=seconds).contains(&ahead),
        "{name} is {ahead} s ahead"
    );
}

#[tokio::test]
async fn injected_429_503_drop_and_delay() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let list_clients = |token: &'static str| {
        t.http
            .get(urls.okta_clients())
            .header("authorization", format!("SSWS {token}"))
            .send()
    };

    // 429 with Okta's rate-limit headers (the reset 7 s ahead, no Retry-After), twice,
    // then normal again.
    t.control(
        Method::POST,
        "/__emulator/faults",
        json!({ "vendor": "okta", "method": "GET", "path_prefix": "/okta/oauth2/v1/clients", "status": 429, "retry_after": 7, "times": 2 }),
    )
    .await;
    for _ in 0..2 {
        let resp = list_clients(OKTA_API_TOKEN).await.unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(!resp.headers().contains_key("retry-after"));
        assert_eq!(resp.headers()["x-rate-limit-remaining"], "0");
        assert_reset_in(resp.headers(), "x-rate-limit-reset", 7);
        let (_, b) = body(resp).await;
        assert_eq!(b["errorCode"], "E0000047");
    }
    assert_eq!(
        list_clients(OKTA_API_TOKEN).await.unwrap().status(),
        StatusCode::OK
    );

    // 503 in Graph's shape; faults match by path prefix and method.
    t.control(
        Method::POST,
        "/__emulator/faults",
        json!({ "path_prefix": "/graph/", "status": 503, "times": 1 }),
    )
    .await;
    let (status, b) = body(
        t.http
            .get(format!("{}/applications", urls.graph_v1()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, b["error"]["code"].clone()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!("serviceNotAvailable")
        )
    );

    // Auth0 429 in the Management API shape.
    t.control(Method::POST, "/__emulator/faults", json!({ "vendor": "auth0", "path_prefix": "/auth0/api/v2/", "status": 429, "retry_after": 1 })).await;
    let resp = t
        .http
        .get(format!("{}clients", urls.auth0_management_audience()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    assert!(!resp.headers().contains_key("retry-after"));
    assert_reset_in(resp.headers(), "x-ratelimit-reset", 1);
    let (status, b) = body(resp).await;
    assert_eq!(
        (status, b["errorCode"].clone()),
        (StatusCode::TOO_MANY_REQUESTS, json!("too_many_requests"))
    );

    // Drop: the connection closes without an answer.
    t.control(
        Method::POST,
        "/__emulator/faults",
        json!({ "path_prefix": "/curity/oauth/v2/oauth-token", "drop": true }),
    )
    .await;
    let err = t
        .http
        .post(urls.curity_token())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await;
    assert!(err.is_err(), "a dropped request must fail");
    assert_eq!(
        t.http
            .post(urls.curity_token())
            .form(&[("grant_type", "x")])
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );

    // Delay, then the handler answers.
    t.control(
        Method::POST,
        "/__emulator/faults",
        json!({ "path_prefix": "/okta/", "delay_ms": 300 }),
    )
    .await;
    let started = Instant::now();
    assert_eq!(
        list_clients(OKTA_API_TOKEN).await.unwrap().status(),
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(300));

    // Clearing removes pending faults.
    t.control(
        Method::POST,
        "/__emulator/faults",
        json!({ "path_prefix": "/okta/", "status": 500, "times": 5 }),
    )
    .await;
    assert_eq!(
        t.http
            .delete(t.url("/__emulator/faults"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        list_clients(OKTA_API_TOKEN).await.unwrap().status(),
        StatusCode::OK
    );

    let resp = t
        .http
        .post(t.url("/__emulator/faults"))
        .json(&json!({ "path_prefix": "/okta/" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
