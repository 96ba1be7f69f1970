//! Opaque access tokens, validated by RFC 7662 introspection at the IdP (through
//! token-svc) once the provider has an introspection client, then cached until `exp`.

use dcr_proto::authz::v1 as pb;
use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::{AuthzStack, authz_stack};
use dcr_testkit::peers::INITIAL_ACCESS_TOKEN;
use serde_json::{Value, json};

use crate::client_credentials::basic;

/// The peer issues opaque (not JWT) access tokens for this resource.
pub(crate) const OPAQUE: &str = "https://opaque.example.com";

/// A product for `OPAQUE` on the stack's strategy (auto-approved).
pub(crate) async fn opaque_product(s: &AuthzStack) -> String {
    s.base
        .registry
        .products()
        .create_product(reg::CreateProductRequest {
            product: Some(reg::ApiProduct {
                name: "opaque".into(),
                strategy_id: s.base.strategy_id.clone(),
                audience: OPAQUE.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("product")
        .into_inner()
        .id
}

/// A confidential client registered straight at the IdP, to be the introspection client.
pub(crate) async fn introspection_client(s: &AuthzStack) -> (String, String) {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/reg", s.base.idp.base_url))
        .bearer_auth(INITIAL_ACCESS_TOKEN)
        .json(&json!({
            "client_name": "dcr introspection",
            "grant_types": ["client_credentials"],
            "response_types": [],
            "redirect_uris": [],
            "token_endpoint_auth_method": "client_secret_basic"
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    (
        body["client_id"].as_str().expect("client_id").to_owned(),
        body["client_secret"].as_str().expect("secret").to_owned(),
    )
}

pub(crate) async fn set_introspection_client(s: &AuthzStack, client_id: &str, secret: &str) {
    s.base
        .registry
        .providers()
        .update_provider(reg::UpdateProviderRequest {
            provider: Some(reg::Provider {
                id: s.base.provider_id.clone(),
                config: Some(reg::provider::Config::Rfc7591(reg::Rfc7591Config {
                    introspection_client_id: client_id.into(),
                    introspection_client_secret: secret.into(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec![
                    "rfc7591.introspection_client_id".into(),
                    "rfc7591.introspection_client_secret".into(),
                ],
            }),
        })
        .await
        .expect("update provider");
}

pub(crate) async fn introspections(s: &AuthzStack) -> u64 {
    s.base.idp.stats().await["introspection_requests"]
        .as_u64()
        .expect("counter")
}

fn reason(r: &pb::CheckResponse) -> (i32, i32, &str) {
    (r.decision, r.http_status, r.reason.as_str())
}

const DENY: i32 = pb::Decision::Deny as i32;
const ALLOW: i32 = pb::Decision::Allow as i32;

#[tokio::test]
async fn opaque_tokens_are_introspected_once_then_cached_and_judged_like_jwts() {
    let s = authz_stack(&[]).await;
    let product = opaque_product(&s).await;
    let (app, secret, _) = s
        .app_registered_for("dev-1", &s.base.strategy_id, &product, "opaque app")
        .await;
    let token = s.idp_token(&app.client_id, &secret, OPAQUE).await;
    assert_eq!(
        token.matches('.').count(),
        0,
        "the peer gives an opaque token"
    );
    let bearer = format!("Bearer {token}");
    let headers = [("authorization", bearer.as_str())];

    // No introspection client yet: refused, with a reason an admin can act on.
    let r = s.check(&product, &headers, &["read"]).await;
    assert_eq!(reason(&r), (DENY, 401, "invalid_token"), "{r:?}");
    assert!(r.www_authenticate.contains("introspection client"), "{r:?}");

    let (introspector, introspector_secret) = introspection_client(&s).await;
    set_introspection_client(&s, &introspector, &introspector_secret).await;
    // The provider's secret stays write-only.
    let provider = s
        .base
        .registry
        .providers()
        .get_provider(reg::GetProviderRequest {
            id: s.base.provider_id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    let Some(reg::provider::Config::Rfc7591(config)) = provider.config else {
        panic!("rfc7591 config");
    };
    assert_eq!(config.introspection_client_id, introspector);
    assert_eq!(config.introspection_client_secret, "");

    let before = introspections(&s).await;
    let r = s.check(&product, &headers, &["read"]).await;
    assert_eq!(reason(&r), (ALLOW, 200, ""), "{r:?}");
    let principal = r.principal.expect("principal");
    assert_eq!(
        (
            principal.application_id.as_str(),
            principal.client_id.as_str()
        ),
        (app.id.as_str(), app.client_id.as_str())
    );
    assert!(
        principal.scopes.contains(&"read".to_owned()),
        "{principal:?}"
    );
    // Seen again: answered from the cache, the IdP is not asked twice.
    let again = s.check(&product, &headers, &["read"]).await;
    assert_eq!(again.decision, ALLOW, "{again:?}");
    assert_eq!(introspections(&s).await, before + 1);

    // Judged like a JWT: a scope it lacks, another audience, a token the IdP never issued.
    let r = s.check(&product, &headers, &["admin"]).await;
    assert_eq!(reason(&r), (DENY, 403, "insufficient_scope"), "{r:?}");
    let r = s.check(&s.base.product_id, &headers, &[]).await;
    assert_eq!(reason(&r), (DENY, 401, "invalid_token"), "{r:?}");
    assert!(r.www_authenticate.contains("audience"), "{r:?}");
    let r = s
        .check(
            &product,
            &[("authorization", "Bearer not-a-token-the-idp-issued")],
            &[],
        )
        .await;
    assert_eq!(reason(&r), (DENY, 401, "invalid_token"), "{r:?}");
    assert!(r.www_authenticate.contains("not active"), "{r:?}");

    // Client credentials through token-svc get an opaque token too, introspected the same way.
    let r = s
        .check(
            &product,
            &[("authorization", &basic(&app.client_id, &secret))],
            &["read"],
        )
        .await;
    assert_eq!(reason(&r), (ALLOW, 200, ""), "{r:?}");

    // Rotation ends the cached opaque token like any other (invariant 3).
    s.base
        .registry
        .portal("dev-1")
        .regenerate_secret(reg::RegenerateSecretRequest {
            application_id: app.id.clone(),
        })
        .await
        .expect("rotate");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let r = s.check(&product, &headers, &[]).await;
        if r.decision == DENY {
            assert_eq!(r.reason, "invalid_token", "{r:?}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still allowed after 1 s"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn an_introspection_client_the_idp_refuses_fails_closed() {
    let s = authz_stack(&[]).await;
    let product = opaque_product(&s).await;
    let (app, secret, _) = s
        .app_registered_for("dev-1", &s.base.strategy_id, &product, "opaque app")
        .await;
    let (introspector, _) = introspection_client(&s).await;
    set_introspection_client(&s, &introspector, "not-its-secret").await;
    let token = s.idp_token(&app.client_id, &secret, OPAQUE).await;
    let r = s
        .check(
            &product,
            &[("authorization", &format!("Bearer {token}"))],
            &[],
        )
        .await;
    assert_eq!(reason(&r), (DENY, 401, "invalid_token"), "{r:?}");
    assert!(r.www_authenticate.contains("introspection client"), "{r:?}");

    // Half a pair is refused, naming the missing field.
    let status = s
        .base
        .registry
        .providers()
        .update_provider(reg::UpdateProviderRequest {
            provider: Some(reg::Provider {
                id: s.base.provider_id.clone(),
                config: Some(reg::provider::Config::Rfc7591(reg::Rfc7591Config {
                    introspection_client_id: String::new(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["rfc7591.introspection_client_id".into()],
            }),
        })
        .await
        .expect_err("half a pair");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        dcr_testkit::registry::violations(&status),
        vec!["provider.rfc7591.introspection_client_id"]
    );
}
