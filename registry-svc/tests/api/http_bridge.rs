//! The http_bridge provider against a bridge that follows Kong's contract exactly.

use dcr_proto::registry::v1 as pb;
use serde_json::{Value, json};
use tonic::Code;

use crate::helpers::spawn_app;
use crate::peers::{self, BRIDGE_API_KEY};

pub use dcr_testkit::peers::bridge_provider;

fn calls(requests: &[Value]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            format!(
                "{} {}",
                r["method"].as_str().unwrap_or(""),
                r["path"].as_str().unwrap_or("")
            )
        })
        .collect()
}

#[tokio::test]
async fn the_bridge_contract_is_followed_through_the_whole_lifecycle() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (provider, strategy, product) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;

    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let application = created.application.expect("app");
    let secret = created.credential.expect("credential").client_secret;
    let client_id = application.client_id.clone();
    assert!(bridge.bridge_secret_valid(&client_id, &secret).await);

    let requests = bridge.bridge_requests().await;
    let create = &requests[0];
    assert_eq!(
        (
            create["method"].as_str(),
            create["path"].as_str(),
            create["status"].as_u64()
        ),
        (Some("POST"), Some("/"), Some(201))
    );
    assert_eq!(create["headers"]["x-api-key"], BRIDGE_API_KEY);
    let body = &create["body"];
    assert_eq!(body["client_name"], "shop");
    assert_eq!(body["grant_types"], json!(["client_credentials"]));
    assert_eq!(body["scopes"], json!(["read"]));
    assert_eq!(body["auth_strategy_id"], strategy.id.as_str());
    assert_eq!(body["dcr_provider_id"], provider.id.as_str());
    for uuid_field in ["developer_id", "portal_id", "organization_id"] {
        assert!(
            body[uuid_field]
                .as_str()
                .is_some_and(|s| s.parse::<uuid::Uuid>().is_ok()),
            "{uuid_field} is a UUID"
        );
    }

    let mut portal = app.portal("dev-1");
    // Registration with auto approve: add_registration event hook.
    let registration = portal
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register")
        .into_inner();
    assert_eq!(registration.status, pb::RegistrationStatus::Approved as i32);
    // Update: update_application event hook with the new redirect URIs.
    portal
        .update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                id: application.id.clone(),
                redirect_uris: vec!["https://shop.example.com/callback".into()],
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["redirect_uris".into()],
            }),
        })
        .await
        .expect("update");
    portal
        .delete_registration(pb::DeleteRegistrationRequest {
            id: registration.id,
        })
        .await
        .expect("unregister");

    let events: Vec<Value> = bridge
        .get_json("/__test/events")
        .await
        .as_array()
        .cloned()
        .unwrap_or_default();
    let kinds: Vec<&str> = events
        .iter()
        .filter_map(|e| e["event"]["event_type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "add_registration",
            "update_application",
            "remove_registration"
        ]
    );
    assert_eq!(
        events[0]["event"]["api_product_version_id"],
        product.id.as_str()
    );
    assert_eq!(events[0]["event"]["audience"], "https://api.example.com");
    assert_eq!(
        events[0]["event"]["application_id"],
        application.id.as_str()
    );
    assert_eq!(
        events[1]["event"]["redirect_uris"],
        json!(["https://shop.example.com/callback"])
    );

    // Regenerate: new-secret, and the old secret stops working at the bridge.
    let regenerated = portal
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("regenerate")
        .into_inner();
    assert!(!bridge.bridge_secret_valid(&client_id, &secret).await);
    assert!(
        bridge
            .bridge_secret_valid(&client_id, &regenerated.client_secret)
            .await
    );
    // allow_multiple_credentials is off: a second credential is refused, with the reason.
    let refused = portal
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("allow_multiple_credentials"),
        "{}",
        refused.message()
    );

    portal
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id,
            allow_missing: false,
        })
        .await
        .expect("delete");
    let clients = bridge.get_json("/__test/clients").await;
    assert_eq!(clients, json!([]), "the bridge no longer holds the client");
    let all = calls(&bridge.bridge_requests().await);
    assert_eq!(
        all,
        [
            "POST /".to_owned(),
            format!("POST /{client_id}/event-hook"),
            format!("POST /{client_id}/event-hook"),
            format!("POST /{client_id}/event-hook"),
            format!("POST /{client_id}/new-secret"),
            format!("DELETE /{client_id}"),
        ]
    );
}

