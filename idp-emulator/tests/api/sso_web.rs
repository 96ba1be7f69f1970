//! Web clients of the SSO issuer (the Dev Portal's kind): registered through
//! `/__emulator/sso/clients`, confidential with `client_secret_basic`, redirect URIs
//! matched exactly. The whole code flow with HTTP Basic, then every way a client can fail
//! to authenticate, each a 401 `invalid_client` with a Basic challenge.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dcr_idp_emulator::{SSO_DEFAULT_AUDIENCE, SSO_LOGIN_CLIENT_ID};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::helpers::{TestEmu, body, spawn, verify};
use crate::sso::{Pkce, browser, pkce, query, sign_in};

pub const PORTAL: &str = "dcr-portal";
/// `+`, `/` and `%` change under form-urlencoding, so a client that skips the encoding
/// RFC 6749 section 2.3.1 asks for gets a wrong secret.
pub const PORTAL_SECRET: &str = "portal+secret/%21-0123456789";
pub const PORTAL_REDIRECT: &str = "http://127.0.0.1:8090/auth/callback";

/// Registers the portal as a confidential web client; returns what the control API shows.
pub async fn register_portal(t: &TestEmu) -> Value {
    t.control(
        Method::POST,
        "/__emulator/sso/clients",
        json!({
            "client_id": PORTAL,
            "client_secret": PORTAL_SECRET,
            "name": "Dev Portal",
            "redirect_uris": [PORTAL_REDIRECT],
        }),
    )
    .await
}

/// `Authorization: Basic` as RFC 6749 section 2.3.1 has it: id and secret each
/// form-urlencoded first.
pub fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

pub fn portal_authorize_url(t: &TestEmu, p: &Pkce, redirect_uri: &str) -> Url {
    Url::parse_with_params(
        &t.emu.urls.sso_authorize(),
        &[
            ("client_id", PORTAL),
            ("response_type", "code"),
            ("redirect_uri", redirect_uri),
            ("scope", "openid profile email groups offline_access"),
            ("state", "st-web"),
            ("nonce", "n-web"),
            ("code_challenge", p.challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap()
}

async fn send(req: RequestBuilder) -> (StatusCode, Value, Option<String>) {
    let resp = req.send().await.unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, value) = body(resp).await;
    (status, value, challenge)
}

fn exchange_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", PORTAL_REDIRECT),
        ("code_verifier", verifier),
    ]
}

/// A person signed in at the portal: the code from the redirect, and its verifier.
async fn portal_code(t: &TestEmu, login: &str, password: &str) -> (String, Pkce) {
    let p = pkce();
    let back = sign_in(
        t,
        portal_authorize_url(t, &p, PORTAL_REDIRECT),
        login,
        password,
    )
    .await;
    assert_eq!(
        format!("{}{}", back.origin().ascii_serialization(), back.path()),
        PORTAL_REDIRECT
    );
    assert_eq!(query(&back, "state").as_deref(), Some("st-web"));
    assert_eq!(query(&back, "iss"), Some(t.emu.urls.sso_issuer()));
    (query(&back, "code").unwrap(), p)
}

fn assert_refused(what: &str, (status, body, challenge): &(StatusCode, Value, Option<String>)) {
    assert_eq!(*status, StatusCode::UNAUTHORIZED, "{what}: {body}");
    assert_eq!(body["error"], "invalid_client", "{what}: {body}");
    assert!(body["error_description"].is_string(), "{what}: {body}");
    let challenge = challenge.as_deref().unwrap_or("");
    assert!(
        challenge.starts_with("Basic realm="),
        "{what}: {challenge:?}"
    );
}

