//! How each vendor's clients send their secret (issue 14, beyond Auth0 in auth0_auth.rs):
//! dcr records the `token_endpoint_auth_method` the IdP answered the create with, and the
//! directory hands it to token-svc. Where the IdP enforces the method (Okta), the other
//! one is refused; Entra documents and accepts both.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{emulator, idp_client, provider, token_status};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app};
use crate::peers::{self, INITIAL_ACCESS_TOKEN};
use crate::rfc7591::rfc7591_provider;

async fn recorded_method(app: &TestApp, client_id: &str) -> String {
    app.directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: client_id.to_owned(),
        })
        .await
        .expect("resolve")
        .into_inner()
        .token_endpoint_auth_method
}

/// A client credentials request with the secret in the form body: (status, body).
async fn post_token(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(url)
        .form(form)
        .send()
        .await
        .expect("token request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn okta_clients_are_basic_and_refuse_the_secret_in_the_body() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let client_id = created.application.expect("application").client_id;
    let secret = created.credential.expect("credential").client_secret;

    let at_okta = idp_client(&emu, "okta", &client_id).await.expect("client");
    assert_eq!(at_okta["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(
        recorded_method(&app, &client_id).await,
        "client_secret_basic"
    );
    assert_eq!(
        token_status(&emu, "okta", &client_id, &secret, "").await,
        200,
        "Basic works"
    );
    let (status, body) = post_token(
        &emu.urls.okta_token(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read"),
            ("client_id", &client_id),
            ("client_secret", &secret),
        ],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
}

#[tokio::test]
async fn entra_clients_are_recorded_as_post_and_take_either_way() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "azure_ad"), true).await;
    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let client_id = created.application.expect("application").client_id;
    let secret = created.credential.expect("credential").client_secret;

    assert_eq!(
        recorded_method(&app, &client_id).await,
        "client_secret_post"
    );
    // token_status sends the secret in the body, as Microsoft documents it ...
    assert_eq!(
        token_status(&emu, "azure_ad", &client_id, &secret, "").await,
        200
    );
    // ... and Basic, which Microsoft documents as supported too.
    let scope = format!("{}/.default", emu.urls.graph_resource());
    let basic = reqwest::Client::new()
        .post(emu.urls.entra_v2_token())
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", &scope)])
        .send()
        .await
        .expect("token request");
    assert_eq!(basic.status().as_u16(), 200);
}

#[tokio::test]
async fn curity_clients_keep_the_method_curity_registered() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "curity"), true).await;
    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let client_id = created.application.expect("application").client_id;
    let secret = created.credential.expect("credential").client_secret;

    let at_curity = idp_client(&emu, "curity", &client_id)
        .await
        .expect("client");
    assert_eq!(
        at_curity["metadata"]["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    assert_eq!(
        recorded_method(&app, &client_id).await,
        "client_secret_basic"
    );
    assert_eq!(
        token_status(&emu, "curity", &client_id, &secret, "").await,
        200
    );
}

/// An RFC 7591 server (node oidc-provider): the method its registration answer names is
/// recorded, and that secret works that way. (oidc-provider takes a secret sent either
/// way; IdPs that hold clients to one, like Okta and Auth0, are why the answer is kept.)
#[tokio::test]
async fn rfc7591_clients_keep_the_method_the_registration_answered() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            rfc7591_provider("oidc", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;
    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let client_id = created.application.expect("application").client_id;
    let secret = created.credential.expect("credential").client_secret;

    assert_eq!(
        recorded_method(&app, &client_id).await,
        "client_secret_basic"
    );
    let (status, body) = idp.client_credentials(&client_id, &secret).await;
    assert_eq!(status, 200, "Basic: {body}");
}
