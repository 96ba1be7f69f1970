//! The vendor adapters (auth0, okta, curity, azure_ad) end to end through registry-svc,
//! against the IdP emulator (crate dcr-idp-emulator), which reproduces each vendor's
//! management API: lifecycle, verify errors, retries and faults, reconciliation.

use std::sync::atomic::Ordering;

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{
    Emulator, auth0_api, calls, clear_faults, control, emulator, fault, idp_client, idp_clients,
    provider, state, token_status,
};
use serde_json::{Value, json};
use tonic::Code;

use crate::helpers::{TestApp, spawn_app};

/// The audience of the product `TestApp::setup` creates.
const AUDIENCE: &str = "https://api.example.com";

struct Setup {
    emu: Emulator,
    app: TestApp,
    provider: pb::Provider,
    strategy: pb::AuthStrategy,
    product: pb::ApiProduct,
}

async fn setup(vendor: &str) -> Setup {
    let emu = emulator().await;
    auth0_api(&emu, AUDIENCE).await;
    let app = spawn_app().await;
    let (provider, strategy, product) = app.setup(provider(&emu, vendor), true).await;
    Setup {
        emu,
        app,
        provider,
        strategy,
        product,
    }
}

/// Where each vendor keeps dcr's marker, read from the IdP's record of a client.
fn carries_marker(vendor: &str, client: &Value, application_id: &str) -> bool {
    match vendor {
        "auth0" => client["client_metadata"]["dcr_application_id"] == application_id,
        "okta" => client["client_name"]
            .as_str()
            .is_some_and(|n| n.ends_with(&format!("[dcr:{application_id}]"))),
        "curity" => client["metadata"]["dcr_application_id"] == application_id,
        _ => client["tags"]
            .as_array()
            .is_some_and(|t| t.contains(&json!(format!("dcr:application:{application_id}")))),
    }
}

fn display_name(vendor: &str, client: &Value) -> String {
    let field = match vendor {
        "auth0" => "name",
        "azure_ad" => "displayName",
        _ => "client_name",
    };
    client[field].as_str().unwrap_or_default().to_owned()
}

async fn lifecycle(vendor: &str) {
    let s = setup(vendor).await;
    let verified = s
        .app
        .providers()
        .verify_provider(pb::VerifyProviderRequest {
            id: s.provider.id.clone(),
        })
        .await
        .expect("verify")
        .into_inner();
    assert!(verified.ok, "{vendor}: {}", verified.detail);

    let created = s.app.create_app("dev-1", &s.strategy.id, "shop").await;
    let application = created.application.expect("application");
    let first = created.credential.expect("credential");
    assert_eq!(application.state, pb::ApplicationState::Active as i32);
    let client_id = application.client_id.clone();
    let record = idp_client(&s.emu, vendor, &client_id)
        .await
        .unwrap_or_else(|| panic!("{vendor}: the IdP has the client"));
    assert!(
        carries_marker(vendor, &record, &application.id),
        "{vendor}: {record}"
    );
    // The registration (auto-approved): for Auth0, a client grant for the product's API.
    s.app
        .portal("dev-1")
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: s.product.id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register");
    assert_eq!(
        token_status(&s.emu, vendor, &client_id, &first.client_secret, AUDIENCE).await,
        200,
        "{vendor}: the secret dcr handed out works at the IdP"
    );

    // Update: pushed to the IdP, except to Curity (an RFC 7592 update there replaces the
    // secret), whose record keeps the old name.
    s.app
        .portal("dev-1")
        .update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                id: application.id.clone(),
                name: "shop-2".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["name".into()],
            }),
        })
        .await
        .expect("update");
    let record = idp_client(&s.emu, vendor, &client_id)
        .await
        .expect("client");
    let name = display_name(vendor, &record);
    if vendor == "curity" {
        assert!(name.starts_with("shop"), "{record}");
        assert_eq!(
            token_status(&s.emu, vendor, &client_id, &first.client_secret, AUDIENCE).await,
            200,
            "the secret survives an update"
        );
    } else {
        assert!(name.starts_with("shop-2"), "{vendor}: {record}");
    }

    // Regenerate: the new secret works, the old one no longer.
    let second = s
        .app
        .portal("dev-1")
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("regenerate")
        .into_inner();
    assert_eq!(
        token_status(&s.emu, vendor, &client_id, &second.client_secret, AUDIENCE).await,
        200,
        "{vendor}: the new secret works"
    );
    assert_ne!(
        token_status(&s.emu, vendor, &client_id, &first.client_secret, AUDIENCE).await,
        200,
        "{vendor}: the old secret is refused"
    );

    // A second secret where the IdP can hold two (Okta, Entra); a clear refusal elsewhere.
    let added = s
        .app
        .portal("dev-1")
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await;
    if matches!(vendor, "okta" | "azure_ad") {
        let third = added.expect("add credential").into_inner();
        for secret in [&second.client_secret, &third.client_secret] {
            assert_eq!(
                token_status(&s.emu, vendor, &client_id, secret, AUDIENCE).await,
                200,
                "{vendor}: both secrets work"
            );
        }
        s.app
            .portal("dev-1")
            .revoke_credential(pb::RevokeCredentialRequest {
                application_id: application.id.clone(),
                credential_id: second.id.clone(),
            })
            .await
            .expect("revoke");
        assert_ne!(
            token_status(&s.emu, vendor, &client_id, &second.client_secret, AUDIENCE).await,
            200,
            "{vendor}: the revoked secret is refused by the IdP itself"
        );
        assert_eq!(
            token_status(&s.emu, vendor, &client_id, &third.client_secret, AUDIENCE).await,
            200
        );
    } else {
        let error = added.expect_err("one secret only");
        assert_eq!(error.code(), Code::FailedPrecondition, "{vendor}");
        assert!(error.message().contains("one"), "{}", error.message());
    }

    s.app
        .portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    assert!(
        idp_client(&s.emu, vendor, &client_id).await.is_none(),
        "{vendor}: the IdP client is gone"
    );
}