#[tokio::test]
async fn the_control_api_registers_shows_and_replaces_web_clients() {
    let t = spawn().await;
    let shown = register_portal(&t).await;
    assert_eq!(
        shown,
        json!({
            "client_id": PORTAL, "name": "Dev Portal", "client_type": "confidential",
            "application_type": "web", "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": [PORTAL_REDIRECT], "default_audience": SSO_DEFAULT_AUDIENCE,
        })
    );
    let read = t
        .control(
            Method::GET,
            "/__emulator/sso/clients/dcr-portal",
            Value::Null,
        )
        .await;
    assert_eq!(read, shown, "read back, without its secret");

    // Registered again: replaced (200, not 201), here as a public client.
    let resp = t
        .http
        .post(t.url("/__emulator/sso/clients"))
        .json(&json!({"client_id": PORTAL, "name": "Portal SPA",
                      "redirect_uris": ["https://portal.example/cb"], "default_audience": "api://x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let read = t
        .control(
            Method::GET,
            "/__emulator/sso/clients/dcr-portal",
            Value::Null,
        )
        .await;
    assert_eq!(read["client_type"], "public");
    assert_eq!(read["token_endpoint_auth_method"], "none");
    assert_eq!(read["default_audience"], "api://x");

    // The seeded native client is there too; an unknown one is 404.
    let native = t
        .control(Method::GET, "/__emulator/sso/clients/dcrctl", Value::Null)
        .await;
    assert_eq!(native["application_type"], "native");
    let resp = t
        .http
        .get(t.url("/__emulator/sso/clients/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_control_api_refuses_bad_clients_by_name() {
    let t = spawn().await;
    let good = json!({"client_id": "web", "client_secret": "0123456789abcdef",
                      "name": "Web", "redirect_uris": ["http://127.0.0.1:8090/cb"]});
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value;
        }
        body
    };
    let cases = [
        (with("extra", json!(1)), "unknown field"),
        (with("client_id", Value::Null), "client_id"),
        (with("client_id", json!("")), "client_id"),
        (with("client_id", json!("has space")), "client_id"),
        (
            with("client_id", json!(SSO_LOGIN_CLIENT_ID)),
            "seeded native",
        ),
        (with("client_secret", json!("short")), "client_secret"),
        (
            with("client_secret", json!("sixteen chars ok")),
            "client_secret",
        ),
        (with("name", json!("  ")), "name"),
        (with("redirect_uris", json!([])), "redirect_uris"),
        (with("redirect_uris", Value::Null), "redirect_uris"),
        (with("redirect_uris", json!(["/relative"])), "not a URL"),
        (with("redirect_uris", json!(["app:/cb"])), "http or https"),
        (
            with("redirect_uris", json!(["https://a.example/cb#x"])),
            "fragment",
        ),
        (
            with("redirect_uris", json!(["https://A.example/cb"])),
            "normal form",
        ),
        (
            with(
                "redirect_uris",
                json!(["https://a.example/cb", "https://a.example/cb"]),
            ),
            "twice",
        ),
        (with("default_audience", json!("")), "default_audience"),
    ];
    for (spec, expected) in cases {
        let resp = t
            .http
            .post(t.url("/__emulator/sso/clients"))
            .json(&spec)
            .send()
            .await
            .unwrap();
        let (status, answer) = body(resp).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{spec}: {answer}");
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(expected), "{spec}: {message}");
    }
    let resp = t
        .http
        .post(t.url("/__emulator/sso/clients"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    // None of them was registered; the good one is.
    let resp = t
        .http
        .get(t.url("/__emulator/sso/clients/web"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = t
        .http
        .post(t.url("/__emulator/sso/clients"))
        .json(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn a_confidential_client_signs_a_person_in_with_basic_auth() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    register_portal(&t).await;
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
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        json!(["none", "client_secret_basic"])
    );

    let (code, p) = portal_code(&t, "alice", "alice-password").await;
    let (status, tokens, _) = send(
        t.http
            .post(urls.sso_token())
            .header("authorization", basic(PORTAL, PORTAL_SECRET))
            .form(&exchange_form(&code, &p.verifier)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let (access, _) = verify(
        &t.http,
        &urls.sso_jwks(),
        tokens["access_token"].as_str().unwrap(),
        &urls.sso_issuer(),
        SSO_DEFAULT_AUDIENCE,
    )
    .await;
    assert_eq!(access["sub"], "alice");
    assert_eq!(access["client_id"], PORTAL);
    let (id, _) = verify(
        &t.http,
        &urls.sso_jwks(),
        tokens["id_token"].as_str().unwrap(),
        &urls.sso_issuer(),
        PORTAL,
    )
    .await;
    assert_eq!(id["nonce"], "n-web");
    assert_eq!(id["groups"], json!(["dcr-admins"]));

    // Refresh, then revoke, both with Basic.
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    let (status, refreshed, _) = send(
        t.http
            .post(urls.sso_token())
            .header("authorization", basic(PORTAL, PORTAL_SECRET))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ]),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let current = refreshed["refresh_token"].as_str().unwrap();
    let (status, _, _) = send(
        t.http
            .post(urls.sso_revoke())
            .header("authorization", basic(PORTAL, PORTAL_SECRET))
            .form(&[("token", current)]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, after, _) = send(
        t.http
            .post(urls.sso_token())
            .header("authorization", basic(PORTAL, PORTAL_SECRET))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", current)]),
    )
    .await;
    assert_eq!(
        (status, &after["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
}

#[tokio::test]
async fn a_web_clients_redirect_uri_matches_exactly() {
    let t = spawn().await;
    register_portal(&t).await;
    let p = pkce();
    for other in [
        "http://127.0.0.1:8091/auth/callback",
        "http://127.0.0.1/auth/callback",
        "http://localhost:8090/auth/callback",
        "http://127.0.0.1:8090/auth/callback/",
    ] {
        let resp = browser()
            .get(portal_authorize_url(&t, &p, other))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{other}");
        assert!(resp.headers().get("location").is_none(), "{other}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("registered redirect URIs exactly"), "{html}");
    }
    let resp = browser()
        .get(portal_authorize_url(&t, &p, PORTAL_REDIRECT))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_other_way_to_authenticate_is_refused_with_401() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    register_portal(&t).await;
    let (code, p) = portal_code(&t, "dana", "dana-password").await;
    let form = exchange_form(&code, &p.verifier);
    let token = || t.http.post(urls.sso_token());
    let with_body = |extra: &[(&'static str, &'static str)]| {
        let mut f = form.clone();
        f.extend_from_slice(extra);
        f
    };
    let raw_basic = format!(
        "Basic {}",
        STANDARD.encode(format!("{PORTAL}:{PORTAL_SECRET}"))
    );
    let cases = [
        (
            "no authentication",
            token().form(&with_body(&[("client_id", PORTAL)])),
        ),
        ("no authentication, no client_id", token().form(&form)),
        (
            "wrong secret",
            token()
                .header("authorization", basic(PORTAL, "wrong-secret-0123456789"))
                .form(&form),
        ),
        (
            "the secret without form-urlencoding",
            token().header("authorization", raw_basic).form(&form),
        ),
        (
            "unknown client",
            token()
                .header("authorization", basic("nobody", PORTAL_SECRET))
                .form(&form),
        ),
        (
            "client_secret_post",
            token().form(&with_body(&[
                ("client_id", PORTAL),
                ("client_secret", PORTAL_SECRET),
            ])),
        ),
        (
            "Basic and the secret in the body",
            token()
                .header("authorization", basic(PORTAL, PORTAL_SECRET))
                .form(&with_body(&[("client_secret", PORTAL_SECRET)])),
        ),
        (
            "another client_id in the body than in Basic",
            token()
                .header("authorization", basic(PORTAL, PORTAL_SECRET))
                .form(&with_body(&[("client_id", SSO_LOGIN_CLIENT_ID)])),
        ),
        (
            "a Bearer header",
            token().bearer_auth(PORTAL_SECRET).form(&form),
        ),
        (
            "a public client sending a secret",
            token()
                .header(
                    "authorization",
                    basic(SSO_LOGIN_CLIENT_ID, "anything-at-all-123"),
                )
                .form(&form),
        ),
    ];
    for (what, req) in cases {
        assert_refused(what, &send(req).await);
    }

    let revoke = || t.http.post(urls.sso_revoke());
    for (what, req) in [
        (
            "revoke without authentication",
            revoke().form(&[("token", "x"), ("client_id", PORTAL)]),
        ),
        (
            "revoke with a wrong secret",
            revoke()
                .header("authorization", basic(PORTAL, "wrong-secret-0123456789"))
                .form(&[("token", "x")]),
        ),
        (
            "revoke by client_secret_post",
            revoke().form(&[
                ("token", "x"),
                ("client_id", PORTAL),
                ("client_secret", PORTAL_SECRET),
            ]),
        ),
    ] {
        assert_refused(what, &send(req).await);
    }

    // None of the refusals spent the code: the client's own request still gets tokens.
    let (status, tokens, _) = send(
        token()
            .header("authorization", basic(PORTAL, PORTAL_SECRET))
            .form(&form),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
}
