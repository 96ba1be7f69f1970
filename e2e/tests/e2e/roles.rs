//! Who may call what: every method of every service, found through the service's own
//! reflection (so a new method cannot slip in unclassified), called with no token, a
//! garbage token and each role's token. A role the method allows gets past
//! authentication; no token or a garbage one gets UNAUTHENTICATED; another role's token
//! gets PERMISSION_DENIED. No answer of any method to any caller carries a provider's
//! management secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::authz_stack;
use dcr_testkit::reflection::{Method, call, methods, request_body};
use dcr_testkit::registry::{ADMIN_TOKEN, GATEWAY_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN};
use tonic::Code;

/// The management secret of a provider seeded for this test: no answer may carry it.
const OKTA_ADMIN_SECRET: &str = "okta-api-token-that-must-never-leave-0123";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    None,
    Garbage,
    Admin,
    Portal,
    Gateway,
    Service,
}

const CALLERS: [Caller; 6] = [
    Caller::None,
    Caller::Garbage,
    Caller::Admin,
    Caller::Portal,
    Caller::Gateway,
    Caller::Service,
];

/// Who a method lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Everyone, with or without a token (health, reflection).
    Open,
    /// Authenticated by what the request itself carries (IssueToken's client
    /// credentials): caller tokens change nothing.
    ByRequest,
    /// Only this role's token.
    Only(Caller),
    /// Any role's token (who am I), none and garbage refused.
    AnyToken,
}

/// The access of every method dcr serves. A method missing here fails the test.
fn access(service: &str, method: &str) -> Option<Access> {
    Some(match (service, method) {
        ("grpc.health.v1.Health", _)
        | ("grpc.reflection.v1.ServerReflection", _)
        | ("grpc.reflection.v1alpha.ServerReflection", _) => Access::Open,
        ("dcr.registry.v1.ProviderService", _)
        | ("dcr.registry.v1.StrategyService", _)
        | ("dcr.registry.v1.ProductService", _)
        | ("dcr.registry.v1.AuditService", _) => Access::Only(Caller::Admin),
        ("dcr.registry.v1.ApplicationService", _) => Access::Only(Caller::Portal),
        ("dcr.registry.v1.DirectoryService", _) => Access::Only(Caller::Service),
        ("dcr.registry.v1.IdentityService", "WhoAmI") => Access::AnyToken,
        ("dcr.token.v1.TokenService", "IssueToken") => Access::ByRequest,
        ("dcr.token.v1.TokenService", "GetIssuerKeys" | "IntrospectToken") => {
            Access::Only(Caller::Service)
        }
        ("dcr.authz.v1.AuthzService", "Check")
        | ("envoy.service.auth.v3.Authorization", "Check")
        | ("envoy.service.extension.v3.ExtensionConfigDiscoveryService", _) => {
            Access::Only(Caller::Gateway)
        }
        _ => return None,
    })
}

/// Services whose descriptors are not in dcr's reflection data (Envoy's protos come
/// from the envoy-types crate): their methods, by name.
fn external_methods(service: &str) -> Option<Vec<Method>> {
    let method = |name: &str, streaming: bool| Method {
        name: name.into(),
        streaming,
        input: None,
    };
    match service {
        "envoy.service.auth.v3.Authorization" => Some(vec![method("Check", false)]),
        // The Envoy fast path's config (ECDS).
        "envoy.service.extension.v3.ExtensionConfigDiscoveryService" => Some(vec![
            method("StreamExtensionConfigs", true),
            method("DeltaExtensionConfigs", true),
            method("FetchExtensionConfigs", false),
        ]),
        _ => None,
    }
}

/// The token a caller presents.
fn token(caller: Caller) -> Option<&'static str> {
    match caller {
        Caller::None => None,
        Caller::Garbage => Some("garbage-token-0123456789abcdef"),
        Caller::Admin => Some(ADMIN_TOKEN),
        Caller::Portal => Some(PORTAL_TOKEN),
        Caller::Gateway => Some(GATEWAY_TOKEN),
        Caller::Service => Some(SERVICE_TOKEN),
    }
}

