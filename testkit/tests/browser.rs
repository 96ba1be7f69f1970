//! People sign in in a real headless Chromium, as a confidential web client (the Dev
//! Portal's kind) would have them: at the emulator's `/sso` and at the oidc-provider peer.
//! The redirect URI is a small listener of the test's own; the browser opens the
//! authorization URL, fills the login form, submits, and lands there; the test then
//! exchanges the code with HTTP Basic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::response::Html;
use dcr_testkit::browser::Browser;
use dcr_testkit::emulator::{Emulator, emulator};
use dcr_testkit::people::{
    AuthorizationRequest, Pkce, WebClient, exchange_code, jwt_claims, oidc_provider_with_web_client,
};
use serde_json::{Value, json};
use tokio::sync::Notify;
use url::Url;

const SECRET: &str = "portal+secret/0123456789";

/// The redirect URI: records each query it is called with and answers a page the
/// browser shows (`#signed-in`).
struct Callback {
    redirect_uri: String,
    queries: Arc<Mutex<Vec<String>>>,
    arrived: Arc<Notify>,
}

impl Callback {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let redirect_uri = format!(
            "http://127.0.0.1:{}/auth/callback",
            listener.local_addr().unwrap().port()
        );
        let queries = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let app = axum::Router::new()
            .route("/auth/callback", axum::routing::get(record))
            .with_state((queries.clone(), arrived.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            redirect_uri,
            queries,
            arrived,
        }
    }

    /// The URL of the first call, waiting for it (at most 20 s); on time out, says where
    /// the browser is instead.
    async fn landed(&self, browser: &Browser) -> Url {
        let wait = async {
            loop {
                let notified = self.arrived.notified();
                if let Some(q) = self.queries.lock().unwrap().first().cloned() {
                    return q;
                }
                notified.await;
            }
        };
        let Ok(query) = tokio::time::timeout(Duration::from_secs(20), wait).await else {
            panic!(
                "the browser never reached the redirect URI; it is at {}: {}",
                browser.url().await,
                browser.source().await
            );
        };
        Url::parse(&format!("{}?{query}", self.redirect_uri)).unwrap()
    }

    fn calls(&self) -> usize {
        self.queries.lock().unwrap().len()
    }
}

type Recorded = (Arc<Mutex<Vec<String>>>, Arc<Notify>);

async fn record(
    State((queries, arrived)): State<Recorded>,
    RawQuery(q): RawQuery,
) -> Html<&'static str> {
    queries.lock().unwrap().push(q.unwrap_or_default());
    arrived.notify_waiters();
    Html("<!doctype html><title>Portal</title><h1 id=\"signed-in\">Signed in</h1>")
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The emulator with the portal registered as a confidential web client whose redirect
/// URI is `callback`.
async fn emulator_with_portal(callback: &Callback) -> (Emulator, WebClient) {
    let emu = emulator().await;
    let client = WebClient::new("dcr-portal", SECRET, &callback.redirect_uri);
    let mut body = client.to_json();
    body["name"] = json!("Dev Portal");
    let response = reqwest::Client::new()
        .post(format!("{}/__emulator/sso/clients", emu.root))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    (emu, client)
}

fn authorization_url(
    endpoint: &str,
    client: &WebClient,
    pkce: &Pkce,
    resource: Option<&str>,
) -> String {
    AuthorizationRequest {
        client_id: &client.client_id,
        redirect_uri: &client.redirect_uris[0],
        scope: "openid profile email groups offline_access",
        state: "st-browser",
        nonce: "n-browser",
        pkce,
        resource,
    }
    .url(endpoint)
    .unwrap()
    .to_string()
}

#[tokio::test]
async fn a_person_signs_in_at_the_emulator_in_the_browser() {
    let callback = Callback::start().await;
    let (emu, client) = emulator_with_portal(&callback).await;
    let pkce = Pkce::new();
    let browser = Browser::start().await;

    browser
        .goto(&authorization_url(
            &emu.urls.sso_authorize(),
            &client,
            &pkce,
            None,
        ))
        .await;
    assert_eq!(browser.text("h1").await, "Sign in");
    assert!(browser.text("main").await.contains("Dev Portal"));
    let shot = browser.screenshot("emulator-sso-login").await;
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 1_000,
        "{}",
        shot.display()
    );

    browser.fill("#login", "alice").await;
    browser.fill("#password", "alice-password").await;
    browser.click("button[type=submit]").await;

    let landed = callback.landed(&browser).await;
    assert_eq!(param(&landed, "state").as_deref(), Some("st-browser"));
    assert_eq!(param(&landed, "iss"), Some(emu.urls.sso_issuer()));
    // The browser shows the listener's page, at the redirect URI.
    assert_eq!(browser.text("#signed-in").await, "Signed in");
    assert!(
        browser
            .url()
            .await
            .as_str()
            .starts_with(&callback.redirect_uri)
    );

    let code = param(&landed, "code").expect("a code");
    let tokens = exchange_code(
        &emu.urls.sso_token(),
        &client,
        &code,
        &callback.redirect_uri,
        &pkce,
        None,
    )
    .await
    .unwrap();
    let access = jwt_claims(&tokens.access_token).unwrap();
    assert_eq!(access["sub"], json!("alice"), "{access}");
    assert_eq!(access["client_id"], json!("dcr-portal"), "{access}");
    let id = jwt_claims(tokens.id_token.as_deref().unwrap()).unwrap();
    assert_eq!(id["nonce"], json!("n-browser"), "{id}");
    assert!(tokens.refresh_token.is_some());
    browser.close().await;
}

