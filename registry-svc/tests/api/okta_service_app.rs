//! Okta management access by an OAuth 2.0 service app (issue 14): instead of an SSWS API
//! token, dcr gets Bearer tokens at the org authorization server with a client assertion
//! signed by the app's private key (`private_key_jwt`), for exactly the scopes its calls
//! need, and every refusal says what to change in Okta's Admin Console. The emulator is
//! the peer: it checks assertions and scopes as Okta documents them.

use dcr_idp_emulator::OKTA_API_TOKEN;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{
    Emulator, OKTA_DCR_SCOPES, OktaServiceApp, calls, emulator, idp_client, okta_service_app,
    okta_service_app_provider, state, token_status,
};
use dcr_testkit::registry::{captured_logs, violations_with_descriptions};
use serde_json::{Value, json};
use tonic::Code;

use crate::helpers::{TestApp, spawn_app};

/// A service app granted every scope dcr needs (or `scopes`), with `extra` spec fields.
async fn app_with(emu: &Emulator, scopes: &[&str], extra: Value) -> OktaServiceApp {
    let mut spec = json!({ "scopes": scopes, "name": "dcr" });
    if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
        spec.extend(extra.clone());
    }
    okta_service_app(emu, spec).await
}

async fn create(app: &TestApp, provider: pb::Provider) -> pb::Provider {
    app.providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(provider),
        })
        .await
        .expect("create provider")
        .into_inner()
}

async fn verify(app: &TestApp, provider: &pb::Provider) -> pb::VerifyProviderResponse {
    app.providers()
        .verify_provider(pb::VerifyProviderRequest {
            id: provider.id.clone(),
        })
        .await
        .expect("verify answers")
        .into_inner()
}

fn says_all(detail: &str, parts: &[&str]) {
    for part in parts {
        assert!(detail.contains(part), "{part:?} missing from: {detail}");
    }
}

/// The emulator's record of the service app (its `bearer_calls`, ...).
async fn service_app_record(emu: &Emulator, client_id: &str) -> Value {
    state(emu).await["okta"]["service_apps"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["client_id"] == client_id).cloned())
        .expect("the service app")
}

/// With the seeded API token revoked, a provider managed by a service app creates,
/// updates, rotates and deletes clients; every management call carried one of the
/// app's Bearer tokens, got once and cached.
#[tokio::test]
async fn a_service_app_manages_clients_with_bearer_tokens_end_to_end() {
    let emu = emulator().await;
    let revoked = reqwest::Client::new()
        .delete(format!(
            "{}/__emulator/okta/api-tokens/{OKTA_API_TOKEN}",
            emu.root
        ))
        .send()
        .await
        .expect("revoke the API token");
    assert!(revoked.status().is_success());
    let service = app_with(&emu, OKTA_DCR_SCOPES, json!({})).await;
    let app = spawn_app().await;
    let (provider, strategy, _) = app
        .setup(okta_service_app_provider(&emu, "okta-sa", &service), true)
        .await;

    let verified = verify(&app, &provider).await;
    assert!(verified.ok, "{}", verified.detail);
    says_all(
        &verified.detail,
        &[
            &service.client_id,
            &emu.urls.okta_org_token(),
            "okta.apps.manage",
        ],
    );

    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let application = created.application.expect("application");
    let first = created.credential.expect("credential");
    assert!(
        idp_client(&emu, "okta", &application.client_id)
            .await
            .is_some()
    );
    let portal = app.portal("dev-1");
    let second = portal
        .clone()
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("regenerate")
        .into_inner();
    let status = |secret: String| {
        let (emu, id) = (&emu, application.client_id.clone());
        async move { token_status(emu, "okta", &id, &secret, "").await }
    };
    assert_eq!(status(second.client_secret.clone()).await, 200);
    assert_ne!(status(first.client_secret.clone()).await, 200);
    let third = portal
        .clone()
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .expect("add a second secret (Client Secrets API)")
        .into_inner();
    portal
        .clone()
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: application.id.clone(),
            credential_id: second.id.clone(),
        })
        .await
        .expect("revoke");
    assert_ne!(status(second.client_secret.clone()).await, 200);
    assert_eq!(status(third.client_secret.clone()).await, 200);
    portal
        .clone()
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            ..Default::default()
        })
        .await
        .expect("delete");
    assert!(
        idp_client(&emu, "okta", &application.client_id)
            .await
            .is_none()
    );

    let record = service_app_record(&emu, &service.client_id).await;
    assert!(
        record["bearer_calls"].as_u64().unwrap_or(0) >= 8,
        "every management call carried the app's token: {record}"
    );
    assert_eq!(
        calls(&emu, "POST /okta/oauth2/v1/token").await,
        1,
        "one token, cached for the calls after Verify"
    );
}