#[tokio::test]
async fn auth0_lifecycle_end_to_end() {
    lifecycle("auth0").await;
}

#[tokio::test]
async fn okta_lifecycle_end_to_end() {
    lifecycle("okta").await;
}

#[tokio::test]
async fn curity_lifecycle_end_to_end() {
    lifecycle("curity").await;
}

#[tokio::test]
async fn azure_ad_lifecycle_end_to_end() {
    lifecycle("azure_ad").await;
}

#[tokio::test]
async fn auth0_grants_follow_registrations() {
    let s = setup("auth0").await;
    let created = s.app.create_app("dev-1", &s.strategy.id, "shop").await;
    let application = created.application.expect("application");
    let grants = |emu_state: Value| {
        emu_state["auth0"]["client_grants"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|g| g["client_id"] == application.client_id.as_str())
            .collect::<Vec<_>>()
    };
    assert!(
        grants(state(&s.emu).await).is_empty(),
        "no grant before registering"
    );
    let registration = s
        .app
        .portal("dev-1")
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: s.product.id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register")
        .into_inner();
    let granted = grants(state(&s.emu).await);
    assert_eq!(granted.len(), 1);
    assert_eq!(granted[0]["audience"], AUDIENCE);
    assert_eq!(
        granted[0]["scope"],
        json!(["read"]),
        "the strategy's scopes"
    );
    s.app
        .portal("dev-1")
        .delete_registration(pb::DeleteRegistrationRequest {
            id: registration.id,
        })
        .await
        .expect("unregister");
    assert!(
        grants(state(&s.emu).await).is_empty(),
        "the grant ends with the registration"
    );
}

