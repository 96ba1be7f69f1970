//! Auth0 client authentication (issue 14): the management client's secret goes the way
//! the provider's `token_endpoint_auth_method` says (Post by default, as Auth0 documents
//! the client credentials request), the emulator refuses the other way as Auth0 does, and
//! a refusal says which method was used and where to change it; the clients dcr creates
//! keep an explicit method, which the directory hands to token-svc.

use dcr_idp_emulator::AUTH0_MGMT_SCOPES;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{Emulator, control, emulator, idp_client, provider, token_status};
use dcr_testkit::registry::violations_with_descriptions;
use serde_json::json;
use tonic::Code;

use crate::helpers::spawn_app;

/// A management client at the emulator's Auth0 with every scope dcr needs, set to
/// authenticate by `method` only: (id, secret).
async fn management_client(emu: &Emulator, method: &str) -> (String, String) {
    let client = control(
        emu,
        "clients",
        json!({"vendor": "auth0", "scopes": AUTH0_MGMT_SCOPES, "token_endpoint_auth_method": method}),
    )
    .await;
    (
        client["client_id"].as_str().expect("id").to_owned(),
        client["client_secret"].as_str().expect("secret").to_owned(),
    )
}

/// VerifyProvider for an Auth0 provider with that management client and `setting` as its
/// token_endpoint_auth_method ("" = not set).
async fn verify(emu: &Emulator, (id, secret): &(String, String), setting: &str) -> (bool, String) {
    let app = spawn_app().await;
    let mut p = provider(emu, "auth0");
    p.config = Some(pb::provider::Config::Auth0(pb::Auth0Config {
        initial_client_id: id.clone(),
        initial_client_secret: secret.clone(),
        token_endpoint_auth_method: setting.into(),
        ..Default::default()
    }));
    let created = app
        .providers()
        .create_provider(pb::CreateProviderRequest { provider: Some(p) })
        .await
        .expect("create provider")
        .into_inner();
    let Some(pb::provider::Config::Auth0(config)) = created.config else {
        panic!("an auth0 config");
    };
    assert_eq!(config.token_endpoint_auth_method, setting, "kept as given");
    let verified = app
        .providers()
        .verify_provider(pb::VerifyProviderRequest { id: created.id })
        .await
        .expect("verify answers")
        .into_inner();
    (verified.ok, verified.detail)
}

/// The refusal names the method dcr used and both places to change it.
fn names_method_and_fix(detail: &str, used: &str) {
    for part in [
        used,
        "Applications > <app> > Credentials > Authentication Method",
        "token_endpoint_auth_method",
    ] {
        assert!(detail.contains(part), "{part:?} missing from: {detail}");
    }
}

#[tokio::test]
async fn a_management_client_set_to_post_works_by_default_and_refuses_basic() {
    let emu = emulator().await;
    let client = management_client(&emu, "client_secret_post").await;

    let (ok, detail) = verify(&emu, &client, "").await;
    assert!(ok, "{detail}");
    let (ok, detail) = verify(&emu, &client, "client_secret_post").await;
    assert!(ok, "{detail}");

    let (ok, detail) = verify(&emu, &client, "client_secret_basic").await;
    assert!(!ok, "Basic must be refused");
    names_method_and_fix(&detail, "client_secret_basic");
}

#[tokio::test]
async fn a_management_client_set_to_basic_needs_the_setting_and_refuses_post() {
    let emu = emulator().await;
    let client = management_client(&emu, "client_secret_basic").await;

    let (ok, detail) = verify(&emu, &client, "client_secret_basic").await;
    assert!(ok, "{detail}");

    // The default is Post, which this client does not accept.
    let (ok, detail) = verify(&emu, &client, "").await;
    assert!(!ok, "Post must be refused");
    names_method_and_fix(&detail, "client_secret_post");
}

#[tokio::test]
async fn only_the_two_secret_methods_are_accepted() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let mut p = provider(&emu, "auth0");
    if let Some(pb::provider::Config::Auth0(c)) = &mut p.config {
        c.token_endpoint_auth_method = "private_key_jwt".into();
    }
    let refused = app
        .providers()
        .create_provider(pb::CreateProviderRequest { provider: Some(p) })
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let found = violations_with_descriptions(&refused);
    assert!(
        found.iter().any(
            |(field, why)| field == "provider.auth0.token_endpoint_auth_method"
                && why.contains("client_secret_post")
        ),
        "{found:?}"
    );
}

/// The clients dcr creates carry an explicit method (Post), whose secret works that way
/// only, and the directory tells token-svc which one it is.
#[tokio::test]
async fn created_clients_keep_post_and_the_directory_says_so() {
    let emu = emulator().await;
    dcr_testkit::emulator::auth0_api(&emu, "https://api.example.com").await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "auth0"), true).await;
    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let application = created.application.expect("application");
    let secret = created.credential.expect("credential").client_secret;

    let at_idp = idp_client(&emu, "auth0", &application.client_id)
        .await
        .expect("the client exists at Auth0");
    assert_eq!(at_idp["token_endpoint_auth_method"], "client_secret_post");
    let management = emu.urls.auth0_management_audience();
    // token_status sends the secret in the body; the emulator accepts nothing else here.
    assert_eq!(
        token_status(&emu, "auth0", &application.client_id, &secret, &management).await,
        403,
        "authenticated (then refused for lacking a grant on the Management API)"
    );

    let resolved = app
        .directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: application.client_id.clone(),
        })
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(resolved.token_endpoint_auth_method, "client_secret_post");
}
