//! Vendor behaviours dcr depends on (issue 14): client authentication by the client's
//! own method (Okta) or by either documented one (Entra), Graph's throttling answer, and
//! Graph's replication lag right after an application create.

use dcr_idp_emulator::{ENTRA_INITIAL_CLIENT_ID, ENTRA_INITIAL_CLIENT_SECRET};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, body, spawn};

/// A client credentials request at Okta's `default` server, the secret sent Basic, in
/// the form, or both ways at once.
async fn okta_token(
    t: &TestEmu,
    id: &str,
    secret: &str,
    basic: bool,
    post: bool,
) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials"), ("scope", "read")];
    if post {
        form.extend([("client_id", id), ("client_secret", secret)]);
    }
    let mut request = t.http.post(t.emu.urls.okta_token());
    if basic {
        request = request.basic_auth(id, Some(secret));
    }
    body(request.form(&form).send().await.unwrap()).await
}

async fn seeded(t: &TestEmu, spec: Value) -> (String, String) {
    let c = t.control(Method::POST, "/__emulator/clients", spec).await;
    (
        c["client_id"].as_str().unwrap().to_owned(),
        c["client_secret"].as_str().unwrap().to_owned(),
    )
}

const MISMATCH: &str =
    "Client authentication failed. Either the client or the client credentials are invalid.";

#[tokio::test]
async fn okta_takes_a_secret_only_the_way_the_client_is_set_to_send_it() {
    let t = spawn().await;
    // Okta's default method is client_secret_basic.
    let (basic_id, basic_secret) = seeded(&t, json!({"vendor": "okta"})).await;
    let (post_id, post_secret) = seeded(
        &t,
        json!({"vendor": "okta", "token_endpoint_auth_method": "client_secret_post"}),
    )
    .await;

    let (status, b) = okta_token(&t, &basic_id, &basic_secret, true, false).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let (status, b) = okta_token(&t, &post_id, &post_secret, false, true).await;
    assert_eq!(status, StatusCode::OK, "{b}");

    for (id, secret, basic, post) in [
        (&basic_id, &basic_secret, false, true),
        (&post_id, &post_secret, true, false),
        (&basic_id, &basic_secret, true, true),
    ] {
        let (status, b) = okta_token(&t, id, secret, basic, post).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{b}");
        assert_eq!(
            b,
            json!({"error": "invalid_client", "error_description": MISMATCH})
        );
    }

    // A client whose method changes (PUT replaces it) takes its secret the new way only.
    let url = format!("{}/{basic_id}", t.emu.urls.okta_clients());
    let auth = format!("SSWS {}", dcr_idp_emulator::OKTA_API_TOKEN);
    let (_, mut client) = body(
        t.http
            .get(&url)
            .header("authorization", &auth)
            .send()
            .await
            .unwrap(),
    )
    .await;
    client["token_endpoint_auth_method"] = json!("client_secret_post");
    let (status, _) = body(
        t.http
            .put(&url)
            .header("authorization", &auth)
            .json(&client)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        okta_token(&t, &basic_id, &basic_secret, true, false)
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        okta_token(&t, &basic_id, &basic_secret, false, true)
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn entra_takes_the_secret_in_the_form_or_as_basic_as_microsoft_documents() {
    let t = spawn().await;
    let scope = format!("{}/.default", t.emu.urls.graph_resource());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", ENTRA_INITIAL_CLIENT_ID),
        ("client_secret", ENTRA_INITIAL_CLIENT_SECRET),
        ("scope", &scope),
    ];
    let (status, b) = t.form_token(&t.emu.urls.entra_v2_token(), &form).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let basic = t
        .http
        .post(t.emu.urls.entra_v2_token())
        .basic_auth(ENTRA_INITIAL_CLIENT_ID, Some(ENTRA_INITIAL_CLIENT_SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", &scope)])
        .send()
        .await
        .unwrap();
    let (status, b) = body(basic).await;
    assert_eq!(status, StatusCode::OK, "{b}");
}

async fn graph_token(t: &TestEmu) -> String {
    let scope = format!("{}/.default", t.emu.urls.graph_resource());
    let (_, b) = t
        .form_token(
            &t.emu.urls.entra_v2_token(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", ENTRA_INITIAL_CLIENT_ID),
                ("client_secret", ENTRA_INITIAL_CLIENT_SECRET),
                ("scope", &scope),
            ],
        )
        .await;
    b["access_token"].as_str().unwrap().to_owned()
}

async fn graph(
    t: &TestEmu,
    token: &str,
    method: Method,
    path: &str,
    payload: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = t
        .http
        .request(method, format!("{}/{path}", t.emu.urls.graph_v1()))
        .bearer_auth(token);
    if let Some(p) = payload {
        request = request.json(&p);
    }
    body(request.send().await.unwrap()).await
}

#[tokio::test]
async fn graph_throttles_with_retry_after_and_auth0_and_okta_without() {
    let t = spawn().await;
    let token = graph_token(&t).await;
    t.control(
        Method::POST,
        "/__emulator/faults",
        json!({"vendor": "azure_ad", "path_prefix": "/graph/", "status": 429, "retry_after": 3}),
    )
    .await;
    let resp = t
        .http
        .get(format!("{}/applications", t.emu.urls.graph_v1()))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "3");
    let (status, b) = body(resp).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(b["error"]["code"], "TooManyRequests");
}

#[tokio::test]
async fn a_new_graph_application_is_not_found_until_it_has_replicated() {
    let t = spawn().await;
    let token = graph_token(&t).await;
    t.control(
        Method::POST,
        "/__emulator/faults",
        json!({"vendor": "azure_ad", "method": "POST", "path_prefix": "/graph/v1.0/applications",
               "lag_requests": 3}),
    )
    .await;
    let (status, app) = graph(
        &t,
        &token,
        Method::POST,
        "applications",
        Some(json!({"displayName": "fresh"})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the create itself goes through"
    );
    let app_id = app["appId"].as_str().unwrap().to_owned();
    let by_app_id = format!("applications(appId='{app_id}')");

    let (status, b) = graph(&t, &token, Method::GET, &by_app_id, None).await;
    assert_eq!(
        (status, b["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!("Request_ResourceNotFound"))
    );
    let (status, b) = graph(
        &t,
        &token,
        Method::POST,
        "servicePrincipals",
        Some(json!({"appId": app_id})),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(
        b["error"]["details"][0]["code"],
        "NoBackingApplicationObject"
    );
    // Other applications are not affected.
    let (status, _) = graph(
        &t,
        &token,
        Method::GET,
        &format!("applications(appId='{ENTRA_INITIAL_CLIENT_ID}')"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = graph(
        &t,
        &token,
        Method::POST,
        &format!("{by_app_id}/addPassword"),
        Some(json!({"passwordCredential": {}})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the third request naming it");

    // Replicated: found, and its service principal can be made.
    let (status, b) = graph(&t, &token, Method::GET, &by_app_id, None).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let (status, b) = graph(
        &t,
        &token,
        Method::POST,
        "servicePrincipals",
        Some(json!({"appId": app_id})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{b}");
}