#[tokio::test]
async fn azure_ad_credentials_can_expire_and_are_listed_with_their_expiry() {
    let s = setup("azure_ad").await;
    let created = s.app.create_app("dev-1", &s.strategy.id, "shop").await;
    let application = created.application.expect("application");
    let expire = chrono::Utc::now() + chrono::Duration::days(30);
    let added = s
        .app
        .portal("dev-1")
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: Some(prost_types::Timestamp {
                seconds: expire.timestamp(),
                nanos: 0,
            }),
        })
        .await
        .expect("add with expiry")
        .into_inner();
    assert_eq!(
        added.expire_time.as_ref().map(|t| t.seconds),
        Some(expire.timestamp())
    );
    let listed = s
        .app
        .portal("dev-1")
        .list_credentials(pb::ListCredentialsRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed
            .credentials
            .iter()
            .any(|c| c.id == added.id && c.expire_time == added.expire_time),
        "{listed:?}"
    );
    let client_id = application.client_id.clone();
    assert_eq!(
        token_status(
            &s.emu,
            "azure_ad",
            &client_id,
            &added.client_secret,
            AUDIENCE
        )
        .await,
        200
    );
    // Past its end the IdP itself refuses it (the emulator's clock moves, no sleeping).
    control(&s.emu, "clock", json!({"advance_secs": 31 * 24 * 3600})).await;
    assert_ne!(
        token_status(
            &s.emu,
            "azure_ad",
            &client_id,
            &added.client_secret,
            AUDIENCE
        )
        .await,
        200
    );

    // Other IdPs cannot expire secrets: refused before any IdP call.
    let okta = setup("okta").await;
    let app = okta.app.create_app("dev-1", &okta.strategy.id, "x").await;
    let error = okta
        .app
        .portal("dev-1")
        .add_credential(pb::AddCredentialRequest {
            application_id: app.application.expect("app").id,
            expire_time: Some(prost_types::Timestamp {
                seconds: expire.timestamp(),
                nanos: 0,
            }),
        })
        .await
        .expect_err("okta cannot expire secrets");
    assert_eq!(error.code(), Code::FailedPrecondition);
    assert!(
        error.message().contains("cannot expire"),
        "{}",
        error.message()
    );
}

/// VerifyProvider for a provider of `vendor` at `emu` with `config` as its credentials.
async fn verify_with(
    emu: &Emulator,
    vendor: &str,
    config: pb::provider::Config,
) -> pb::VerifyProviderResponse {
    let app = spawn_app().await;
    let mut p = provider(emu, vendor);
    p.config = Some(config);
    let created = app
        .providers()
        .create_provider(pb::CreateProviderRequest { provider: Some(p) })
        .await
        .expect("create provider")
        .into_inner();
    app.providers()
        .verify_provider(pb::VerifyProviderRequest { id: created.id })
        .await
        .expect("verify answers")
        .into_inner()
}

/// A client seeded at the emulator: (id, secret).
async fn seeded(emu: &Emulator, spec: Value) -> (String, String) {
    let client = control(emu, "clients", spec).await;
    (
        client["client_id"].as_str().expect("id").to_owned(),
        client["client_secret"].as_str().expect("secret").to_owned(),
    )
}