/// A private key whose public key is not the app's: Okta refuses the assertion, and
/// Verify (and any call) says what was sent and what to check in the Admin Console.
#[tokio::test]
async fn a_wrong_key_is_refused_saying_what_to_check() {
    let emu = emulator().await;
    let service = app_with(&emu, OKTA_DCR_SCOPES, json!({})).await;
    let other = app_with(&emu, OKTA_DCR_SCOPES, json!({})).await;
    let app = spawn_app().await;
    let wrong = OktaServiceApp {
        private_key_pem: other.private_key_pem.clone(),
        ..service.clone()
    };
    let (provider, strategy, _) = app
        .setup(
            okta_service_app_provider(&emu, "okta-wrong-key", &wrong),
            true,
        )
        .await;
    let verified = verify(&app, &provider).await;
    assert!(!verified.ok);
    says_all(
        &verified.detail,
        &[
            &service.client_id,
            "private_key_jwt",
            "RS256",
            &format!("kid {}", service.kid),
            &emu.urls.okta_org_token(),
            "invalid_client",
            "The client_assertion signature is invalid.",
            "Public key / Private key",
            "management_client_id",
            "management_private_key",
        ],
    );
    let refused = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "shop".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("no token, no client");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("signature is invalid"),
        "{refused:?}"
    );

    // The right key without its KID: Okta needs the kid of a key that has one.
    let no_kid = OktaServiceApp {
        kid: String::new(),
        ..service.clone()
    };
    let provider = create(
        &app,
        okta_service_app_provider(&emu, "okta-no-kid", &no_kid),
    )
    .await;
    let verified = verify(&app, &provider).await;
    assert!(!verified.ok);
    says_all(
        &verified.detail,
        &[
            "without a kid",
            "The client_assertion JWT kid is invalid.",
            "management_key_id",
        ],
    );
}