#[tokio::test]
async fn a_wrong_password_shows_the_emulators_error_in_the_page() {
    let callback = Callback::start().await;
    let (emu, client) = emulator_with_portal(&callback).await;
    let browser = Browser::start().await;
    browser
        .goto(&authorization_url(
            &emu.urls.sso_authorize(),
            &client,
            &Pkce::new(),
            None,
        ))
        .await;
    browser.fill("#login", "alice").await;
    browser.fill("#password", "not-her-password").await;
    browser.click("button[type=submit]").await;

    let alert = browser.text("[role=alert]").await;
    assert_eq!(alert, "Wrong login or password.");
    assert!(browser.url().await.path().starts_with("/sso/login/"));
    // The login typed is kept; the browser never went to the portal.
    let login = browser.wait_for("#login").await;
    assert_eq!(login.prop("value").await.unwrap().as_deref(), Some("alice"));
    assert_eq!(callback.calls(), 0);

    // The same page still signs her in with the right password.
    browser.fill("#password", "alice-password").await;
    browser.click("button[type=submit]").await;
    assert!(param(&callback.landed(&browser).await, "code").is_some());
}

#[tokio::test]
async fn the_emulators_login_page_fits_a_narrow_screen() {
    let callback = Callback::start().await;
    let (emu, client) = emulator_with_portal(&callback).await;
    let browser = Browser::start_sized(320, 640).await;
    browser
        .goto(&authorization_url(
            &emu.urls.sso_authorize(),
            &client,
            &Pkce::new(),
            None,
        ))
        .await;
    browser.wait_for("#password").await;
    let widths = browser.layout_widths().await;
    assert_eq!(widths.viewport, 320, "{widths:?}");
    assert!(
        widths.content <= widths.viewport,
        "scrolls sideways: {widths:?}"
    );
    browser.screenshot("emulator-sso-login-320").await;
}

#[tokio::test]
async fn a_person_signs_in_at_the_oidc_provider_peer_in_the_browser() {
    const RESOURCE: &str = "https://api.example.com";
    let callback = Callback::start().await;
    let client = WebClient::new("dcr-portal", SECRET, &callback.redirect_uri);
    let peer = oidc_provider_with_web_client(
        json!([{"sub": "alice", "password": "alice-pw", "groups": ["dcr-admins"],
                "name": "Alice Admin"}]),
        &client,
    )
    .await;
    let pkce = Pkce::new();
    let browser = Browser::start().await;

    let endpoint = format!("{}/auth", peer.base_url);
    browser
        .goto(&authorization_url(
            &endpoint,
            &client,
            &pkce,
            Some(RESOURCE),
        ))
        .await;
    browser.fill("#login", "alice").await;
    browser.fill("#password", "alice-pw").await;
    browser.click("button[type=submit]").await;

    let landed = callback.landed(&browser).await;
    assert_eq!(param(&landed, "state").as_deref(), Some("st-browser"));
    assert_eq!(
        param(&landed, "iss").as_deref(),
        Some(peer.base_url.as_str())
    );
    assert_eq!(browser.text("#signed-in").await, "Signed in");

    let code = param(&landed, "code").expect("a code");
    let tokens = exchange_code(
        &format!("{}/token", peer.base_url),
        &client,
        &code,
        &callback.redirect_uri,
        &pkce,
        Some(RESOURCE),
    )
    .await
    .unwrap();
    let access: Value = jwt_claims(&tokens.access_token).unwrap();
    assert_eq!(access["aud"], json!(RESOURCE), "{access}");
    assert_eq!(access["client_id"], json!("dcr-portal"), "{access}");
    assert_eq!(access["groups"], json!(["dcr-admins"]), "{access}");
    browser.close().await;
}