#[tokio::test]
async fn verify_says_what_the_management_credentials_lack() {
    use pb::provider::Config;
    let emu = emulator().await;

    // Auth0: a management client without create:clients.
    let (id, secret) = seeded(
        &emu,
        json!({"vendor": "auth0", "scopes": ["read:clients", "update:clients"]}),
    )
    .await;
    let config = Config::Auth0(pb::Auth0Config {
        initial_client_id: id,
        initial_client_secret: secret,
        ..Default::default()
    });
    let verified = verify_with(&emu, "auth0", config).await;
    assert!(!verified.ok);
    assert!(verified.detail.contains("lacks"), "{}", verified.detail);
    assert!(
        verified.detail.contains("create:clients"),
        "{}",
        verified.detail
    );

    // Okta: a revoked (unknown) API token.
    let config = Config::Okta(pb::OktaConfig {
        dcr_token: "00RevokedToken000000000000000000000000000".into(),
        ..Default::default()
    });
    let verified = verify_with(&emu, "okta", config).await;
    assert!(!verified.ok);
    assert!(verified.detail.contains("revoked"), "{}", verified.detail);
    assert!(verified.detail.contains("E0000011"), "{}", verified.detail);

    // Entra: an app without Application.ReadWrite.OwnedBy on Graph.
    let (id, secret) = seeded(&emu, json!({"vendor": "azure_ad", "roles": []})).await;
    let config = Config::AzureAd(pb::AzureAdConfig {
        initial_client_id: id,
        initial_client_secret: secret,
        graph_base_url: emu.urls.graph_resource(),
    });
    let verified = verify_with(&emu, "azure_ad", config).await;
    assert!(!verified.ok);
    assert!(
        verified.detail.contains("Application.ReadWrite.OwnedBy"),
        "{}",
        verified.detail
    );

    // Curity: a client that may not ask for the dcr scope.
    let (id, secret) = seeded(&emu, json!({"vendor": "curity", "scopes": ["read"]})).await;
    let config = Config::Curity(pb::CurityConfig {
        initial_client_id: id,
        initial_client_secret: secret,
        ..Default::default()
    });
    let verified = verify_with(&emu, "curity", config).await;
    assert!(!verified.ok);
    assert!(
        verified.detail.contains("invalid_scope"),
        "{}",
        verified.detail
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_outages_retried_only_where_safe() {
    // 429 with Retry-After on a create: waited out, then sent again (the IdP did nothing).
    let s = setup("auth0").await;
    fault(
        &s.emu,
        json!({"path_prefix": "/auth0/api/v2/clients", "method": "POST", "status": 429, "retry_after": 1}),
    )
    .await;
    let created = s.app.create_app("dev-1", &s.strategy.id, "patient").await;
    assert_eq!(
        created.application.expect("app").state,
        pb::ApplicationState::Active as i32
    );
    assert_eq!(calls(&s.emu, "POST /auth0/api/v2/clients").await, 2);

    // A 503 on a create is NOT sent again: the IdP may have acted. The app waits for the
    // reconciler, which looks for dcr's marker, finds nothing, and marks it FAILED.
    let s = setup("okta").await;
    fault(
        &s.emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients", "method": "POST", "status": 503}),
    )
    .await;
    let error = s
        .app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "unlucky".into(),
            strategy_id: s.strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("outage");
    assert_eq!(error.code(), Code::Unavailable);
    assert!(
        error.message().contains("PROVISIONING"),
        "{}",
        error.message()
    );
    assert_eq!(calls(&s.emu, "POST /okta/oauth2/v1/clients").await, 1);
    s.app.clock.advance(chrono::Duration::minutes(5));
    let pass = s.app.registry.reconcile_once().await.expect("reconcile");
    assert_eq!(pass.undone_creates, 1);
    let listed = s
        .app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.applications[0].state,
        pb::ApplicationState::Failed as i32
    );

    // Reads, updates and deletes are retried through 5xx and dropped connections.
    let created = s.app.create_app("dev-1", &s.strategy.id, "sturdy").await;
    let application = created.application.expect("app");
    fault(
        &s.emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients/", "method": "GET", "status": 503, "times": 2}),
    )
    .await;
    s.app
        .portal("dev-1")
        .update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                id: application.id.clone(),
                description: "survives two 503s".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .expect("update after retries");
    fault(
        &s.emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients/", "method": "DELETE", "drop": true}),
    )
    .await;
    s.app
        .portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            ..Default::default()
        })
        .await
        .expect("delete after a dropped connection");
    assert!(
        idp_client(&s.emu, "okta", &application.client_id)
            .await
            .is_none()
    );
}

/// Invariant 1 for every vendor: a crash right after the IdP created the client, then
/// reconcile (lease expired by moving the clock): no client of the app is left at the IdP.
#[tokio::test]
async fn a_crash_after_the_idp_create_leaves_no_orphan_at_any_vendor() {
    for vendor in dcr_testkit::emulator::VENDORS {
        let s = setup(vendor).await;
        s.app
            .registry
            .faults
            .crash_after_idp_create
            .store(1, Ordering::SeqCst);
        let error = s
            .app
            .portal("dev-1")
            .create_application(pb::CreateApplicationRequest {
                name: "doomed".into(),
                strategy_id: s.strategy.id.clone(),
                ..Default::default()
            })
            .await
            .expect_err("crash");
        assert_eq!(error.code(), Code::Internal, "{vendor}");
        let listed = s
            .app
            .portal("dev-1")
            .list_applications(pb::ListApplicationsRequest::default())
            .await
            .expect("list")
            .into_inner();
        let app_id = listed.applications[0].id.clone();
        let marked = |clients: Vec<Value>| {
            clients
                .iter()
                .filter(|c| carries_marker(vendor, c, &app_id))
                .count()
        };
        assert_eq!(
            marked(idp_clients(&s.emu, vendor).await),
            1,
            "{vendor}: made"
        );
        s.app.clock.advance(chrono::Duration::minutes(5));
        let pass = s.app.registry.reconcile_once().await.expect("reconcile");
        assert_eq!(pass.undone_creates, 1, "{vendor}");
        assert_eq!(
            marked(idp_clients(&s.emu, vendor).await),
            0,
            "{vendor}: removed"
        );
    }
}

