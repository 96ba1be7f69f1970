use dcr_idp_emulator::{AUTH0_MGMT_CLIENT_ID, AUTH0_MGMT_CLIENT_SECRET};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, body, spawn, verify};

async fn token(t: &TestEmu, id: &str, secret: &str, audience: &str) -> (StatusCode, Value) {
    let resp = t
        .http
        .post(t.emu.urls.auth0_token())
        .json(&json!({ "grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": audience }))
        .send()
        .await
        .unwrap();
    body(resp).await
}

async fn mgmt_token(t: &TestEmu) -> String {
    let (status, b) = token(
        t,
        AUTH0_MGMT_CLIENT_ID,
        AUTH0_MGMT_CLIENT_SECRET,
        &t.emu.urls.auth0_management_audience(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["access_token"].as_str().unwrap().to_string()
}

async fn mgmt(
    t: &TestEmu,
    token: &str,
    method: Method,
    path: &str,
    payload: Option<Value>,
) -> (StatusCode, Value) {
    let url = format!(
        "{}{path}",
        t.emu.urls.auth0_management_audience().trim_end_matches('/')
    );
    let mut req = t.http.request(method, url).bearer_auth(token);
    if let Some(p) = payload {
        req = req.json(&p);
    }
    let resp = req.send().await.unwrap();
    assert!(resp.headers().contains_key("x-ratelimit-limit"));
    assert!(resp.headers().contains_key("x-ratelimit-remaining"));
    assert!(resp.headers().contains_key("x-ratelimit-reset"));
    body(resp).await
}

#[tokio::test]
async fn management_api_client_and_grant_lifecycle() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let mgmt_tok = mgmt_token(&t).await;
    let (claims, _) = verify(
        &t.http,
        &urls.auth0_jwks(),
        &mgmt_tok,
        &urls.auth0_issuer(),
        &urls.auth0_management_audience(),
    )
    .await;
    assert_eq!(claims["sub"], format!("{AUTH0_MGMT_CLIENT_ID}@clients"));
    assert_eq!(claims["gty"], "client-credentials");
    assert!(
        claims["scope"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "create:clients")
    );

    // Create.
    let (status, created) = mgmt(
        &t,
        &mgmt_tok,
        Method::POST,
        "/clients",
        Some(json!({ "name": "alice-shop", "description": "d", "app_type": "non_interactive",
                     "grant_types": ["client_credentials"], "token_endpoint_auth_method": "client_secret_post",
                     "client_metadata": { "dcr_app_id": "app-1" } })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert_eq!(created["client_metadata"]["dcr_app_id"], "app-1");

    // Read and list.
    let (status, got) = mgmt(&t, &mgmt_tok, Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], "alice-shop");
    let (_, page) = mgmt(
        &t,
        &mgmt_tok,
        Method::GET,
        "/clients?page=0&per_page=1&include_totals=true",
        None,
    )
    .await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["clients"].as_array().unwrap().len(), 1);
    let (_, fields) = mgmt(
        &t,
        &mgmt_tok,
        Method::GET,
        "/clients?fields=client_id,client_metadata",
        None,
    )
    .await;
    assert_eq!(fields[1].as_object().unwrap().len(), 2);
    let (status, q) = mgmt(&t, &mgmt_tok, Method::GET, "/clients?q=name:alice", None).await;
    assert_eq!(
        (status, q["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_query_string"))
    );

    // Update.
    let (status, patched) = mgmt(
        &t,
        &mgmt_tok,
        Method::PATCH,
        &format!("/clients/{id}"),
        Some(json!({ "name": "alice-shop-2", "client_metadata": { "k": "v" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["name"], "alice-shop-2");
    assert_eq!(patched["client_metadata"], json!({ "k": "v" }));

    // A grant for an API, then a token for the new client verifying against the JWKS.
    let api = "https://orders.example.com";
    let (status, nf) = mgmt(
        &t,
        &mgmt_tok,
        Method::POST,
        "/client-grants",
        Some(json!({ "client_id": id, "audience": api, "scope": ["read"] })),
    )
    .await;
    assert_eq!(
        (status, nf["errorCode"].clone()),
        (StatusCode::NOT_FOUND, json!("inexistent_resource_server"))
    );
    t.control(
        Method::POST,
        "/__emulator/auth0/resource-servers",
        json!({ "identifier": api }),
    )
    .await;
    let (status, denied) = token(&t, &id, &secret, api).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(denied["error"], "access_denied");
    assert!(
        denied["error_description"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Client is not authorized to access \"{api}\"."))
    );
    let (status, grant) = mgmt(
        &t,
        &mgmt_tok,
        Method::POST,
        "/client-grants",
        Some(json!({ "client_id": id, "audience": api, "scope": ["read", "write"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    let (status, _) = mgmt(
        &t,
        &mgmt_tok,
        Method::POST,
        "/client-grants",
        Some(json!({ "client_id": id, "audience": api, "scope": [] })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, grants) = mgmt(
        &t,
        &mgmt_tok,
        Method::GET,
        &format!("/client-grants?client_id={id}"),
        None,
    )
    .await;
    assert_eq!(grants.as_array().unwrap().len(), 1);
    let (status, tok) = token(&t, &id, &secret, api).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tok["token_type"], "Bearer");
    let (claims, _) = verify(
        &t.http,
        &urls.auth0_jwks(),
        tok["access_token"].as_str().unwrap(),
        &urls.auth0_issuer(),
        api,
    )
    .await;
    assert_eq!(claims["azp"], id);
    assert_eq!(claims["sub"], format!("{id}@clients"));
    assert_eq!(claims["scope"], "read write");

    // Narrow the grant; a requested scope intersects it.
    let grant_id = grant["id"].as_str().unwrap();
    let (status, _) = mgmt(
        &t,
        &mgmt_tok,
        Method::PATCH,
        &format!("/client-grants/{grant_id}"),
        Some(json!({ "scope": ["read"] })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let basic = || {
        t.http
            .post(urls.auth0_token())
            .form(&[
                ("grant_type", "client_credentials"),
                ("audience", api),
                ("scope", "read write"),
            ])
            .basic_auth(&id, Some(&secret))
            .send()
    };
    // The client authenticates by Post (Auth0's default): Basic is refused like a wrong
    // secret, until the client's method says Basic.
    let (status, refused) = body(basic().await.unwrap()).await;
    assert_eq!(
        (status, refused),
        (
            StatusCode::UNAUTHORIZED,
            json!({"error": "access_denied", "error_description": "Unauthorized"})
        )
    );
    let (status, _) = mgmt(
        &t,
        &mgmt_tok,
        Method::PATCH,
        &format!("/clients/{id}"),
        Some(json!({ "token_endpoint_auth_method": "client_secret_basic" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, tok) = body(basic().await.unwrap()).await;
    assert_eq!(
        (status, tok["scope"].clone()),
        (StatusCode::OK, json!("read"))
    );
    // Now the body is the wrong place for the secret; both at once is never accepted.
    let (status, _) = token(&t, &id, &secret, api).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let both = t
        .http
        .post(urls.auth0_token())
        .basic_auth(&id, Some(&secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("audience", api),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(both.status(), StatusCode::UNAUTHORIZED);
    let (status, _) = mgmt(
        &t,
        &mgmt_tok,
        Method::PATCH,
        &format!("/clients/{id}"),
        Some(json!({ "token_endpoint_auth_method": "client_secret_post" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Rotate: the old secret stops working.
    let (status, rotated) = mgmt(
        &t,
        &mgmt_tok,
        Method::POST,
        &format!("/clients/{id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new_secret = rotated["client_secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    let (status, err) = token(&t, &id, &secret, api).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        err,
        json!({ "error": "access_denied", "error_description": "Unauthorized" })
    );
    assert_eq!(token(&t, &id, new_secret, api).await.0, StatusCode::OK);

    // Delete grant, then client.
    let (status, _) = mgmt(
        &t,
        &mgmt_tok,
        Method::DELETE,
        &format!("/client-grants/{grant_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        token(&t, &id, new_secret, api).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, _) = mgmt(
        &t,
        &mgmt_tok,
        Method::DELETE,
        &format!("/clients/{id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, gone) = mgmt(&t, &mgmt_tok, Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        gone,
        json!({ "statusCode": 404, "error": "Not Found", "message": "The client does not exist", "errorCode": "inexistent_client" })
    );
}

#[tokio::test]
async fn management_api_enforces_credentials_scopes_and_body() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let aud = urls.auth0_management_audience();

    let (status, b) = token(&t, AUTH0_MGMT_CLIENT_ID, "wrong", &aud).await;
    assert_eq!(
        (status, b),
        (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "access_denied", "error_description": "Unauthorized" })
        )
    );
    let (status, b) = token(&t, AUTH0_MGMT_CLIENT_ID, AUTH0_MGMT_CLIENT_SECRET, "").await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::FORBIDDEN, json!("access_denied"))
    );

    let resp = t.http.get(format!("{aud}clients")).send().await.unwrap();
    let (status, b) = body(resp).await;
    assert_eq!(
        (status, b["message"].clone()),
        (StatusCode::UNAUTHORIZED, json!("Missing authentication"))
    );
    let (status, b) = mgmt(&t, "not-a-jwt", Method::GET, "/clients", None).await;
    assert_eq!(
        (status, b["message"].clone()),
        (StatusCode::UNAUTHORIZED, json!("Invalid token"))
    );

    // A client holding only read:clients.
    let seeded = t
        .control(
            Method::POST,
            "/__emulator/clients",
            json!({ "vendor": "auth0", "scopes": ["read:clients"] }),
        )
        .await;
    let (_, tok) = token(
        &t,
        seeded["client_id"].as_str().unwrap(),
        seeded["client_secret"].as_str().unwrap(),
        &aud,
    )
    .await;
    let reader = tok["access_token"].as_str().unwrap();
    let (status, b) = mgmt(
        &t,
        reader,
        Method::POST,
        "/clients",
        Some(json!({ "name": "x" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        b,
        json!({ "statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: create:clients", "errorCode": "insufficient_scope" })
    );
    // read:clients without read:client_keys: no secrets in reads.
    let (status, list) = mgmt(&t, reader, Method::GET, "/clients", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|c| c.get("client_secret").is_none())
    );

    let admin = mgmt_token(&t).await;
    let eleven: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    for bad in [
        json!({ "description": "no name" }),
        json!({ "name": "x", "client_metadata": eleven }),
        json!({ "name": "x", "client_metadata": { "n": 1 } }),
        json!({ "name": "x", "unknown_field": true }),
    ] {
        let (status, b) = mgmt(&t, &admin, Method::POST, "/clients", Some(bad.clone())).await;
        assert_eq!(
            (status, b["errorCode"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid_body")),
            "{bad} -> {b}"
        );
    }
    for (method, path) in [
        (Method::GET, "/clients/nope"),
        (Method::PATCH, "/clients/nope"),
        (Method::DELETE, "/clients/nope"),
    ] {
        let payload = (method == Method::PATCH).then(|| json!({ "name": "y" }));
        let (status, b) = mgmt(&t, &admin, method, path, payload).await;
        assert_eq!(
            (status, b["errorCode"].clone()),
            (StatusCode::NOT_FOUND, json!("inexistent_client"))
        );
    }
    let (status, _) = mgmt(
        &t,
        &admin,
        Method::POST,
        "/clients/nope/rotate-secret",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
