//! The generic rfc7591 provider against the real node oidc-provider.

use dcr_proto::registry::v1 as pb;
use tonic::Code;

use crate::helpers::spawn_app;
use crate::peers::{self, INITIAL_ACCESS_TOKEN};

pub use dcr_testkit::peers::rfc7591_provider;

#[tokio::test]
async fn application_lifecycle_reaches_the_real_idp() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            rfc7591_provider("oidc", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;

    // Create: the returned secret gets a client_credentials token from the IdP.
    let created = app.create_app("dev-1", &strategy.id, "billing app").await;
    let application = created.application.expect("application");
    let credential = created.credential.expect("credential");
    assert_eq!(application.state, pb::ApplicationState::Active as i32);
    assert_eq!(credential.client_id, application.client_id);
    let first_secret = credential.client_secret.clone();
    assert!(!first_secret.is_empty());
    assert_eq!(
        credential.secret_hint,
        first_secret[first_secret.len() - 4..]
    );
    let (status, token) = idp
        .client_credentials(&application.client_id, &first_secret)
        .await;
    assert_eq!(status, 200, "{token}");
    assert!(token["access_token"].is_string());

    // Update: the IdP sees the new name, and the secret keeps working.
    let mut portal = app.portal("dev-1");
    let updated = portal
        .update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                id: application.id.clone(),
                name: "billing app v2".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["name".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.name, "billing app v2");
    let state = app
        .registry
        .store
        .get_idp_state(application.id.parse().expect("id"))
        .await
        .expect("state")
        .expect("some");
    let uri = state.0["registration_client_uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let rat = state.0["registration_access_token"]
        .as_str()
        .expect("rat")
        .to_owned();
    let metadata: serde_json::Value = reqwest::Client::new()
        .get(&uri)
        .bearer_auth(&rat)
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    assert_eq!(
        metadata["client_name"], "billing app v2",
        "the IdP has the new name (and dcr kept the rotated token)"
    );
    assert_eq!(
        idp.client_credentials(&application.client_id, &first_secret)
            .await
            .0,
        200
    );

    // Regenerate: the old secret is refused by the IdP, the new one works.
    let regenerated = portal
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("regenerate")
        .into_inner();
    assert_ne!(regenerated.client_secret, first_secret);
    let (status, body) = idp
        .client_credentials(&application.client_id, &first_secret)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(
        idp.client_credentials(&application.client_id, &regenerated.client_secret)
            .await
            .0,
        200
    );
    let credentials = portal
        .list_credentials(pb::ListCredentialsRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("list")
        .into_inner()
        .credentials;
    assert_eq!(credentials.len(), 2);
    assert!(
        credentials.iter().all(|c| c.client_secret.is_empty()),
        "secrets are shown once only"
    );
    assert!(credentials[0].revoke_time.is_some() && credentials[1].revoke_time.is_none());

    // One secret only: adding a second is refused with the reason.
    let refused = portal
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("exactly one client_secret"),
        "{}",
        refused.message()
    );

    // Delete: the IdP no longer knows the client.
    portal
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("delete");
    let (status, body) = idp
        .client_credentials(&application.client_id, &regenerated.client_secret)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let gone = portal
        .get_application(pb::GetApplicationRequest {
            id: application.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    // Deleting again: NOT_FOUND, or success with allow_missing.
    let again = portal
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            allow_missing: false,
        })
        .await;
    assert_eq!(again.unwrap_err().code(), Code::NotFound);
    portal
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id,
            allow_missing: true,
        })
        .await
        .expect("allow_missing");
}

#[tokio::test]
async fn an_idp_that_does_not_rotate_secrets_gets_a_clear_precondition_error() {
    let idp = peers::oidc_provider_with(&["--secret-rotation", "never"]).await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            rfc7591_provider("stock", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;
    let created = app.create_app("dev-1", &strategy.id, "app").await;
    let application = created.application.expect("app");
    let secret = created.credential.expect("credential").client_secret;
    let mut portal = app.portal("dev-1");
    let error = portal
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(
        error
            .message()
            .contains("does not issue a new client_secret"),
        "{}",
        error.message()
    );
    assert_eq!(
        idp.client_credentials(&application.client_id, &secret)
            .await
            .0,
        200,
        "the old secret still works"
    );
    // The registration access token rotated during the attempt; dcr kept the new one,
    // so the client can still be deleted.
    portal
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id,
            allow_missing: false,
        })
        .await
        .expect("delete");
    assert_eq!(
        idp.client_credentials(&application.client_id, &secret)
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn verify_provider_makes_a_live_round_trip() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let mut providers = app.providers();
    let good = providers
        .create_provider(pb::CreateProviderRequest {
            provider: Some(rfc7591_provider(
                "good",
                &idp.base_url,
                INITIAL_ACCESS_TOKEN,
            )),
        })
        .await
        .expect("create")
        .into_inner();
    let bad = providers
        .create_provider(pb::CreateProviderRequest {
            provider: Some(rfc7591_provider("bad", &idp.base_url, "wrong-token")),
        })
        .await
        .expect("create")
        .into_inner();
    let ok = providers
        .verify_provider(pb::VerifyProviderRequest { id: good.id })
        .await
        .expect("verify")
        .into_inner();
    assert!(ok.ok, "{}", ok.detail);
    assert!(
        ok.detail.contains("/reg"),
        "names the discovered endpoint: {}",
        ok.detail
    );
    let refused = providers
        .verify_provider(pb::VerifyProviderRequest { id: bad.id.clone() })
        .await
        .expect("verify")
        .into_inner();
    assert!(!refused.ok);
    assert!(
        refused.detail.contains("refused dcr's credentials"),
        "{}",
        refused.detail
    );

    // A wrong initial access token also makes application creation fail cleanly.
    let strategy = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "s".into(),
                provider_id: bad.id,
                ..Default::default()
            }),
        })
        .await
        .expect("strategy")
        .into_inner();
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "x".into(),
            strategy_id: strategy.id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition, "{error:?}");
    let listed = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed.applications.is_empty(),
        "a refused create leaves nothing behind"
    );
}
