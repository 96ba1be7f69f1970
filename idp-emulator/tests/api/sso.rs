//! The SSO issuer (`/sso`): a person signs in through the login page, as a browser and
//! a native client would; the tokens verify against its JWKS with jsonwebtoken; refresh
//! tokens rotate; group changes show at the next refresh. The strict cases are in
//! `sso_strict`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dcr_idp_emulator::{SSO_DEFAULT_AUDIENCE, SSO_LOGIN_CLIENT_ID, SSO_PEOPLE};
use reqwest::{Client, StatusCode, redirect};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::helpers::{TestEmu, spawn, verify};

pub const REDIRECT: &str = "http://127.0.0.1:53682/callback";

/// A browser: no automatic redirects, so each hop is seen.
pub fn browser() -> Client {
    Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}

pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce {
        verifier,
        challenge,
    }
}

/// The authorization URL with the usual parameters, `extra` added (or, with an empty
/// value, left out).
pub fn authorize_url(t: &TestEmu, pkce: &Pkce, extra: &[(&str, &str)]) -> Url {
    let mut params = vec![
        ("client_id", SSO_LOGIN_CLIENT_ID),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email groups offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    for (name, value) in extra {
        params.retain(|(n, _)| n != name);
        if !value.is_empty() {
            params.push((name, value));
        }
    }
    Url::parse_with_params(&t.emu.urls.sso_authorize(), &params).unwrap()
}

/// The `action` of the page's form, resolved against the emulator.
pub fn form_action(t: &TestEmu, html: &str) -> String {
    let start = html.find("action=\"").expect("a form action") + "action=\"".len();
    let end = html[start..].find('"').unwrap();
    t.url(&html[start..start + end])
}

pub fn query(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// GETs the login page, posts `login`/`password`, and returns the redirect's URL.
pub async fn sign_in(t: &TestEmu, url: Url, login: &str, password: &str) -> Url {
    let http = browser();
    let page = http.get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let action = form_action(t, &page.text().await.unwrap());
    let posted = http
        .post(action)
        .form(&[("login", login), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::SEE_OTHER);
    Url::parse(posted.headers()["location"].to_str().unwrap()).unwrap()
}

pub async fn token(t: &TestEmu, form: &[(&str, &str)]) -> (StatusCode, Value) {
    t.form_token(&t.emu.urls.sso_token(), form).await
}

pub async fn exchange(t: &TestEmu, code: &str, verifier: &str) -> (StatusCode, Value) {
    token(
        t,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", SSO_LOGIN_CLIENT_ID),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
    .await
}

pub async fn refresh(t: &TestEmu, refresh_token: &str) -> (StatusCode, Value) {
    token(
        t,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", SSO_LOGIN_CLIENT_ID),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// A signed-in person's token response (with `extra` authorization parameters).
pub async fn signed_in(t: &TestEmu, login: &str, extra: &[(&str, &str)]) -> Value {
    let person = SSO_PEOPLE.iter().find(|p| p.login == login).unwrap();
    let p = pkce();
    let back = sign_in(t, authorize_url(t, &p, extra), login, person.password).await;
    let code = query(&back, "code").unwrap();
    let (status, body) = exchange(t, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn discovery_names_the_endpoints_and_s256_only() {
    let t = spawn().await;
    let urls = &t.emu.urls;
    let d: Value = t
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            urls.sso_issuer()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(d["issuer"], urls.sso_issuer());
    assert_eq!(d["authorization_endpoint"], urls.sso_authorize());
    assert_eq!(d["token_endpoint"], urls.sso_token());
    assert_eq!(d["jwks_uri"], urls.sso_jwks());
    assert_eq!(d["userinfo_endpoint"], urls.sso_userinfo());
    assert_eq!(d["revocation_endpoint"], urls.sso_revoke());
    assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_basic"])
    );
}

#[tokio::test]
async fn a_person_signs_in_and_gets_verifiable_tokens() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let p = pkce();
    let url = authorize_url(&t, &p, &[("resource", "https://dcr.example")]);

    // The login page: a form with labelled fields.
    let page = browser().get(url.clone()).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    for part in [
        "<html lang=\"en\">",
        "<label for=\"login\">",
        "<label for=\"password\">",
        "autocomplete=\"current-password\"",
        "<h1>Sign in</h1>",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }

    let back = sign_in(&t, url, "alice", "alice-password").await;
    assert_eq!(back.origin(), Url::parse(REDIRECT).unwrap().origin());
    assert_eq!(back.path(), "/callback");
    assert_eq!(query(&back, "state").as_deref(), Some("st-123"));
    assert_eq!(query(&back, "iss"), Some(urls.sso_issuer()));
    let code = query(&back, "code").unwrap();

    let (status, body) = exchange(&t, &code, &p.verifier).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert!(body["refresh_token"].is_string());
    let access = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(access).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let (claims, _) = verify(
        &t.http,
        &urls.sso_jwks(),
        access,
        &urls.sso_issuer(),
        "https://dcr.example",
    )
    .await;
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["groups"], json!(["dcr-admins"]));
    assert_eq!(claims["name"], "Alice Admin");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["client_id"], SSO_LOGIN_CLIENT_ID);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        600
    );
    let (id, _) = verify(
        &t.http,
        &urls.sso_jwks(),
        body["id_token"].as_str().unwrap(),
        &urls.sso_issuer(),
        SSO_LOGIN_CLIENT_ID,
    )
    .await;
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["name"], "Alice Admin");

    let info: Value = t
        .http
        .get(urls.sso_userinfo())
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["groups"], json!(["dcr-admins"]));
}

#[tokio::test]
async fn the_audience_is_the_resource_the_audience_or_the_default() {
    let t = spawn().await;
    let aud = |body: &Value| claims_of(body["access_token"].as_str().unwrap())["aud"].clone();
    let default = signed_in(&t, "dana", &[]).await;
    assert_eq!(aud(&default), SSO_DEFAULT_AUDIENCE);
    let by_audience = signed_in(&t, "dana", &[("audience", "urn:dcr:test")]).await;
    assert_eq!(aud(&by_audience), "urn:dcr:test");
    // Without offline_access there is no refresh token; without openid no ID token.
    let bare = signed_in(&t, "dana", &[("scope", "profile")]).await;
    assert!(bare.get("refresh_token").is_none(), "{bare}");
    assert!(bare.get("id_token").is_none(), "{bare}");
}

#[tokio::test]
async fn refresh_tokens_rotate_and_carry_changed_groups() {
    let t = spawn().await;
    let first = signed_in(&t, "aaron", &[("resource", "api://dcr")]).await;
    let old = first["refresh_token"].as_str().unwrap();

    // The approver loses their group at the identity provider.
    let changed = t
        .control(
            reqwest::Method::POST,
            "/__emulator/sso/people/aaron",
            json!({ "groups": ["engineering"] }),
        )
        .await;
    assert_eq!(changed["groups"], json!(["engineering"]));

    let (status, second) = refresh(&t, old).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    let claims = claims_of(second["access_token"].as_str().unwrap());
    assert_eq!(claims["groups"], json!(["engineering"]));
    assert_eq!(claims["aud"], "api://dcr", "the grant's audience is kept");
    let new = second["refresh_token"].as_str().unwrap();
    assert_ne!(new, old, "rotated");

    // The old token again: refused, and the whole sign-in with it.
    let (status, reused) = refresh(&t, old).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(reused["error"], "invalid_grant");
    let (status, after) = refresh(&t, new).await;
    assert_eq!(
        (status, &after["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
}

#[tokio::test]
async fn revocation_ends_the_sign_in() {
    let t = spawn().await;
    let body = signed_in(&t, "diego", &[]).await;
    let refresh_token = body["refresh_token"].as_str().unwrap();
    let resp = t
        .http
        .post(t.emu.urls.sso_revoke())
        .form(&[
            ("token", refresh_token),
            ("token_type_hint", "refresh_token"),
            ("client_id", SSO_LOGIN_CLIENT_ID),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (status, answer) = refresh(&t, refresh_token).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(answer["error"], "invalid_grant");
}
