//! The SSO issuer is strict, so dcr's login client meets a strict peer: a wrong password
//! gets the form again with 401; an unknown client or a redirect URI that is not a
//! loopback one gets an error page, never a redirect; PKCE is required (S256); a code
//! works once, for a minute, with its own verifier; login clients send no secret.

use dcr_idp_emulator::SSO_LOGIN_CLIENT_ID;
use reqwest::{Method, StatusCode};
use serde_json::json;
use url::Url;

use crate::helpers::{TestEmu, spawn};
use crate::sso::{
    authorize_url, browser, exchange, form_action, pkce, query, refresh, sign_in, token,
};

/// GETs `url` and expects an error page: 400, HTML, no Location.
async fn error_page(url: Url) -> String {
    let resp = browser().get(url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{url}");
    assert!(resp.headers().get("location").is_none(), "{url} redirected");
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    resp.text().await.unwrap()
}

/// GETs `url` and expects an error redirect to the client; returns its `error`.
async fn error_redirect(url: Url) -> String {
    let resp = browser().get(url.clone()).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::FOUND, "{url}");
    let back = Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(back.path(), "/callback");
    assert_eq!(query(&back, "state").as_deref(), Some("st-123"));
    assert!(query(&back, "code").is_none());
    query(&back, "error").unwrap()
}