#[tokio::test]
async fn bridge_flags_are_honoured() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, product) = app
        .setup(
            bridge_provider("quiet", &bridge.base_url, (true, true, false)),
            true,
        )
        .await;
    let application = app
        .create_app("dev-1", &strategy.id, "quiet app")
        .await
        .application
        .expect("app");
    let mut portal = app.portal("dev-1");
    portal
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id,
            scopes: Vec::new(),
        })
        .await
        .expect("register");
    let refused = portal
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("disable_refresh_secret"),
        "{}",
        refused.message()
    );
    assert_eq!(
        calls(&bridge.bridge_requests().await),
        ["POST /"],
        "no event hooks, no new-secret"
    );

    // allow_multiple_credentials: a second secret is added beside the first.
    let (_, strategy, _) = app
        .setup(
            bridge_provider("multi", &bridge.base_url, (false, false, true)),
            true,
        )
        .await;
    let created = app.create_app("dev-1", &strategy.id, "multi app").await;
    let application = created.application.expect("app");
    let added = portal
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .expect("add")
        .into_inner();
    assert!(!added.client_secret.is_empty());
    let client_id = application.client_id.clone();
    let issue_records = || app.issue_records(&client_id);
    assert_eq!(issue_records().await, (false, false), "nothing revoked yet");
    let listed = portal
        .list_credentials(pb::ListCredentialsRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed
            .credentials
            .iter()
            .filter(|c| c.revoke_time.is_none())
            .count(),
        2
    );
    // With two active, RegenerateSecret is refused; revoking one leaves one.
    let refused = portal
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let first = created.credential.expect("credential").id;
    let revoked = portal
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: application.id.clone(),
            credential_id: first,
        })
        .await
        .expect("revoke")
        .into_inner();
    assert!(revoked.revoke_time.is_some());
    // The bridge cannot revoke one secret of several: the revoked one still works behind
    // it, so gateways now take only the tokens token-svc hands out for this client.
    assert!(!revoked.idp_pending, "nothing left for the bridge to do");
    assert_eq!(issue_records().await, (true, false));
    let last = portal
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: application.id.clone(),
            credential_id: added.id,
        })
        .await
        .unwrap_err();
    assert_eq!(
        last.code(),
        Code::FailedPrecondition,
        "the only active credential cannot be revoked"
    );
}

#[tokio::test]
async fn a_bridge_error_halts_the_operation_and_changes_nothing() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, product) = app
        .setup(
            bridge_provider("strict", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;

    // A refused create (400) leaves no application behind.
    bridge
        .post_json(
            "/__test/fail",
            json!({"path_prefix": "/", "method": "POST", "status": 400, "count": 1}),
        )
        .await;
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "a".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(
        error.message().contains("Injected failure"),
        "{}",
        error.message()
    );
    let listed = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.applications.is_empty());

    // A refused event hook halts the registration: it is not kept.
    let application = app
        .create_app("dev-1", &strategy.id, "b")
        .await
        .application
        .expect("app");
    bridge
        .post_json(
            "/__test/fail",
            json!({"path_prefix": "/", "method": "POST", "status": 500, "count": 1}),
        )
        .await;
    let error = app
        .portal("dev-1")
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id,
            scopes: Vec::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    let registrations = app
        .portal("dev-1")
        .list_registrations(pb::ListRegistrationsRequest {
            application_id: application.id,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(registrations.registrations.is_empty());

    // A wrong api key is reported by VerifyProvider.
    let mut wrong = bridge_provider("wrong-key", &bridge.base_url, (false, false, false));
    if let Some(pb::provider::Config::HttpBridge(c)) = &mut wrong.config {
        c.api_key = "not_the_key_at_all".into();
    }
    let created = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(wrong),
        })
        .await
        .expect("create")
        .into_inner();
    let verdict = app
        .providers()
        .verify_provider(pb::VerifyProviderRequest { id: created.id })
        .await
        .expect("verify")
        .into_inner();
    assert!(
        !verdict.ok && verdict.detail.contains("Wrong API-Key"),
        "{}",
        verdict.detail
    );
    let fine = app
        .providers()
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .expect("list")
        .into_inner();
    let strict = fine
        .providers
        .iter()
        .find(|p| p.name == "strict")
        .expect("strict");
    let verdict = app
        .providers()
        .verify_provider(pb::VerifyProviderRequest {
            id: strict.id.clone(),
        })
        .await
        .expect("verify")
        .into_inner();
    assert!(verdict.ok, "{}", verdict.detail);
}
