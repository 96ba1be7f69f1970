//! The HTTP token endpoint, driven by a real OAuth client library (Python authlib,
//! tests/python/oauth_client.py), plus the RFC 6749 error shapes.

use crate::harness::stack;

#[tokio::test]
async fn an_oauth_client_library_gets_tokens_from_the_http_endpoint() {
    let python =
        std::env::var("DCR_TEST_PYTHON").expect("DCR_TEST_PYTHON is not set: run scripts/test");
    let s = stack(&[]).await;
    let (_, client_id, secret) = s.app("dev-1", "library").await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/oauth_client.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(["--token-url", &format!("{}/oauth2/token", s.http_base)])
        // `--flag=value`: generated ids and secrets may start with `-`, which argparse
        // would take for another option.
        .arg(format!("--client-id={client_id}"))
        .arg(format!("--client-secret={secret}"))
        .args(["--scope", "read"])
        .args([
            "--audience",
            "https://api.example.com",
            "--expect-jwt-aud",
            "https://api.example.com",
        ])
        .output()
        .await
        .expect("run the OAuth client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("7 passed, 0 failed"), "{stdout}");
}

#[tokio::test]
async fn http_errors_follow_rfc_6749() {
    let s = stack(&[]).await;
    let http = reqwest::Client::new();
    let url = format!("{}/oauth2/token", s.http_base);
    let response = http
        .post(&url)
        .basic_auth("nobody", Some("nothing"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .expect("header")
            .starts_with("Basic ")
    );
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_client");
    let response = http
        .post(&url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");

    // A body past 16 KiB is not read, and the answer is still an OAuth error.
    let response = http
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=client_credentials&pad={}",
            "x".repeat(20 * 1024)
        ))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(body["error_description"], "the request is too large");
}
