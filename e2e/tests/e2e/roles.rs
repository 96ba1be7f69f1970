//! Who may call what: every method of every service, found through the service's own
//! reflection (so a new method cannot slip in unclassified), called with no token, a
//! garbage token and each role's token. A role the method allows gets past
//! authentication; no token or a garbage one gets UNAUTHENTICATED; another role's token
//! gets PERMISSION_DENIED. No answer of any method to any caller carries a provider's
//! management secret.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::authz_stack;
use dcr_testkit::load::RawCodec;
use dcr_testkit::registry::{ADMIN_TOKEN, GATEWAY_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN};
use futures::StreamExt as _;
use prost::Message as _;
use prost_types::FileDescriptorProto;
use tonic::Code;
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

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
        | ("envoy.service.auth.v3.Authorization", "Check") => Access::Only(Caller::Gateway),
        _ => return None,
    })
}

/// Services whose descriptors are not in dcr's reflection data (Envoy's protos come
/// from the envoy-types crate): their methods, by name.
fn external_methods(service: &str) -> Option<Vec<Method>> {
    (service == "envoy.service.auth.v3.Authorization").then(|| {
        vec![Method {
            name: "Check".into(),
            streaming: false,
            input: None,
        }]
    })
}

#[derive(Debug, Clone)]
struct Method {
    name: String,
    streaming: bool,
    /// The request message, to fill its id fields; None when unknown.
    input: Option<prost_types::DescriptorProto>,
}

async fn reflect(channel: &Channel, request: MessageRequest) -> MessageResponse {
    let mut client = ServerReflectionClient::new(channel.clone());
    let message = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    };
    let mut answers = client
        .server_reflection_info(tokio_stream::iter([message]))
        .await
        .expect("reflection")
        .into_inner();
    answers
        .next()
        .await
        .expect("a reflection answer")
        .expect("reflection answer")
        .message_response
        .expect("a reflection response")
}

/// Every method each service on `channel` advertises, by service name.
async fn methods(channel: &Channel) -> BTreeMap<String, Vec<Method>> {
    let MessageResponse::ListServicesResponse(list) =
        reflect(channel, MessageRequest::ListServices(String::new())).await
    else {
        panic!("ListServices answered something else")
    };
    let mut all = BTreeMap::new();
    for service in list.service.into_iter().map(|s| s.name) {
        if let Some(methods) = external_methods(&service) {
            all.insert(service, methods);
            continue;
        }
        let answer = reflect(
            channel,
            MessageRequest::FileContainingSymbol(service.clone()),
        )
        .await;
        let MessageResponse::FileDescriptorResponse(files) = answer else {
            panic!("no descriptor for {service}: {answer:?}")
        };
        let files: Vec<FileDescriptorProto> = files
            .file_descriptor_proto
            .iter()
            .map(|bytes| FileDescriptorProto::decode(bytes.as_slice()).expect("descriptor"))
            .collect();
        let (package, name) = service.rsplit_once('.').expect("qualified name");
        let file = files
            .iter()
            .find(|f| f.package() == package && f.service.iter().any(|s| s.name() == name))
            .unwrap_or_else(|| panic!("{service} is in none of its files"));
        let descriptor = file.service.iter().find(|s| s.name() == name).unwrap();
        let found = descriptor
            .method
            .iter()
            .map(|m| Method {
                name: m.name().to_owned(),
                streaming: m.client_streaming() || m.server_streaming(),
                input: message_type(&files, m.input_type()),
            })
            .collect();
        all.insert(service, found);
    }
    all
}

/// `.pkg.Message` among `files`.
fn message_type(files: &[FileDescriptorProto], full: &str) -> Option<prost_types::DescriptorProto> {
    let (package, name) = full.trim_start_matches('.').rsplit_once('.')?;
    files
        .iter()
        .filter(|f| f.package() == package)
        .flat_map(|f| f.message_type.iter())
        .find(|m| m.name() == name)
        .cloned()
}

/// A request whose top-level string fields named `id` or `*_id` hold `id` (the seeded
/// provider), so Get, Verify and the like reach it; everything else is empty.
fn request_body(method: &Method, id: &str) -> Bytes {
    let mut body = BytesMut::new();
    for field in method.input.iter().flat_map(|m| m.field.iter()) {
        let is_string = field.r#type() == prost_types::field_descriptor_proto::Type::String;
        let is_id = field.name() == "id" || field.name().ends_with("_id");
        if is_string
            && is_id
            && field.label() != prost_types::field_descriptor_proto::Label::Repeated
        {
            let tag = u32::try_from(field.number()).unwrap();
            prost::encoding::string::encode(tag, &id.to_owned(), &mut body);
        }
    }
    body.freeze()
}

/// The call's status code (Ok when it got past everything) and every byte it answered.
async fn call(
    channel: &Channel,
    path: &str,
    method: &Method,
    caller: Caller,
    body: Bytes,
) -> (Code, Vec<u8>) {
    let mut request = tonic::Request::new(tokio_stream::iter([body]));
    let token = match caller {
        Caller::None => None,
        Caller::Garbage => Some("garbage-token-0123456789abcdef"),
        Caller::Admin => Some(ADMIN_TOKEN),
        Caller::Portal => Some(PORTAL_TOKEN),
        Caller::Gateway => Some(GATEWAY_TOKEN),
        Caller::Service => Some(SERVICE_TOKEN),
    };
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    // Portal calls name a developer; on other methods the header is ignored.
    request
        .metadata_mut()
        .insert("x-dcr-developer-id", "dev-roles".parse().unwrap());
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let path = path.parse::<PathAndQuery>().unwrap();
    let answer = grpc.streaming(request, path, RawCodec).await;
    let mut stream = match answer {
        Err(status) => return (status.code(), status.message().as_bytes().to_vec()),
        Ok(response) => response.into_inner(),
    };
    let mut bytes = Vec::new();
    // Streams (WatchChanges, health Watch) stay open: their first answers are enough.
    let wait = if method.streaming {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(30)
    };
    loop {
        match tokio::time::timeout(wait, stream.message()).await {
            Err(_) => return (Code::Ok, bytes),
            Ok(Ok(Some(message))) => bytes.extend_from_slice(&message),
            Ok(Ok(None)) => return (Code::Ok, bytes),
            Ok(Err(status)) => {
                bytes.extend_from_slice(status.message().as_bytes());
                return (status.code(), bytes);
            }
        }
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
        for (service, methods) in methods(channel).await {
            for method in methods {
                let path = format!("/{service}/{}", method.name);
                let Some(access) = access(&service, &method.name) else {
                    unclassified.push(format!("{server} {path}"));
                    continue;
                };
                let body = request_body(&method, &okta.id);
                let mut answers = Vec::new();
                for caller in CALLERS {
                    let (code, bytes) = call(channel, &path, &method, caller, body.clone()).await;
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
    // registry 7 services, token 3 methods, authz 2, plus health and reflection on each.
    assert!(checked >= 40, "only {checked} methods were checked");
}
