//! Provider secrets stay where they were given: management credentials never leave
//! registry-svc, introspection credentials go to the service token only and each hand-out
//! is audited, VerifyProvider is audited, and an update that points a provider at a new
//! origin must send its secrets again.

use dcr_proto::registry::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::helpers::{TestApp, spawn_app};
use crate::http_bridge::bridge_provider;

async fn audit_actions(app: &TestApp, resource_id: &str) -> Vec<(String, String, String)> {
    app.audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            resource_id: resource_id.into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .events
        .into_iter()
        .map(|e| (e.actor, e.action, e.outcome))
        .collect()
}

#[tokio::test]
async fn only_introspection_credentials_leave_and_each_hand_out_is_audited() {
    let app = spawn_app().await;
    let provider = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(pb::Provider {
                name: "with-introspection".into(),
                issuer: "http://127.0.0.1:9".into(),
                active: true,
                config: Some(pb::provider::Config::Rfc7591(pb::Rfc7591Config {
                    initial_access_token: "iat-management-secret-0123456789".into(),
                    introspection_client_id: "introspector".into(),
                    introspection_client_secret: "introspection-secret-0123456789".into(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        })
        .await
        .expect("create")
        .into_inner();

    // The purpose must be named; management (1) is gone.
    for purpose in [0, 1] {
        let refused = app
            .directory()
            .get_provider_credentials(pb::GetProviderCredentialsRequest {
                provider_id: provider.id.clone(),
                purpose,
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "purpose {purpose}");
        assert!(
            refused.message().contains("never leave registry-svc")
                || format!("{:?}", refused.get_details_bad_request()).contains("never leave"),
            "{refused:?}"
        );
    }
    let given = app
        .directory()
        .get_provider_credentials(pb::GetProviderCredentialsRequest {
            provider_id: provider.id.clone(),
            purpose: pb::CredentialPurpose::Introspection as i32,
        })
        .await
        .expect("introspection credentials")
        .into_inner();
    assert_eq!(given.client_id, "introspector");
    assert_eq!(given.client_secret, "introspection-secret-0123456789");

    let verified = app
        .providers()
        .verify_provider(pb::VerifyProviderRequest {
            id: provider.id.clone(),
        })
        .await
        .expect("verify")
        .into_inner();
    assert!(!verified.ok, "nothing listens on the issuer");

    let mut events = audit_actions(&app, &provider.id).await;
    events.sort();
    let expected = [
        ("token:admin", "CreateProvider", "ok"),
        ("token:admin", "VerifyProvider", "ok"),
        ("token:service", "GetProviderCredentials", "InvalidArgument"),
        ("token:service", "GetProviderCredentials", "InvalidArgument"),
        ("token:service", "GetProviderCredentials", "ok"),
    ]
    .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
    assert_eq!(events, expected);
}

#[tokio::test]
async fn moving_a_provider_to_another_origin_needs_its_secrets_again() {
    let app = spawn_app().await;
    let created = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(bridge_provider(
                "movable",
                "https://bridge.example.com/dcr",
                (false, false, false),
            )),
        })
        .await
        .expect("create")
        .into_inner();
    let update = |base_url: &str, api_key: &str, issuer: &str| pb::UpdateProviderRequest {
        provider: Some(pb::Provider {
            id: created.id.clone(),
            issuer: issuer.into(),
            config: Some(pb::provider::Config::HttpBridge(pb::HttpBridgeConfig {
                dcr_base_url: base_url.into(),
                api_key: api_key.into(),
                ..Default::default()
            })),
            ..Default::default()
        }),
        update_mask: None,
    };

    // Same origin, another path: the stored key stays.
    app.providers()
        .update_provider(update(
            "https://bridge.example.com/v2/dcr",
            "",
            "https://idp.example.com",
        ))
        .await
        .expect("same origin keeps the secret");

    // Another host, or the issuer moved elsewhere, without the key: refused, nothing changes.
    for (base_url, issuer) in [
        (
            "https://attacker.example.net/dcr",
            "https://idp.example.com",
        ),
        (
            "https://bridge.example.com/v2/dcr",
            "https://idp.attacker.example.net",
        ),
        (
            "https://bridge.example.com:8443/dcr",
            "https://idp.example.com",
        ),
    ] {
        let refused = app
            .providers()
            .update_provider(update(base_url, "", issuer))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{base_url} {issuer}");
        let details = format!("{:?}", refused.get_details_bad_request());
        assert!(
            details.contains("send api_key again"),
            "{base_url}: {details}"
        );
    }
    let stored = app
        .providers()
        .get_provider(pb::GetProviderRequest {
            id: created.id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    let Some(pb::provider::Config::HttpBridge(config)) = stored.config else {
        panic!("a bridge")
    };
    assert_eq!(config.dcr_base_url, "https://bridge.example.com/v2/dcr");

    // With the key sent again, the move is the admin's to make.
    app.providers()
        .update_provider(update(
            "https://bridge.other.example.org/dcr",
            "a-new-bridge-api-key-0123456789",
            "https://idp.example.com",
        ))
        .await
        .expect("a move with the secret");
}

/// Curity's initial client registers clients (DCR): it is a management credential and never
/// introspects. Opaque Curity tokens need an introspection client of their own.
#[tokio::test]
async fn curity_introspects_with_its_own_client_never_the_initial_one() {
    let app = spawn_app().await;
    let curity = |introspection: Option<(&str, &str)>| pb::Provider {
        name: "curity-roles".into(),
        issuer: "http://127.0.0.1:9/oauth/v2/oauth-anonymous".into(),
        active: true,
        config: Some(pb::provider::Config::Curity(pb::CurityConfig {
            initial_client_id: "dcr-client".into(),
            initial_client_secret: "curity-dcr-secret-0123456789".into(),
            introspection_client_id: introspection.map(|i| i.0.into()).unwrap_or_default(),
            introspection_client_secret: introspection.map(|i| i.1.into()).unwrap_or_default(),
        })),
        ..Default::default()
    };
    let created = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(curity(None)),
        })
        .await
        .expect("create")
        .into_inner();
    let ask = pb::GetProviderCredentialsRequest {
        provider_id: created.id.clone(),
        purpose: pb::CredentialPurpose::Introspection as i32,
    };
    let refused = app
        .directory()
        .get_provider_credentials(ask.clone())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert!(
        refused.message().contains("introspection_client_id"),
        "{refused:?}"
    );

    // Half a pair is refused; the whole pair is used.
    let mut half = curity(Some(("introspector", "")));
    half.id = created.id.clone();
    let invalid = app
        .providers()
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(half),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert_eq!(invalid.code(), Code::InvalidArgument);
    let mut whole = curity(Some(("introspector", "introspection-secret-0123456789")));
    whole.id = created.id.clone();
    let updated = app
        .providers()
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(whole),
            update_mask: None,
        })
        .await
        .expect("update")
        .into_inner();
    let Some(pb::provider::Config::Curity(config)) = updated.config else {
        panic!("curity")
    };
    assert_eq!(config.introspection_client_id, "introspector");
    assert_eq!(config.introspection_client_secret, "", "write-only");
    let given = app
        .directory()
        .get_provider_credentials(ask)
        .await
        .expect("introspection credentials")
        .into_inner();
    assert_eq!(
        (given.client_id.as_str(), given.client_secret.as_str()),
        ("introspector", "introspection-secret-0123456789")
    );
}

/// Every answer names the provider's type (`Provider.provider_type`, output only): create,
/// get, list and update; a type sent in a request is ignored.
#[tokio::test]
async fn answers_name_the_provider_type() {
    let app = spawn_app().await;
    let mut sent = bridge_provider("typed", "https://bridge.example.com", (false, false, false));
    sent.provider_type = pb::ProviderType::Okta as i32;
    let created = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(sent),
        })
        .await
        .expect("create")
        .into_inner();
    let bridge = pb::ProviderType::HttpBridge as i32;
    assert_eq!(created.provider_type, bridge);
    let got = app
        .providers()
        .get_provider(pb::GetProviderRequest {
            id: created.id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.provider_type, bridge);
    let listed = app
        .providers()
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.providers[0].provider_type, bridge);
    let updated = app
        .providers()
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(pb::Provider {
                id: created.id.clone(),
                display_name: "Typed".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.provider_type, bridge);
}
