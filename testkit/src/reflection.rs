//! Every method a dcr server advertises, found through its own reflection service, and
//! a raw call of any of them: the role tests call each method with each caller, so a new
//! method cannot slip in unclassified.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
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

use crate::load::RawCodec;

#[derive(Debug, Clone)]
pub struct Method {
    pub name: String,
    pub streaming: bool,
    /// The request message, to fill its id fields; None when unknown.
    pub input: Option<prost_types::DescriptorProto>,
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

/// Every method each service on `channel` advertises, by service name. `external`
/// names the methods of services whose descriptors are not in the reflection data.
pub async fn methods(
    channel: &Channel,
    external: impl Fn(&str) -> Option<Vec<Method>>,
) -> BTreeMap<String, Vec<Method>> {
    let MessageResponse::ListServicesResponse(list) =
        reflect(channel, MessageRequest::ListServices(String::new())).await
    else {
        panic!("ListServices answered something else")
    };
    let mut all = BTreeMap::new();
    for service in list.service.into_iter().map(|s| s.name) {
        if let Some(methods) = external(&service) {
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
        let descriptor = file
            .service
            .iter()
            .find(|s| s.name() == name)
            .expect("the service");
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
pub fn request_body(method: &Method, id: &str) -> Bytes {
    let mut body = BytesMut::new();
    for field in method.input.iter().flat_map(|m| m.field.iter()) {
        let is_string = field.r#type() == prost_types::field_descriptor_proto::Type::String;
        let is_id = field.name() == "id" || field.name().ends_with("_id");
        if is_string
            && is_id
            && field.label() != prost_types::field_descriptor_proto::Label::Repeated
        {
            let tag = u32::try_from(field.number()).expect("a field number");
            prost::encoding::string::encode(tag, &id.to_owned(), &mut body);
        }
    }
    body.freeze()
}

/// The call's status code (Ok when it got past everything) and every byte it answered,
/// made with `token` as the bearer (if any) and `developer` in `x-dcr-developer-id`.
pub async fn call(
    channel: &Channel,
    path: &str,
    method: &Method,
    token: Option<&str>,
    developer: &str,
    body: Bytes,
) -> (Code, Vec<u8>) {
    let mut request = tonic::Request::new(tokio_stream::iter([body]));
    if let Some(token) = token {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("token header"),
        );
    }
    request.metadata_mut().insert(
        "x-dcr-developer-id",
        developer.parse().expect("developer header"),
    );
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready().await.expect("channel ready");
    let path = path.parse::<PathAndQuery>().expect("path");
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
