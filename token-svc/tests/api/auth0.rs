//! Brokering for an Auth0 client (issue 14): token-svc sends the secret exactly the way
//! the client was created with (dcr creates Auth0 clients with `client_secret_post`, and
//! the directory says so); the IdP emulator, like Auth0, refuses any other way.

use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1 as pb;
use dcr_testkit::emulator::{auth0_api, calls, emulator, provider};
use dcr_testkit::registry::spawn_app;

use crate::vendors::broker;

const AUDIENCE: &str = "https://api.example.com";
const TOKEN_ROUTE: &str = "POST /auth0/oauth/token";

#[tokio::test]
async fn a_client_created_with_post_gets_its_token_by_post() {
    let emu = emulator().await;
    auth0_api(&emu, AUDIENCE).await;
    let registry = spawn_app().await;
    let (_, strategy, product) = registry.setup(provider(&emu, "auth0"), true).await;
    let created = registry.create_app("dev-1", &strategy.id, "shop").await;
    let application = created.application.expect("application");
    let secret = created.credential.expect("credential").client_secret;
    // An approved registration: a client grant on the product's audience at Auth0.
    registry
        .portal("dev-1")
        .create_registration(reg::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register");

    let (mut tokens, _stop) = broker(&registry).await;

    let before = calls(&emu, TOKEN_ROUTE).await;
    let issued = tokens
        .issue_token(pb::IssueTokenRequest {
            client_id: application.client_id.clone(),
            client_secret: secret,
            scopes: vec!["read".into()],
            audience: AUDIENCE.into(),
        })
        .await
        .expect("a token: the secret went by Post, the only way Auth0 takes it here")
        .into_inner();
    assert_eq!(issued.token_type, "Bearer");
    assert_eq!(
        calls(&emu, TOKEN_ROUTE).await - before,
        1,
        "one call to Auth0's token endpoint"
    );
}
