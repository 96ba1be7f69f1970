use dcr_idp_emulator::{ENTRA_INITIAL_CLIENT_ID, ENTRA_INITIAL_CLIENT_SECRET, ENTRA_TENANT_ID};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, body, spawn, verify};

async fn v2_token(t: &TestEmu, id: &str, secret: &str, resource: &str) -> (StatusCode, Value) {
    let scope = format!("{resource}/.default");
    t.form_token(
        &t.emu.urls.entra_v2_token(),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", &scope),
        ],
    )
    .await
}

async fn graph_token(t: &TestEmu, id: &str, secret: &str) -> String {
    let (status, b) = v2_token(t, id, secret, &t.emu.urls.graph_resource()).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    b["access_token"].as_str().unwrap().to_string()
}

async fn graph(
    t: &TestEmu,
    token: &str,
    method: Method,
    path: &str,
    payload: Option<Value>,
) -> (StatusCode, Value) {
    let url = if path.starts_with("http") {
        path.to_string()
    } else {
        format!("{}{path}", t.emu.urls.graph_v1())
    };
    let mut req = t.http.request(method, url).bearer_auth(token);
    if let Some(p) = payload {
        req = req.json(&p);
    }
    body(req.send().await.unwrap()).await
}

#[tokio::test]
async fn graph_applications_passwords_and_tokens() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let admin = graph_token(&t, ENTRA_INITIAL_CLIENT_ID, ENTRA_INITIAL_CLIENT_SECRET).await;
    // Graph tokens are v1.0 tokens, whichever endpoint issued them.
    let (claims, _) = verify(
        &t.http,
        &urls.entra_jwks(),
        &admin,
        &urls.entra_v1_issuer(),
        &urls.graph_resource(),
    )
    .await;
    assert_eq!(
        (claims["ver"].clone(), claims["appid"].clone()),
        (json!("1.0"), json!(ENTRA_INITIAL_CLIENT_ID))
    );
    assert_eq!(claims["roles"], json!(["Application.ReadWrite.OwnedBy"]));
    assert_eq!(claims["tid"], ENTRA_TENANT_ID);

    // A resource API asking for v2.0 tokens, and a client app.
    let (status, api) = graph(
        &t,
        &admin,
        Method::POST,
        "/applications",
        Some(json!({ "displayName": "orders-api", "identifierUris": ["api://orders"], "api": { "requestedAccessTokenVersion": 2 } })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{api}");
    graph(
        &t,
        &admin,
        Method::POST,
        "/servicePrincipals",
        Some(json!({ "appId": api["appId"] })),
    )
    .await;
    let (status, app) = graph(
        &t,
        &admin,
        Method::POST,
        "/applications",
        Some(json!({ "displayName": "alice-shop", "tags": ["dcr", "dcr:app=1"], "notes": "n", "signInAudience": "AzureADMyOrg" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(app["passwordCredentials"], json!([]));
    let (object_id, app_id) = (
        app["id"].as_str().unwrap().to_string(),
        app["appId"].as_str().unwrap().to_string(),
    );

    // Lookups.
    let (_, found) = graph(
        &t,
        &admin,
        Method::GET,
        &format!("/applications?$filter=appId eq '{app_id}'"),
        None,
    )
    .await;
    assert_eq!(found["value"].as_array().unwrap().len(), 1);
    let (_, tagged) = graph(
        &t,
        &admin,
        Method::GET,
        "/applications?$filter=tags/any(t:t eq 'dcr:app=1')",
        None,
    )
    .await;
    assert_eq!(tagged["value"][0]["id"], json!(object_id));
    let (status, alt) = graph(
        &t,
        &admin,
        Method::GET,
        &format!("/applications(appId='{app_id}')"),
        None,
    )
    .await;
    assert_eq!(
        (status, alt["displayName"].clone()),
        (StatusCode::OK, json!("alice-shop"))
    );
    let (_, paged) = graph(&t, &admin, Method::GET, "/applications?$top=1", None).await;
    let next = paged["@odata.nextLink"].as_str().unwrap().to_string();
    let (status, page2) = graph(&t, &admin, Method::GET, &next, None).await;
    assert_eq!(
        (status, page2["value"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );

    // Update.
    let (status, _) = graph(
        &t,
        &admin,
        Method::PATCH,
        &format!("/applications/{object_id}"),
        Some(json!({ "displayName": "alice-shop-2" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, got) = graph(
        &t,
        &admin,
        Method::GET,
        &format!("/applications/{object_id}"),
        None,
    )
    .await;
    assert_eq!(got["displayName"], "alice-shop-2");

    // Passwords: the app needs a service principal before it gets tokens.
    let (status, pw) = graph(
        &t,
        &admin,
        Method::POST,
        &format!("/applications(appId='{app_id}')/addPassword"),
        Some(json!({ "passwordCredential": { "displayName": "dcr credential 1" } })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{pw}");
    let secret = pw["secretText"].as_str().unwrap().to_string();
    assert_eq!(pw["hint"].as_str().unwrap(), &secret[..3]);
    let (status, b) = v2_token(&t, &app_id, &secret, "api://orders").await;
    assert_eq!(
        (status, b["error_codes"].clone()),
        (StatusCode::UNAUTHORIZED, json!([7000229]))
    );
    let (status, _) = graph(
        &t,
        &admin,
        Method::POST,
        "/servicePrincipals",
        Some(json!({ "appId": app_id })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = graph(
        &t,
        &admin,
        Method::POST,
        "/servicePrincipals",
        Some(json!({ "appId": app_id })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, tok) = v2_token(&t, &app_id, &secret, "api://orders").await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    assert_eq!(tok["token_type"], "Bearer");
    let (claims, _) = verify(
        &t.http,
        &urls.entra_jwks(),
        tok["access_token"].as_str().unwrap(),
        &urls.entra_v2_issuer(),
        api["appId"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        (
            claims["ver"].clone(),
            claims["azp"].clone(),
            claims["azpacr"].clone()
        ),
        (json!("2.0"), json!(app_id), json!("1"))
    );

    let (status, v1) = t
        .form_token(
            &urls.entra_v1_token(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &app_id),
                ("client_secret", &secret),
                ("resource", "api://orders"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{v1}");
    assert_eq!(v1["expires_in"], "3599");
    // v1.0 endpoint, v2.0 resource: still a v2.0 token (the resource decides).
    let (claims, _) = verify(
        &t.http,
        &urls.entra_jwks(),
        v1["access_token"].as_str().unwrap(),
        &urls.entra_v2_issuer(),
        api["appId"].as_str().unwrap(),
    )
    .await;
    assert_eq!(claims["ver"], "2.0");

    // A second password, then removal of the first, then an expiring one.
    let (_, pw2) = graph(
        &t,
        &admin,
        Method::POST,
        &format!("/applications/{object_id}/addPassword"),
        Some(json!({})),
    )
    .await;
    let secret2 = pw2["secretText"].as_str().unwrap().to_string();
    assert_eq!(
        v2_token(&t, &app_id, &secret2, "api://orders").await.0,
        StatusCode::OK
    );
    let (status, _) = graph(
        &t,
        &admin,
        Method::POST,
        &format!("/applications/{object_id}/removePassword"),
        Some(json!({ "keyId": pw["keyId"] })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, b) = v2_token(&t, &app_id, &secret, "api://orders").await;
    assert_eq!(
        (status, b["error"].clone(), b["error_codes"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("invalid_client"),
            json!([7000215])
        )
    );
    assert!(
        b["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: Invalid client secret provided.")
    );
    for field in ["timestamp", "trace_id", "correlation_id"] {
        assert!(b[field].is_string(), "{field}");
    }
    let soon = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, pw3) = graph(
        &t,
        &admin,
        Method::POST,
        &format!("/applications/{object_id}/addPassword"),
        Some(json!({ "passwordCredential": { "endDateTime": soon } })),
    )
    .await;
    let secret3 = pw3["secretText"].as_str().unwrap().to_string();
    assert_eq!(
        v2_token(&t, &app_id, &secret3, "api://orders").await.0,
        StatusCode::OK
    );
    t.control(
        Method::POST,
        "/__emulator/clock",
        json!({ "advance_secs": 7200 }),
    )
    .await;
    let (status, b) = v2_token(&t, &app_id, &secret3, "api://orders").await;
    assert_eq!(
        (status, b["error_codes"].clone()),
        (StatusCode::UNAUTHORIZED, json!([7000222]))
    );

    // Delete.
    let admin = graph_token(&t, ENTRA_INITIAL_CLIENT_ID, ENTRA_INITIAL_CLIENT_SECRET).await;
    let (status, _) = graph(
        &t,
        &admin,
        Method::DELETE,
        &format!("/applications/{object_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, b) = graph(
        &t,
        &admin,
        Method::GET,
        &format!("/applications/{object_id}"),
        None,
    )
    .await;
    assert_eq!(
        (status, b["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("Request_ResourceNotFound"))
    );
    assert!(b["error"]["innerError"]["request-id"].is_string());
}

#[tokio::test]
async fn graph_and_token_errors() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();

    let (status, b) = v2_token(&t, ENTRA_INITIAL_CLIENT_ID, "wrong", &urls.graph_resource()).await;
    assert_eq!(
        (status, b["error_codes"].clone()),
        (StatusCode::UNAUTHORIZED, json!([7000215]))
    );
    let (status, b) = t
        .form_token(
            &urls.entra_v2_token(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", ENTRA_INITIAL_CLIENT_ID),
                ("client_secret", ENTRA_INITIAL_CLIENT_SECRET),
                ("scope", "api://nope/read"),
            ],
        )
        .await;
    assert_eq!(
        (status, b["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_scope"))
    );
    let (status, b) = v2_token(
        &t,
        ENTRA_INITIAL_CLIENT_ID,
        ENTRA_INITIAL_CLIENT_SECRET,
        "api://nope",
    )
    .await;
    assert_eq!(
        (status, b["error_codes"].clone()),
        (StatusCode::BAD_REQUEST, json!([500011]))
    );
    let (status, b) = v2_token(
        &t,
        "11111111-1111-1111-1111-111111111111",
        "x",
        &urls.graph_resource(),
    )
    .await;
    assert_eq!(
        (status, b["error_codes"].clone()),
        (StatusCode::BAD_REQUEST, json!([700016]))
    );

    let (status, b) = graph(&t, "", Method::GET, "/applications", None).await;
    assert_eq!(
        (status, b["error"]["code"].clone()),
        (
            StatusCode::UNAUTHORIZED,
            json!("InvalidAuthenticationToken")
        )
    );
    let (status, _) = graph(&t, "junk", Method::GET, "/applications", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // No Graph roles: 403.
    let plain = t
        .control(
            Method::POST,
            "/__emulator/clients",
            json!({ "vendor": "azure_ad" }),
        )
        .await;
    let tok = graph_token(
        &t,
        plain["client_id"].as_str().unwrap(),
        plain["client_secret"].as_str().unwrap(),
    )
    .await;
    let (status, b) = graph(
        &t,
        &tok,
        Method::POST,
        "/applications",
        Some(json!({ "displayName": "x" })),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(b["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(
        b["error"]["message"],
        "Insufficient privileges to complete the operation."
    );

    // OwnedBy: another manager may read but not change this one's apps.
    let admin = graph_token(&t, ENTRA_INITIAL_CLIENT_ID, ENTRA_INITIAL_CLIENT_SECRET).await;
    let (_, app) = graph(
        &t,
        &admin,
        Method::POST,
        "/applications",
        Some(json!({ "displayName": "mine" })),
    )
    .await;
    let other = t
        .control(
            Method::POST,
            "/__emulator/clients",
            json!({ "vendor": "azure_ad", "roles": ["Application.ReadWrite.OwnedBy"] }),
        )
        .await;
    let other_tok = graph_token(
        &t,
        other["client_id"].as_str().unwrap(),
        other["client_secret"].as_str().unwrap(),
    )
    .await;
    let path = format!("/applications/{}", app["id"].as_str().unwrap());
    assert_eq!(
        graph(&t, &other_tok, Method::GET, &path, None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        graph(&t, &other_tok, Method::DELETE, &path, None).await.0,
        StatusCode::FORBIDDEN
    );

    let (status, b) = graph(
        &t,
        &admin,
        Method::GET,
        "/applications/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    assert_eq!(
        (status, b["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("Request_ResourceNotFound"))
    );
    let (status, b) = graph(
        &t,
        &admin,
        Method::GET,
        "/applications?$filter=notes eq 'x'",
        None,
    )
    .await;
    assert_eq!(
        (status, b["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("Request_UnsupportedQuery"))
    );
    let (status, _) = graph(
        &t,
        &admin,
        Method::POST,
        "/applications",
        Some(json!({ "displayName": "x", "bogus": 1 })),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
