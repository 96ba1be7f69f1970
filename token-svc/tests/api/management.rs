//! GetManagementToken: a vendor provider's management client gets its token through
//! token-svc (here a curity-type provider whose IdP is the oidc-provider peer).

use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1 as pb;
use dcr_testkit::peers::INITIAL_ACCESS_TOKEN;
use tonic::Code;

use crate::harness::stack;

#[tokio::test]
async fn management_tokens_use_the_providers_management_client() {
    let s = stack(&["--extra-scopes", "dcr"]).await;
    // The management client, registered at the IdP out of band (as an admin would).
    let client: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/reg", s.idp.base_url))
        .bearer_auth(INITIAL_ACCESS_TOKEN)
        .json(&serde_json::json!({
            "grant_types": ["client_credentials"], "response_types": [],
            "token_endpoint_auth_method": "client_secret_basic", "scope": "dcr"
        }))
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let provider = s
        .registry
        .providers()
        .create_provider(reg::CreateProviderRequest {
            provider: Some(reg::Provider {
                name: "curity".into(),
                issuer: s.idp.base_url.clone(),
                active: true,
                config: Some(reg::provider::Config::Curity(reg::CurityConfig {
                    initial_client_id: client["client_id"].as_str().expect("id").into(),
                    initial_client_secret: client["client_secret"].as_str().expect("secret").into(),
                })),
                ..Default::default()
            }),
        })
        .await
        .expect("provider")
        .into_inner();
    // The provider's creation bumps its generation in token-svc when the change arrives;
    // wait for it, so the cache assertion below is not racing the stream.
    s.caught_up().await;

    let request = || pb::GetManagementTokenRequest {
        provider_id: provider.id.clone(),
    };
    let refused = s
        .tokens()
        .get_management_token(request())
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::Unauthenticated,
        "internal callers only"
    );
    let before = s.token_requests().await;
    let token = s
        .internal()
        .get_management_token(request())
        .await
        .expect("token")
        .into_inner();
    assert_eq!(token.token_type, "Bearer");
    assert!(token.expires_in > 0);
    let again = s
        .internal()
        .get_management_token(request())
        .await
        .expect("token")
        .into_inner();
    assert_eq!(again.access_token, token.access_token);
    assert_eq!(s.token_requests().await - before, 1, "cached");

    // rfc7591 providers have no management client.
    let none = s
        .internal()
        .get_management_token(pb::GetManagementTokenRequest {
            provider_id: s.provider_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::FailedPrecondition);
}