#[tokio::test]
async fn every_method_answers_each_caller_role_as_its_role_allows() {
    let s = authz_stack(&[]).await;
    // A provider with a management secret, whose id every id field of every request
    // carries. Its issuer answers nothing (VerifyProvider fails fast).
    let okta = s
        .base
        .registry
        .providers()
        .create_provider(reg::CreateProviderRequest {
            provider: Some(reg::Provider {
                name: "okta-roles".into(),
                issuer: "http://127.0.0.1:9/oauth2/default".into(),
                active: true,
                config: Some(reg::provider::Config::Okta(reg::OktaConfig {
                    dcr_token: OKTA_ADMIN_SECRET.into(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
        })
        .await
        .expect("create okta provider")
        .into_inner();

    let token_channel = s.base.grpc.clone();
    let endpoints = [
        ("registry-svc", s.base.registry.channel.clone()),
        ("token-svc", token_channel),
        ("authz-svc", s.channel.clone()),
    ];
    let mut checked = 0;
    let mut unclassified = Vec::new();
    let mut wrong = Vec::new();
    for (server, channel) in &endpoints {
        for (service, methods) in methods(channel, external_methods).await {
            for method in methods {
                let path = format!("/{service}/{}", method.name);
                let Some(access) = access(&service, &method.name) else {
                    unclassified.push(format!("{server} {path}"));
                    continue;
                };
                let body = request_body(&method, &okta.id);
                let mut answers = Vec::new();
                for caller in CALLERS {
                    // Portal calls name a developer; other methods ignore the header.
                    let (code, bytes) = call(
                        channel,
                        &path,
                        &method,
                        token(caller),
                        "dev-roles",
                        body.clone(),
                    )
                    .await;
                    let text = String::from_utf8_lossy(&bytes);
                    assert!(
                        !text.contains(OKTA_ADMIN_SECRET),
                        "{server} {path} answered {caller:?} with the provider's management secret"
                    );
                    answers.push((caller, code));
                }
                checked += 1;
                for &(caller, code) in &answers {
                    let expected_refusal = match (access, caller) {
                        (Access::Open | Access::ByRequest, _) => None,
                        (Access::Only(allowed), c) if c == allowed => None,
                        (_, Caller::None | Caller::Garbage) => Some(Code::Unauthenticated),
                        (Access::AnyToken, _) => None,
                        (Access::Only(_), _) => Some(Code::PermissionDenied),
                    };
                    let ok = match expected_refusal {
                        Some(refusal) => code == refusal,
                        None => !matches!(code, Code::Unauthenticated | Code::PermissionDenied),
                    };
                    // IssueToken's refusal of an empty request comes from the request
                    // itself: the same answer whatever token comes with it.
                    let ok = ok || (access == Access::ByRequest && code == answers[0].1);
                    if !ok {
                        wrong.push(format!(
                            "{server} {path}: {caller:?} got {code:?}, expected {}",
                            expected_refusal
                                .map_or("to get through".to_owned(), |c| format!("{c:?}"))
                        ));
                    }
                }
                if access == Access::ByRequest {
                    let codes: Vec<_> = answers.iter().map(|(_, c)| *c).collect();
                    assert!(
                        codes.iter().all(|c| *c == codes[0]),
                        "{server} {path} answers by the request alone: {answers:?}"
                    );
                }
            }
        }
    }
    assert!(
        unclassified.is_empty(),
        "methods with no expected access in this test (classify them): {unclassified:#?}"
    );
    assert!(wrong.is_empty(), "wrong answers: {wrong:#?}");
    // registry 7 services, token 3 methods, authz 5, plus health and reflection on each.
    assert!(checked >= 43, "only {checked} methods were checked");
}
