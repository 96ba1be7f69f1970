use dcr_idp_emulator::{OKTA_API_TOKEN, Urls};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, spawn, verify};

async fn okta_client(t: &TestEmu, urls: &Urls) -> (String, String) {
    let resp = t
        .http
        .post(urls.okta_clients())
        .header("authorization", format!("SSWS {OKTA_API_TOKEN}"))
        .json(&json!({ "client_name": "svc", "application_type": "service", "grant_types": ["client_credentials"] }))
        .send()
        .await
        .unwrap();
    let b: Value = resp.json().await.unwrap();
    (
        b["client_id"].as_str().unwrap().to_string(),
        b["client_secret"].as_str().unwrap().to_string(),
    )
}

/// A token for an Okta client set to `client_secret_basic` (Okta's default).
async fn okta_token(t: &TestEmu, urls: &Urls, id: &str, secret: &str) -> String {
    let resp = t
        .http
        .post(urls.okta_token())
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "s")])
        .send()
        .await
        .unwrap();
    let (status, b) = crate::helpers::body(resp).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_verifiable() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let (id, secret) = okta_client(&t, &urls).await;
    let before = okta_token(&t, &urls, &id, &secret).await;
    let rotated = t
        .control(
            Method::POST,
            "/__emulator/rotate-keys",
            json!({ "vendor": "okta" }),
        )
        .await;
    let after = okta_token(&t, &urls, &id, &secret).await;
    let (_, old_kid) = verify(
        &t.http,
        &urls.okta_jwks(),
        &before,
        &urls.okta_issuer(),
        "api://default",
    )
    .await;
    let (_, new_kid) = verify(
        &t.http,
        &urls.okta_jwks(),
        &after,
        &urls.okta_issuer(),
        "api://default",
    )
    .await;
    assert_ne!(old_kid, new_kid);
    assert_eq!(rotated["kid"], json!(new_kid));
    let jwks: Value = t
        .http
        .get(urls.okta_jwks())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"][0]["kid"],
        json!(new_kid),
        "the signing key comes first"
    );
}

#[tokio::test]
async fn stats_and_state_dump() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let (id, secret) = okta_client(&t, &urls).await;
    for _ in 0..2 {
        t.http
            .get(format!("{}/{id}", urls.okta_clients()))
            .header("authorization", format!("SSWS {OKTA_API_TOKEN}"))
            .send()
            .await
            .unwrap();
    }
    t.http
        .get(format!("{}/applications(appId='abc')", urls.graph_v1()))
        .send()
        .await
        .unwrap();
    let stats: Value = t
        .http
        .get(t.url("/__emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["POST /okta/oauth2/v1/clients"], 1);
    assert_eq!(stats["GET /okta/oauth2/v1/clients/{id}"], 2);
    assert_eq!(stats["GET /graph/v1.0/applications(appId='{id}')"], 1);

    let state = t
        .http
        .get(t.url("/__emulator/state"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !state.contains(&secret),
        "the dump never shows a whole secret"
    );
    assert!(!state.contains(dcr_idp_emulator::AUTH0_MGMT_CLIENT_SECRET));
    let state: Value = serde_json::from_str(&state).unwrap();
    let client = state["okta"]["clients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client_id"] == json!(id))
        .unwrap();
    assert_eq!(
        client["secrets"][0]["secret_last4"],
        json!(&secret[secret.len() - 4..])
    );
    assert_eq!(
        state["auth0"]["clients"][0]["client_id"],
        dcr_idp_emulator::AUTH0_MGMT_CLIENT_ID
    );
    assert_eq!(
        state["azure_ad"]["applications"][0]["appId"],
        dcr_idp_emulator::ENTRA_INITIAL_CLIENT_ID
    );
    assert_eq!(
        state["curity"]["clients"][0]["client_id"],
        dcr_idp_emulator::CURITY_INITIAL_CLIENT_ID
    );
}

#[tokio::test]
async fn discovery_documents_name_the_emulator_urls() {
    let t = spawn().await;
    let u = t.emu.urls.clone();
    for (url, issuer, token, jwks) in [
        (
            format!("{}.well-known/openid-configuration", u.auth0_issuer()),
            u.auth0_issuer(),
            u.auth0_token(),
            u.auth0_jwks(),
        ),
        (
            format!("{}/.well-known/openid-configuration", u.okta_issuer()),
            u.okta_issuer(),
            u.okta_token(),
            u.okta_jwks(),
        ),
        (
            format!("{}/.well-known/oauth-authorization-server", u.okta_issuer()),
            u.okta_issuer(),
            u.okta_token(),
            u.okta_jwks(),
        ),
        (
            format!("{}/.well-known/openid-configuration", u.curity_issuer()),
            u.curity_issuer(),
            u.curity_token(),
            u.curity_jwks(),
        ),
        (
            format!("{}/.well-known/openid-configuration", u.entra_v2_issuer()),
            u.entra_v2_issuer(),
            u.entra_v2_token(),
            u.entra_jwks(),
        ),
    ] {
        let d: Value = t.http.get(&url).send().await.unwrap().json().await.unwrap();
        assert_eq!(
            (
                d["issuer"].as_str(),
                d["token_endpoint"].as_str(),
                d["jwks_uri"].as_str()
            ),
            (
                Some(issuer.as_str()),
                Some(token.as_str()),
                Some(jwks.as_str())
            ),
            "{url}"
        );
        let keys: Value = t
            .http
            .get(&jwks)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(keys["keys"][0]["kid"].is_string());
    }
}