#[tokio::test]
async fn auth0_grants_the_developers_scopes_when_the_provider_says_so() {
    let emu = emulator().await;
    auth0_api(&emu, AUDIENCE).await;
    let app = spawn_app().await;
    let mut p = provider(&emu, "auth0");
    if let Some(pb::provider::Config::Auth0(config)) = p.config.as_mut() {
        config.use_developer_managed_scopes = true;
    }
    let provider = app
        .providers()
        .create_provider(pb::CreateProviderRequest { provider: Some(p) })
        .await
        .expect("provider")
        .into_inner();
    let strategy = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "orders".into(),
                provider_id: provider.id,
                scopes: vec!["read".into(), "write".into()],
                auto_approve: true,
                ..Default::default()
            }),
        })
        .await
        .expect("strategy")
        .into_inner();
    let product = app
        .products()
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "orders".into(),
                strategy_id: strategy.id.clone(),
                audience: AUDIENCE.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("product")
        .into_inner();
    let created = app.create_app("dev-1", &strategy.id, "reader").await;
    let application = created.application.expect("application");
    let register = |scopes: Vec<String>| {
        let mut portal = app.portal("dev-1");
        let request = pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id.clone(),
            scopes,
        };
        async move { portal.create_registration(request).await }
    };
    // A scope the strategy does not offer: a field violation, nothing registered.
    let error = register(vec!["admin".into()])
        .await
        .expect_err("unknown scope");
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(crate::helpers::violations(&error), vec!["scopes"]);
    let registration = register(vec!["read".into()])
        .await
        .expect("register")
        .into_inner();
    assert_eq!(registration.scopes, vec!["read"]);
    let state: Value = reqwest::get(format!("{}/__emulator/state", emu.root))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let grant = state["auth0"]["client_grants"]
        .as_array()
        .expect("grants")
        .iter()
        .find(|g| g["client_id"] == application.client_id.as_str())
        .cloned()
        .expect("a grant");
    assert_eq!(
        grant["scope"],
        json!(["read"]),
        "only what the developer chose"
    );
}

/// Revoking a secret while the IdP is down: dcr commits the revocation first (the
/// directory, and so every gateway, refuses the secret at once), says the IdP part is
/// pending, and the reconciler pushes it to the IdP once the IdP answers again. Before,
/// the revocation waited for the IdP: an admin could not cut off a leaked secret during
/// an outage.
#[tokio::test]
async fn a_revocation_holds_in_dcr_during_an_idp_outage_and_reaches_the_idp_later() {
    let s = setup("azure_ad").await;
    let created = s.app.create_app("dev-1", &s.strategy.id, "shop").await;
    let application = created.application.expect("application");
    let client_id = application.client_id.clone();
    let leaked = s
        .app
        .portal("dev-1")
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .expect("add")
        .into_inner();
    assert_eq!(
        token_status(
            &s.emu,
            "azure_ad",
            &client_id,
            &leaked.client_secret,
            AUDIENCE
        )
        .await,
        200
    );

    // Graph answers 503 to every removePassword for a while.
    fault(
        &s.emu,
        json!({"path_prefix": "/graph/v1.0/applications/", "method": "POST", "status": 503, "times": 50}),
    )
    .await;
    let revoked = s
        .app
        .portal("dev-1")
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: application.id.clone(),
            credential_id: leaked.id.clone(),
        })
        .await
        .expect("the revocation is accepted while the IdP is down")
        .into_inner();
    assert!(revoked.revoke_time.is_some());
    assert!(
        revoked.idp_pending,
        "the answer says the IdP part is pending"
    );
    let resolved = s
        .app
        .registry
        .store
        .resolve_client(&client_id, chrono::Utc::now())
        .await
        .expect("resolve")
        .expect("found");
    assert_eq!(resolved.active_credential_ids.len(), 1);
    assert!(
        !resolved
            .active_credential_ids
            .iter()
            .any(|id| id.to_string() == leaked.id),
        "dcr refuses the revoked secret already"
    );
    // A retry by the caller says the same, and changes nothing.
    let again = s
        .app
        .portal("dev-1")
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: application.id.clone(),
            credential_id: leaked.id.clone(),
        })
        .await
        .expect("again")
        .into_inner();
    assert!(again.idp_pending);

    // The IdP is back; once the request's lease has run out the reconciler pushes it.
    clear_faults(&s.emu).await;
    s.app.clock.advance(chrono::Duration::minutes(5));
    let pass = s.app.registry.reconcile_once().await.expect("reconcile");
    assert_eq!(pass.finished_revocations, 1, "{pass:?}");
    assert_ne!(
        token_status(
            &s.emu,
            "azure_ad",
            &client_id,
            &leaked.client_secret,
            AUDIENCE
        )
        .await,
        200,
        "the IdP refuses the secret now too"
    );
    assert!(
        s.app
            .registry
            .store
            .pending_operations()
            .await
            .expect("pending")
            .is_empty()
    );

    // With the IdP up, a revocation is confirmed in the same call.
    let second = s
        .app
        .portal("dev-1")
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .expect("add")
        .into_inner();
    let confirmed = s
        .app
        .portal("dev-1")
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: application.id.clone(),
            credential_id: second.id.clone(),
        })
        .await
        .expect("revoke")
        .into_inner();
    assert!(!confirmed.idp_pending);
    assert_ne!(
        token_status(
            &s.emu,
            "azure_ad",
            &client_id,
            &second.client_secret,
            AUDIENCE
        )
        .await,
        200
    );
}

