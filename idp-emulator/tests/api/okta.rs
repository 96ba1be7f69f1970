use dcr_idp_emulator::OKTA_API_TOKEN;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, body, spawn, verify};

async fn api(
    t: &TestEmu,
    token: &str,
    method: Method,
    url: &str,
    payload: Option<Value>,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = t
        .http
        .request(method, url)
        .header("authorization", format!("SSWS {token}"));
    if let Some(p) = payload {
        req = req.json(&p);
    }
    let resp = req.send().await.unwrap();
    let headers = resp.headers().clone();
    assert!(headers.contains_key("x-rate-limit-limit"));
    let (status, b) = body(resp).await;
    (status, b, headers)
}

async fn cc_token(t: &TestEmu, id: &str, secret: &str, scope: &str) -> (StatusCode, Value) {
    let resp = t
        .http
        .post(t.emu.urls.okta_token())
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    body(resp).await
}

fn service_client(name: &str) -> Value {
    json!({ "client_name": name, "application_type": "service", "grant_types": ["client_credentials"],
            "response_types": ["token"], "token_endpoint_auth_method": "client_secret_basic" })
}

#[tokio::test]
async fn dcr_api_and_client_secrets_lifecycle() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();

    let (status, created, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::POST,
        &urls.okta_clients(),
        Some(service_client("dcr-alice-shop")),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert!(id.starts_with("0oa"));
    assert_eq!(created["client_secret_expires_at"], 0);
    for name in ["dcr-bob", "other"] {
        api(
            &t,
            OKTA_API_TOKEN,
            Method::POST,
            &urls.okta_clients(),
            Some(service_client(name)),
        )
        .await;
    }

    // A token for the new client, verified against the JWKS.
    let (status, tok) = cc_token(&t, &id, &secret, "orders:read").await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    let (claims, _) = verify(
        &t.http,
        &urls.okta_jwks(),
        tok["access_token"].as_str().unwrap(),
        &urls.okta_issuer(),
        "api://default",
    )
    .await;
    assert_eq!(
        (
            claims["ver"].clone(),
            claims["cid"].clone(),
            claims["sub"].clone()
        ),
        (json!(1), json!(id), json!(id))
    );
    assert_eq!(claims["scp"], json!(["orders:read"]));

    // List: prefix search and Link pagination.
    let (status, page, headers) = api(
        &t,
        OKTA_API_TOKEN,
        Method::GET,
        &format!("{}?q=DCR-&limit=1", urls.okta_clients()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert!(page[0].get("client_secret").is_none());
    let link = headers["link"].to_str().unwrap().to_string();
    let next = link
        .split(", ")
        .find(|l| l.ends_with("rel=\"next\""))
        .unwrap();
    let next_url = next.trim_start_matches('<').split('>').next().unwrap();
    let (_, page2, headers2) = api(&t, OKTA_API_TOKEN, Method::GET, next_url, None).await;
    assert_eq!(page2[0]["client_name"], "dcr-bob");
    assert!(!headers2["link"].to_str().unwrap().contains("rel=\"next\""));

    // Read and replace.
    let client_url = format!("{}/{id}", urls.okta_clients());
    let (status, got, _) = api(&t, OKTA_API_TOKEN, Method::GET, &client_url, None).await;
    assert_eq!(
        (status, got["client_name"].clone()),
        (StatusCode::OK, json!("dcr-alice-shop"))
    );
    let (status, put, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::PUT,
        &client_url,
        Some(service_client("renamed")),
    )
    .await;
    assert_eq!(
        (status, put["client_name"].clone()),
        (StatusCode::OK, json!("renamed"))
    );

    // newSecret replaces the secret.
    let (status, fresh, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::POST,
        &format!("{client_url}/lifecycle/newSecret"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let s1 = fresh["client_secret"].as_str().unwrap().to_string();
    assert_eq!(
        cc_token(&t, &id, &secret, "x").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(cc_token(&t, &id, &s1, "x").await.0, StatusCode::OK);

    // Client Secrets API: a second ACTIVE secret; both work; a third is refused.
    let secrets_url = urls.okta_secrets(&id);
    let (status, list, _) = api(&t, OKTA_API_TOKEN, Method::GET, &secrets_url, None).await;
    assert_eq!(
        (status, list.as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    let first_id = list[0]["id"].as_str().unwrap().to_string();
    let (status, second, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::POST,
        &secrets_url,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, second["status"].clone()),
        (StatusCode::CREATED, json!("ACTIVE"))
    );
    let s2 = second["client_secret"].as_str().unwrap().to_string();
    assert_eq!(cc_token(&t, &id, &s1, "x").await.0, StatusCode::OK);
    assert_eq!(cc_token(&t, &id, &s2, "x").await.0, StatusCode::OK);
    let (status, third, _) = api(&t, OKTA_API_TOKEN, Method::POST, &secrets_url, None).await;
    assert_eq!(
        (status, third["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("E0000001"))
    );

    // Only an INACTIVE secret can be deleted; an INACTIVE secret stops working.
    let first_url = format!("{secrets_url}/{first_id}");
    let (status, b, _) = api(&t, OKTA_API_TOKEN, Method::DELETE, &first_url, None).await;
    assert_eq!(
        (status, b["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("E0000001"))
    );
    let (status, b, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::POST,
        &format!("{first_url}/lifecycle/deactivate"),
        None,
    )
    .await;
    assert_eq!(
        (status, b["status"].clone()),
        (StatusCode::OK, json!("INACTIVE"))
    );
    assert_eq!(
        cc_token(&t, &id, &s1, "x").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, _) = api(&t, OKTA_API_TOKEN, Method::DELETE, &first_url, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Delete the client.
    let (status, _, _) = api(&t, OKTA_API_TOKEN, Method::DELETE, &client_url, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, b, _) = api(&t, OKTA_API_TOKEN, Method::GET, &client_url, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(b["errorCode"], "E0000007");
    assert_eq!(
        b["errorSummary"],
        format!("Not found: Resource not found: {id} (AppInstance)")
    );
    assert_eq!(b["errorLink"], "E0000007");
    assert!(b["errorId"].as_str().unwrap().starts_with("oae"));
    assert_eq!(b["errorCauses"], json!([]));
}

#[tokio::test]
async fn errors_api_tokens_and_introspection() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();

    let (status, b, _) = api(&t, "wrong", Method::GET, &urls.okta_clients(), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (b["errorCode"].clone(), b["errorSummary"].clone()),
        (json!("E0000011"), json!("Invalid token provided"))
    );

    t.control(
        Method::POST,
        "/__emulator/okta/api-tokens",
        json!({ "token": "ro-token", "read_only": true }),
    )
    .await;
    assert_eq!(
        api(&t, "ro-token", Method::GET, &urls.okta_clients(), None)
            .await
            .0,
        StatusCode::OK
    );
    let (status, b, _) = api(
        &t,
        "ro-token",
        Method::POST,
        &urls.okta_clients(),
        Some(service_client("x")),
    )
    .await;
    assert_eq!(
        (status, b["errorCode"].clone()),
        (StatusCode::FORBIDDEN, json!("E0000006"))
    );
    t.http
        .delete(t.url("/__emulator/okta/api-tokens/ro-token"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api(&t, "ro-token", Method::GET, &urls.okta_clients(), None)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let (status, b, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::POST,
        &urls.okta_clients(),
        Some(json!({ "application_type": "service" })),
    )
    .await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_client_metadata"))
    );
    let (status, b, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::GET,
        &urls.okta_secrets("0oanope"),
        None,
    )
    .await;
    assert_eq!(
        (status, b["errorCode"].clone()),
        (StatusCode::NOT_FOUND, json!("E0000007"))
    );

    let (_, c, _) = api(
        &t,
        OKTA_API_TOKEN,
        Method::POST,
        &urls.okta_clients(),
        Some(service_client("svc")),
    )
    .await;
    let (id, secret) = (
        c["client_id"].as_str().unwrap(),
        c["client_secret"].as_str().unwrap(),
    );
    let (status, b) = cc_token(&t, id, secret, "openid").await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_scope"))
    );
    let (status, b) = body(
        t.http
            .post(urls.okta_token())
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_scope"))
    );
    let (status, b) = cc_token(&t, id, "nope", "a").await;
    assert_eq!(
        (status, b),
        (
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client", "error_description": "The client secret supplied for a confidential client is invalid." })
        )
    );

    let (_, tok) = cc_token(&t, id, secret, "a b").await;
    let access = tok["access_token"].as_str().unwrap();
    // Introspection authenticates the client the same way (its method: Basic).
    let introspect = |token: &str| {
        t.http
            .post(urls.okta_introspect())
            .basic_auth(id, Some(secret))
            .form(&[("token", token)])
            .send()
    };
    let (status, intro) = body(introspect(access).await.unwrap()).await;
    assert_eq!(
        (status, intro["active"].clone(), intro["scope"].clone()),
        (StatusCode::OK, json!(true), json!("a b"))
    );
    let (_, intro) = body(introspect("junk").await.unwrap()).await;
    assert_eq!(intro, json!({ "active": false }));
    let (status, _) = t
        .form_token(
            &urls.okta_introspect(),
            &[
                ("token", access),
                ("client_id", id),
                ("client_secret", secret),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "not by Post");
}