/// Scopes the app was not granted: Verify names them, and a management call refused for
/// one (403 insufficient_scope) names it and where to grant it.
#[tokio::test]
async fn a_missing_scope_is_named_with_where_to_grant_it() {
    let emu = emulator().await;
    let lacking: Vec<&str> = OKTA_DCR_SCOPES
        .iter()
        .copied()
        .filter(|s| *s != "okta.apps.manage")
        .collect();
    let service = app_with(&emu, &lacking, json!({})).await;
    let app = spawn_app().await;
    let (provider, strategy, _) = app
        .setup(
            okta_service_app_provider(&emu, "okta-scopes", &service),
            true,
        )
        .await;
    let verified = verify(&app, &provider).await;
    assert!(!verified.ok);
    says_all(
        &verified.detail,
        &[
            "without okta.apps.manage",
            "Okta API Scopes",
            &service.client_id,
        ],
    );
    assert!(
        !verified.detail.contains("okta.clients.read,"),
        "{}",
        verified.detail
    );

    // Creating needs okta.clients.register and okta.apps.read, which it has; a second
    // secret needs okta.apps.manage.
    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let application = created.application.expect("application");
    let refused = app
        .portal("dev-1")
        .add_credential(pb::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .expect_err("Okta refuses the call");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    says_all(
        refused.message(),
        &[
            "lacks the scope okta.apps.manage",
            "insufficient_scope",
            "Okta API Scopes",
        ],
    );

    // Without an admin role the same token is refused outright, and that is said too.
    let roleless = app_with(&emu, OKTA_DCR_SCOPES, json!({"admin_roles": []})).await;
    let provider = create(
        &app,
        okta_service_app_provider(&emu, "okta-role", &roleless),
    )
    .await;
    let verified = verify(&app, &provider).await;
    assert!(!verified.ok);
    says_all(
        &verified.detail,
        &["E0000006", "Admin roles", "Application Administrator"],
    );
}

/// "Require DPoP" on the service app: dcr says to turn it off, and where.
#[tokio::test]
async fn required_dpop_gives_a_clear_error() {
    let emu = emulator().await;
    let service = app_with(&emu, OKTA_DCR_SCOPES, json!({"dpop_required": true})).await;
    let app = spawn_app().await;
    let provider = create(&app, okta_service_app_provider(&emu, "okta-dpop", &service)).await;
    let verified = verify(&app, &provider).await;
    assert!(!verified.ok);
    says_all(
        &verified.detail,
        &[
            "invalid_dpop_proof",
            "The DPoP proof JWT header is missing.",
            "turn off",
            "Require Demonstrating Proof of Possession (DPoP) header in token requests",
        ],
    );
}

/// An EC P-256 key signs ES256, which Okta accepts as well.
#[tokio::test]
async fn an_ec_key_works_too() {
    let emu = emulator().await;
    let service = app_with(&emu, OKTA_DCR_SCOPES, json!({"key_type": "EC"})).await;
    let app = spawn_app().await;
    let provider = create(&app, okta_service_app_provider(&emu, "okta-ec", &service)).await;
    let verified = verify(&app, &provider).await;
    assert!(verified.ok, "{}", verified.detail);
}

fn okta(config: pb::OktaConfig) -> pb::Provider {
    pb::Provider {
        name: "okta-config".into(),
        issuer: "https://acme.okta.com/oauth2/default".into(),
        active: true,
        config: Some(pb::provider::Config::Okta(config)),
        ..Default::default()
    }
}

/// Exactly one of API token and service app; the service app's key must be a usable
/// private key; each refusal names the fields.
#[tokio::test]
async fn the_config_takes_one_of_api_token_and_service_app() {
    let emu = emulator().await;
    let service = app_with(&emu, OKTA_DCR_SCOPES, json!({})).await;
    let app = spawn_app().await;
    let refused = |config: pb::OktaConfig| {
        let app = &app;
        async move {
            let error = app
                .providers()
                .create_provider(pb::CreateProviderRequest {
                    provider: Some(okta(config)),
                })
                .await
                .expect_err("refused");
            assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
            violations_with_descriptions(&error)
        }
    };
    let has = |found: &[(String, String)], field: &str, words: &[&str]| {
        assert!(
            found
                .iter()
                .any(|(f, why)| f == &format!("provider.okta.{field}")
                    && words.iter().all(|w| why.contains(w))),
            "{field} {words:?}: {found:?}"
        );
    };
    let found = refused(pb::OktaConfig::default()).await;
    has(
        &found,
        "dcr_token",
        &["one of dcr_token or management_client_id with management_private_key"],
    );
    let found = refused(pb::OktaConfig {
        dcr_token: "00token".into(),
        management_client_id: service.client_id.clone(),
        management_private_key: service.private_key_pem.clone(),
        ..Default::default()
    })
    .await;
    has(&found, "dcr_token", &["not both"]);
    let found = refused(pb::OktaConfig {
        management_client_id: service.client_id.clone(),
        ..Default::default()
    })
    .await;
    has(
        &found,
        "management_private_key",
        &["required with management_client_id"],
    );
    let found = refused(pb::OktaConfig {
        dcr_token: "00token".into(),
        management_key_id: "k1".into(),
        ..Default::default()
    })
    .await;
    has(
        &found,
        "management_key_id",
        &["only with management_client_id"],
    );
    let public_only = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----";
    for (key, words) in [
        ("not a key", &["PEM private key"][..]),
        (public_only, &["public key", "give the private key"][..]),
    ] {
        let found = refused(pb::OktaConfig {
            management_client_id: service.client_id.clone(),
            management_private_key: key.into(),
            ..Default::default()
        })
        .await;
        has(&found, "management_private_key", words);
        assert!(!format!("{found:?}").contains(key), "the key is not echoed");
    }
}

/// An API token provider moves to a service app in one masked update that clears the
/// token; the private key is never returned, logged or stored in plaintext.
#[tokio::test]
async fn a_provider_moves_to_a_service_app_and_its_key_stays_secret() {
    let emu = emulator().await;
    let service = app_with(&emu, OKTA_DCR_SCOPES, json!({})).await;
    let app = spawn_app().await;
    let provider = create(&app, dcr_testkit::emulator::provider(&emu, "okta")).await;
    let to_service_app = |paths: &[&str]| pb::UpdateProviderRequest {
        provider: Some(pb::Provider {
            id: provider.id.clone(),
            config: Some(pb::provider::Config::Okta(pb::OktaConfig {
                management_client_id: service.client_id.clone(),
                management_private_key: service.private_key_pem.clone(),
                management_key_id: service.kid.clone(),
                ..Default::default()
            })),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }),
    };
    let fields = [
        "okta.management_client_id",
        "okta.management_private_key",
        "okta.management_key_id",
    ];
    let kept_token = app
        .providers()
        .update_provider(to_service_app(&fields))
        .await
        .expect_err("the stored API token is still set");
    let found = violations_with_descriptions(&kept_token);
    assert!(
        found
            .iter()
            .any(|(f, why)| f == "provider.okta.dcr_token" && why.contains("update_mask")),
        "{found:?}"
    );
    let moved = app
        .providers()
        .update_provider(to_service_app(&[&fields[..], &["okta.dcr_token"]].concat()))
        .await
        .expect("moved")
        .into_inner();
    let verified = verify(&app, &moved).await;
    assert!(verified.ok, "{}", verified.detail);
    assert!(
        verified.detail.contains("service app"),
        "{}",
        verified.detail
    );

    let got = app
        .providers()
        .get_provider(pb::GetProviderRequest {
            id: provider.id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    let listed = app
        .providers()
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .expect("list")
        .into_inner()
        .providers;
    for shown in [&moved, &got, &listed[0]] {
        let Some(pb::provider::Config::Okta(config)) = &shown.config else {
            panic!("okta: {shown:?}");
        };
        assert_eq!(config.management_client_id, service.client_id);
        assert_eq!(config.management_key_id, service.kid);
        assert!(config.management_private_key.is_empty() && config.dcr_token.is_empty());
    }
    // The key's body, in any of its lines, is nowhere in the rows or the logs.
    let body_line = service
        .private_key_pem
        .lines()
        .nth(2)
        .expect("a line of the key")
        .to_owned();
    let rows: Vec<String> = sqlx::query_scalar("SELECT row_to_json(t)::text FROM providers t")
        .fetch_all(&app.pool().await)
        .await
        .expect("rows");
    assert!(
        rows.iter().all(|row| !row.contains(&body_line)),
        "sealed at rest"
    );
    assert!(!captured_logs().contains(&body_line), "never logged");
}