#[tokio::test]
async fn a_wrong_password_shows_the_form_again_with_401() {
    let t = spawn().await;
    let p = pkce();
    let http = browser();
    let page = http
        .get(authorize_url(&t, &p, &[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = form_action(&t, &page);
    let typed = "<script>alert(1)</script>";
    let wrong = http
        .post(&action)
        .form(&[("login", typed), ("password", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("location").is_none());
    let html = wrong.text().await.unwrap();
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("Wrong login or password."), "{html}");
    assert!(!html.contains("<script>"), "escaped: {html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    // A real login's wrong password is the same answer.
    let wrong = http
        .post(&action)
        .form(&[("login", "alice"), ("password", "dana-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // The same form still works with the right password, once.
    let right = http
        .post(&action)
        .form(&[("login", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::SEE_OTHER);
    let again = http
        .post(&action)
        .form(&[("login", "alice"), ("password", "alice-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "a used login page");
}

#[tokio::test]
async fn untrusted_requests_get_an_error_page_never_a_redirect() {
    let t = spawn().await;
    let p = pkce();
    let page = error_page(authorize_url(&t, &p, &[("client_id", "nobody")])).await;
    assert!(page.contains("There is no client"), "{page}");
    error_page(authorize_url(&t, &p, &[("client_id", "")])).await;
    error_page(authorize_url(&t, &p, &[("redirect_uri", "")])).await;
    for redirect in [
        "https://evil.example/callback",
        "http://localhost:53682/callback",
        "http://127.0.0.1:53682/elsewhere",
        "http://127.0.0.1:53682/callback#x",
    ] {
        let page = error_page(authorize_url(&t, &p, &[("redirect_uri", redirect)])).await;
        assert!(page.contains("is not a redirect URI"), "{page}");
    }
    // A parameter given twice cannot be trusted either.
    let mut twice = authorize_url(&t, &p, &[]);
    twice
        .query_pairs_mut()
        .append_pair("redirect_uri", "https://evil.example/callback");
    error_page(twice).await;
}

#[tokio::test]
async fn other_problems_go_back_to_the_client() {
    let t = spawn().await;
    let p = pkce();
    let cases: [(&[(&str, &str)], &str); 7] = [
        (&[("code_challenge", "")], "invalid_request"),
        (&[("code_challenge_method", "plain")], "invalid_request"),
        (&[("code_challenge_method", "")], "invalid_request"),
        (&[("response_type", "token")], "unsupported_response_type"),
        (&[("scope", "openid admin")], "invalid_scope"),
        (&[("resource", "not-absolute")], "invalid_target"),
        (&[("prompt", "none")], "login_required"),
    ];
    for (extra, error) in cases {
        assert_eq!(
            error_redirect(authorize_url(&t, &p, extra)).await,
            error,
            "{extra:?}"
        );
    }
}

#[tokio::test]
async fn a_code_works_once_with_its_verifier_for_a_minute() {
    let t = spawn().await;

    // PKCE mismatch: invalid_grant, and the code is spent.
    let p = pkce();
    let code = query(
        &sign_in(&t, authorize_url(&t, &p, &[]), "dana", "dana-password").await,
        "code",
    )
    .unwrap();
    let (status, body) = exchange(&t, &code, &pkce().verifier).await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
    let (_, body) = exchange(&t, &code, &p.verifier).await;
    assert_eq!(body["error"], "invalid_grant");

    // Reuse: the second exchange fails and revokes what the first one got.
    let p = pkce();
    let code = query(
        &sign_in(&t, authorize_url(&t, &p, &[]), "dana", "dana-password").await,
        "code",
    )
    .unwrap();
    let (status, first) = exchange(&t, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let (status, second) = exchange(&t, &code, &p.verifier).await;
    assert_eq!(
        (status, &second["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
    let (_, refreshed) = refresh(&t, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refreshed["error"], "invalid_grant", "revoked by the reuse");

    // Another redirect_uri than the request's, a missing verifier.
    let p = pkce();
    let code = query(
        &sign_in(&t, authorize_url(&t, &p, &[]), "dana", "dana-password").await,
        "code",
    )
    .unwrap();
    let common = [
        ("grant_type", "authorization_code"),
        ("client_id", SSO_LOGIN_CLIENT_ID),
        ("code", code.as_str()),
    ];
    let mut other_port = common.to_vec();
    other_port.extend([
        ("redirect_uri", "http://127.0.0.1:1/callback"),
        ("code_verifier", p.verifier.as_str()),
    ]);
    assert_eq!(token(&t, &other_port).await.1["error"], "invalid_grant");
    let mut no_verifier = common.to_vec();
    no_verifier.push(("redirect_uri", crate::sso::REDIRECT));
    assert_eq!(token(&t, &no_verifier).await.1["error"], "invalid_request");

    // An unused code a minute later.
    let p = pkce();
    let code = query(
        &sign_in(&t, authorize_url(&t, &p, &[]), "dana", "dana-password").await,
        "code",
    )
    .unwrap();
    t.control(
        Method::POST,
        "/__emulator/clock",
        json!({ "advance_secs": 61 }),
    )
    .await;
    let (_, late) = exchange(&t, &code, &p.verifier).await;
    assert_eq!(late["error"], "invalid_grant");
}

#[tokio::test]
async fn the_token_endpoint_answers_rfc_6749_errors() {
    let t: TestEmu = spawn().await;
    let (status, body) = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "nobody"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
    );
    let (status, body) = token(
        &t,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SSO_LOGIN_CLIENT_ID),
            ("client_secret", "s"),
            ("refresh_token", "x"),
        ],
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
    );
    let (status, body) = token(
        &t,
        &[
            ("grant_type", "password"),
            ("client_id", SSO_LOGIN_CLIENT_ID),
        ],
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::BAD_REQUEST, &json!("unsupported_grant_type"))
    );
    let (_, body) = token(&t, &[("client_id", SSO_LOGIN_CLIENT_ID)]).await;
    assert_eq!(body["error"], "invalid_request");
    let (_, body) = refresh(&t, "never-issued").await;
    assert_eq!(body["error"], "invalid_grant");
    assert!(body["error_description"].is_string());
}

#[tokio::test]
async fn the_control_api_reads_and_changes_people() {
    let t = spawn().await;
    let alice = t
        .control(Method::GET, "/__emulator/sso/people/alice", json!(null))
        .await;
    assert_eq!(alice["groups"], json!(["dcr-admins"]));
    assert!(alice.get("password").is_none());
    let resp = t
        .http
        .post(t.url("/__emulator/sso/people/nobody"))
        .json(&json!({ "groups": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = t
        .http
        .post(t.url("/__emulator/sso/people/alice"))
        .json(&json!({ "groups": [""] }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}
