//! Invariant 5: bad input gets INVALID_ARGUMENT with field violations (or the fitting
//! code) and changes nothing.

use dcr_proto::registry::v1 as pb;
use tonic::Code;

use crate::helpers::{spawn_app, spawn_app_with, violations};
use crate::http_bridge::bridge_provider;
use crate::peers;
use crate::rfc7591::rfc7591_provider;

#[tokio::test]
async fn a_bad_provider_is_refused_with_every_violation_and_nothing_is_stored() {
    let app = spawn_app().await;
    let mut providers = app.providers();
    let bad = pb::Provider {
        name: " ".into(),
        issuer: "ftp://idp.example.com/#frag".into(),
        labels: [("Bad Key".to_owned(), "v".to_owned())].into(),
        config: Some(pb::provider::Config::HttpBridge(pb::HttpBridgeConfig {
            dcr_base_url: "not a url".into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let error = providers
        .create_provider(pb::CreateProviderRequest {
            provider: Some(bad),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let mut fields = violations(&error);
    fields.sort();
    assert_eq!(
        fields,
        [
            "provider.http_bridge.api_key",
            "provider.http_bridge.dcr_base_url",
            "provider.issuer",
            "provider.labels",
            "provider.name"
        ]
    );
    let missing = providers
        .create_provider(pb::CreateProviderRequest {
            provider: Some(pb::Provider::default()),
        })
        .await
        .unwrap_err();
    assert!(violations(&missing).contains(&"provider.config".to_owned()));
    let listed = providers
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.providers.is_empty(), "nothing was stored");
}

#[tokio::test]
async fn plain_http_issuers_need_the_loopback_switch() {
    let app = spawn_app_with(|c| c.url_policy.allow_http_loopback = false).await;
    let error = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(rfc7591_provider("p", "http://127.0.0.1:9", "")),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&error), ["provider.issuer"]);
    assert!(
        error.message().contains("DCR_ALLOW_HTTP_LOOPBACK"),
        "{}",
        error.message()
    );
    let remote = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(rfc7591_provider("p", "http://idp.example.com", "")),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&remote), ["provider.issuer"]);
}

#[tokio::test]
async fn names_ids_types_and_references_are_checked() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (provider, strategy, product) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            false,
        )
        .await;
    let mut providers = app.providers();

    let duplicate = providers
        .create_provider(pb::CreateProviderRequest {
            provider: Some(bridge_provider(
                "bridge",
                &bridge.base_url,
                (false, false, false),
            )),
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);
    let unknown = providers
        .get_provider(pb::GetProviderRequest {
            id: uuid::Uuid::now_v7().to_string(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
    let malformed = providers
        .get_provider(pb::GetProviderRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(violations(&malformed), ["id"]);

    // The type cannot change; the secret is kept when not resent.
    let change = providers
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(pb::Provider {
                id: provider.id.clone(),
                ..rfc7591_provider("bridge", "https://x.example.com", "")
            }),
            update_mask: None,
        })
        .await
        .unwrap_err();
    assert!(violations(&change).contains(&"provider.config".to_owned()));
    let renamed = providers
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(pb::Provider {
                id: provider.id.clone(),
                display_name: "The Bridge".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(
        (renamed.display_name.as_str(), renamed.name.as_str()),
        ("The Bridge", "bridge")
    );
    let verdict = providers
        .verify_provider(pb::VerifyProviderRequest {
            id: provider.id.clone(),
        })
        .await
        .expect("verify")
        .into_inner();
    assert!(
        verdict.ok,
        "the api key survived the update: {}",
        verdict.detail
    );
    let bad_mask = providers
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(pb::Provider {
                id: provider.id.clone(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["type".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&bad_mask), ["update_mask"]);

    // In use: FAILED_PRECONDITION.
    let in_use = providers
        .delete_provider(pb::DeleteProviderRequest {
            id: provider.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);
    let in_use = app
        .strategies()
        .delete_strategy(pb::DeleteStrategyRequest {
            id: strategy.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(in_use.code(), Code::FailedPrecondition);

    // Strategies and products must point at things that exist.
    let dangling = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "s2".into(),
                provider_id: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&dangling), ["strategy.provider_id"]);
    let bad_scope = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "s3".into(),
                provider_id: provider.id.clone(),
                scopes: vec!["has space".into()],
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(violations(&bad_scope), ["strategy.scopes"]);

    // Applications: redirect URIs per RFC 7591, required name, known strategy.
    let idp_calls_before = bridge.bridge_requests().await.len();
    let mut portal = app.portal("dev-1");
    let bad_app = portal
        .create_application(pb::CreateApplicationRequest {
            name: String::new(),
            strategy_id: strategy.id.clone(),
            redirect_uris: vec![
                "https://ok.example.com/cb".into(),
                "/relative".into(),
                "https://x.example.com/#frag".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap_err();
    let mut fields = violations(&bad_app);
    fields.sort();
    assert_eq!(fields, ["name", "redirect_uris[1]", "redirect_uris[2]"]);
    let no_strategy = portal
        .create_application(pb::CreateApplicationRequest {
            name: "a".into(),
            strategy_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(no_strategy.code(), Code::NotFound);
    assert_eq!(
        bridge.bridge_requests().await.len(),
        idp_calls_before,
        "nothing reached the IdP"
    );

    // Duplicate application names per developer; other developers may reuse them.
    app.create_app("dev-1", &strategy.id, "same").await;
    let dup = portal
        .create_application(pb::CreateApplicationRequest {
            name: "same".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(dup.code(), Code::AlreadyExists);
    app.create_app("dev-2", &strategy.id, "same").await;
    let _ = product;
}

/// A missing or malformed id in a body is said once, with its field: the message a
/// person reads is "invalid argument: product.strategy_id: is required", not the field
/// and the reason twice over.
#[tokio::test]
async fn a_missing_or_bad_id_is_named_once() {
    let app = spawn_app().await;
    for (strategy_id, reason) in [("", "is required"), ("nope", "is not a valid id")] {
        let error = app
            .products()
            .create_product(pb::CreateProductRequest {
                product: Some(pb::ApiProduct {
                    name: "p".into(),
                    strategy_id: strategy_id.into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(
            error.message(),
            format!("invalid argument: product.strategy_id: {reason}")
        );
    }
}

/// Optional provider fields are bounded like required ones: a 5,000-character audience
/// is refused, naming the field, and nothing is stored.
#[tokio::test]
async fn an_optional_provider_field_is_bounded_too() {
    let app = spawn_app().await;
    let error = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(pb::Provider {
                name: "long".into(),
                issuer: "https://tenant.auth0.example.com/".into(),
                active: true,
                config: Some(pb::provider::Config::Auth0(pb::Auth0Config {
                    initial_client_id: "mgmt".into(),
                    initial_client_secret: "mgmt-secret".into(),
                    initial_client_audience: "a".repeat(5000),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&error),
        ["provider.auth0.initial_client_audience"]
    );
    let listed = app
        .providers()
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.providers.is_empty());
}
