//! An OTLP/gRPC trace receiver standing in for an OpenTelemetry Collector: it serves
//! `opentelemetry.proto.collector.trace.v1.TraceService/Export` as the OTLP spec says (a
//! full success answers an empty `ExportTraceServiceResponse`) and keeps every request.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message as _;

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<ExportTraceServiceRequest>>>);

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.lock().expect("lock").push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

/// One exported span, flattened: its resource's service name and its attributes as text.
#[derive(Debug, Clone)]
pub struct SpanRecord {
    pub service_name: String,
    pub name: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a root span.
    pub parent_span_id: String,
    pub attributes: HashMap<String, String>,
}

impl SpanRecord {
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>`: what OTEL_EXPORTER_OTLP_ENDPOINT would say.
    pub endpoint: String,
    received: Received,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A receiver on 127.0.0.1 at an ephemeral port.
pub async fn start() -> Receiver {
    start_on("127.0.0.1:0".parse().expect("addr")).await
}

/// A receiver on `addr` (e.g. the OTLP default 127.0.0.1:4317); stops when dropped.
pub async fn start_on(addr: SocketAddr) -> Receiver {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .unwrap_or_else(|e| panic!("the OTLP receiver cannot listen on {addr}: {e}"));
    let addr = listener.local_addr().expect("addr");
    let received = Received::default();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let service = TraceServiceServer::new(received.clone());
    tokio::spawn(async move {
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let _ = tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            })
            .await;
    });
    Receiver {
        endpoint: format!("http://{addr}"),
        received,
        _stop: stop,
    }
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attributes(list: &[KeyValue]) -> HashMap<String, String> {
    list.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Receiver {
    /// How many Export calls arrived.
    pub fn calls(&self) -> usize {
        self.received.0.lock().expect("lock").len()
    }

    /// Every Export request as it came over the wire (protobuf), to search for what must
    /// never be exported.
    pub fn raw(&self) -> Vec<Vec<u8>> {
        let requests = self.received.0.lock().expect("lock");
        requests.iter().map(|r| r.encode_to_vec()).collect()
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<SpanRecord> {
        let requests = self.received.0.lock().expect("lock");
        let mut spans = Vec::new();
        for resource_spans in requests.iter().flat_map(|r| &r.resource_spans) {
            let resource = resource_spans
                .resource
                .as_ref()
                .map(|r| attributes(&r.attributes))
                .unwrap_or_default();
            let service_name = resource.get("service.name").cloned().unwrap_or_default();
            for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
                spans.push(SpanRecord {
                    service_name: service_name.clone(),
                    name: span.name.clone(),
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: hex(&span.parent_span_id),
                    attributes: attributes(&span.attributes),
                });
            }
        }
        spans
    }
}