/// Ending access while the IdP is down: a rejected or deleted registration is refused by
/// dcr at once (the directory no longer lists the product), the answer says the IdP part
/// is pending, and the reconciler removes the Auth0 client grant once Auth0 answers.
#[tokio::test]
async fn ended_access_holds_in_dcr_during_an_idp_outage_and_reaches_the_idp_later() {
    let s = setup("auth0").await;
    let created = s.app.create_app("dev-1", &s.strategy.id, "shop").await;
    let application = created.application.expect("application");
    let client_id = application.client_id.clone();
    let grants = || async {
        state(&s.emu).await["auth0"]["client_grants"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|g| g["client_id"] == client_id.as_str())
            .count()
    };
    let approved = |s: &Setup| {
        let client_id = client_id.clone();
        let store = s.app.registry.store.clone();
        async move {
            store
                .resolve_client(&client_id, chrono::Utc::now())
                .await
                .expect("resolve")
                .expect("found")
                .approved_product_ids
                .len()
        }
    };
    let register = || async {
        s.app
            .portal("dev-1")
            .create_registration(pb::CreateRegistrationRequest {
                application_id: application.id.clone(),
                product_id: s.product.id.clone(),
                scopes: Vec::new(),
            })
            .await
            .expect("register")
            .into_inner()
    };
    let auth0_down = || {
        fault(
            &s.emu,
            json!({"path_prefix": "/auth0/api/v2/client-grants", "method": "DELETE", "status": 503, "times": 50}),
        )
    };
    let auth0_back = || clear_faults(&s.emu);

    // Deleted by the developer while Auth0 is down.
    let registration = register().await;
    assert_eq!((grants().await, approved(&s).await), (1, 1));
    auth0_down().await;
    let deleted = s
        .app
        .portal("dev-1")
        .delete_registration(pb::DeleteRegistrationRequest {
            id: registration.id.clone(),
        })
        .await
        .expect("the delete is accepted while Auth0 is down")
        .into_inner();
    assert!(deleted.idp_pending);
    assert_eq!(approved(&s).await, 0, "dcr refuses the access already");
    assert_eq!(grants().await, 1, "Auth0 has not heard yet");
    auth0_back().await;
    s.app.clock.advance(chrono::Duration::minutes(5));
    let pass = s.app.registry.reconcile_once().await.expect("reconcile");
    assert_eq!(pass.finished_revocations, 1, "{pass:?}");
    assert_eq!(grants().await, 0, "the grant is gone at Auth0 too");

    // Rejected by an admin while Auth0 is down.
    let registration = register().await;
    assert_eq!((grants().await, approved(&s).await), (1, 1));
    auth0_down().await;
    let rejected = s
        .app
        .products()
        .reject_registration(pb::RejectRegistrationRequest {
            id: registration.id.clone(),
        })
        .await
        .expect("the rejection is accepted while Auth0 is down")
        .into_inner();
    assert_eq!(rejected.status, pb::RegistrationStatus::Rejected as i32);
    assert!(rejected.idp_pending);
    assert_eq!(approved(&s).await, 0);
    auth0_back().await;
    s.app.clock.advance(chrono::Duration::minutes(5));
    let pass = s.app.registry.reconcile_once().await.expect("reconcile");
    assert_eq!(pass.finished_revocations, 1, "{pass:?}");
    assert_eq!(grants().await, 0);
}
