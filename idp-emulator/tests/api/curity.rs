use dcr_idp_emulator::{CURITY_INITIAL_CLIENT_ID, CURITY_INITIAL_CLIENT_SECRET};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, body, spawn, verify};

async fn cc_token(t: &TestEmu, id: &str, secret: &str, scope: &str) -> (StatusCode, Value) {
    let resp = t
        .http
        .post(t.emu.urls.curity_token())
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    body(resp).await
}

async fn dcr_token(t: &TestEmu) -> String {
    let (status, b) = cc_token(
        t,
        CURITY_INITIAL_CLIENT_ID,
        CURITY_INITIAL_CLIENT_SECRET,
        "dcr",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!(b["scope"], "dcr");
    b["access_token"].as_str().unwrap().to_string()
}

async fn call(
    t: &TestEmu,
    method: Method,
    url: &str,
    token: &str,
    payload: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = t.http.request(method, url).bearer_auth(token);
    if let Some(p) = payload {
        req = req.json(&p);
    }
    body(req.send().await.unwrap()).await
}

#[tokio::test]
async fn registration_and_rfc7592_management() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let discovery: Value = t
        .http
        .get(format!(
            "{}/.well-known/openid-configuration",
            urls.curity_issuer()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        discovery["registration_endpoint"],
        urls.curity_registration()
    );
    assert_eq!(discovery["token_endpoint"], urls.curity_token());

    let iat = dcr_token(&t).await;
    let request = json!({ "client_name": "alice-shop", "grant_types": ["client_credentials"], "scope": "orders:read orders:write" });
    let (status, reg) = call(
        &t,
        Method::POST,
        &urls.curity_registration(),
        &iat,
        Some(request.clone()),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{reg}");
    let id = reg["client_id"].as_str().unwrap().to_string();
    let secret = reg["client_secret"].as_str().unwrap().to_string();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let client_uri = reg["registration_client_uri"].as_str().unwrap().to_string();
    assert_eq!(client_uri, format!("{}/{id}", urls.curity_registration()));
    assert_eq!(reg["client_name"], "alice-shop");

    // The initial access token is single-use.
    let (status, b) = call(
        &t,
        Method::POST,
        &urls.curity_registration(),
        &iat,
        Some(request.clone()),
    )
    .await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_token"))
    );

    // A token for the new client, verified against the JWKS.
    let (status, tok) = cc_token(&t, &id, &secret, "orders:read").await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    let (claims, _) = verify(
        &t.http,
        &urls.curity_jwks(),
        tok["access_token"].as_str().unwrap(),
        &urls.curity_issuer(),
        &id,
    )
    .await;
    assert_eq!(
        (
            claims["sub"].clone(),
            claims["client_id"].clone(),
            claims["purpose"].clone()
        ),
        (json!(id), json!(id), json!("access_token"))
    );
    assert_eq!(claims["scope"], "orders:read");
    assert_eq!(
        cc_token(&t, &id, &secret, "admin").await.0,
        StatusCode::BAD_REQUEST
    );

    // GET rotates both the secret and the registration access token.
    let (status, read) = call(&t, Method::GET, &client_uri, &rat, None).await;
    assert_eq!(status, StatusCode::OK);
    let rat2 = read["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let secret2 = read["client_secret"].as_str().unwrap().to_string();
    assert_ne!(rat2, rat);
    assert_ne!(secret2, secret);
    assert_eq!(
        call(&t, Method::GET, &client_uri, &rat, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cc_token(&t, &id, &secret, "orders:read").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        cc_token(&t, &id, &secret2, "orders:read").await.0,
        StatusCode::OK
    );

    // PUT replaces the metadata and rotates again.
    let (status, b) = call(
        &t,
        Method::PUT,
        &client_uri,
        &rat2,
        Some(json!({ "client_name": "x" })),
    )
    .await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_client_metadata"))
    );
    let (status, put) = call(
        &t,
        Method::PUT,
        &client_uri,
        &rat2,
        Some(json!({ "client_id": id, "client_name": "renamed", "grant_types": ["client_credentials"], "scope": "orders:read" })),
    )
    .await;
    assert_eq!(
        (status, put["client_name"].clone()),
        (StatusCode::OK, json!("renamed"))
    );
    let rat3 = put["registration_access_token"]
        .as_str()
        .unwrap()
        .to_string();

    // DELETE.
    assert_eq!(
        call(&t, Method::DELETE, &client_uri, &rat3, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        call(&t, Method::GET, &client_uri, &rat3, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let secret3 = put["client_secret"].as_str().unwrap();
    assert_eq!(
        cc_token(&t, &id, secret3, "orders:read").await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn registration_needs_the_dcr_scope() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let (status, _) = call(
        &t,
        Method::POST,
        &urls.curity_registration(),
        "junk",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let seeded = t
        .control(
            Method::POST,
            "/__emulator/clients",
            json!({ "vendor": "curity", "scopes": ["read"] }),
        )
        .await;
    let (_, tok) = cc_token(
        &t,
        seeded["client_id"].as_str().unwrap(),
        seeded["client_secret"].as_str().unwrap(),
        "read",
    )
    .await;
    let (status, b) = call(
        &t,
        Method::POST,
        &urls.curity_registration(),
        tok["access_token"].as_str().unwrap(),
        Some(json!({ "grant_types": ["client_credentials"] })),
    )
    .await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::FORBIDDEN, json!("insufficient_scope"))
    );

    let (status, b) = cc_token(&t, CURITY_INITIAL_CLIENT_ID, "wrong", "dcr").await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_client"))
    );
    let iat = dcr_token(&t).await;
    let (status, b) = call(
        &t,
        Method::POST,
        &urls.curity_registration(),
        &iat,
        Some(json!({ "grant_types": ["authorization_code"] })),
    )
    .await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_redirect_uri"))
    );
}
