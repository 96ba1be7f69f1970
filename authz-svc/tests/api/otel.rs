//! OpenTelemetry export: with an endpoint, one Check is one trace across authz-svc,
//! token-svc and registry-svc, in a collector stand-in (testkit::otlp), carrying the request
//! id and no secret; without one, nothing is exported.
//!
//! The tracer provider and the subscriber are process-global: each test sets them up
//! once, before the stack starts (nextest runs every test in its own process), and the
//! runtime is multi-threaded because the exporter flushes from a blocking thread.

use base64::Engine as _;
use dcr_common::otel::{self, OtelConfig};
use dcr_common::telemetry::{self, LogConfig, LogFormat, Telemetry};
use dcr_proto::authz::v1 as pb;
use dcr_testkit::authz::authz_stack;
use dcr_testkit::otlp;

const AUDIENCE: &str = "https://api.example.com";
const CALLER_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

fn tracing_with(otel: Option<OtelConfig>) -> Telemetry {
    let log = LogConfig {
        filter: "info".into(),
        format: LogFormat::Pretty,
    };
    telemetry::start(&log, otel.as_ref()).expect("telemetry")
}

/// A Check with the gateway's request id and trace context.
async fn traced_check(
    s: &dcr_testkit::authz::AuthzStack,
    authorization: &str,
    request_id: &str,
) -> pb::CheckResponse {
    let mut request = tonic::Request::new(pb::CheckRequest {
        product_id: s.base.product_id.clone(),
        headers: [("authorization".to_owned(), authorization.to_owned())].into(),
        required_scopes: Vec::new(),
        source_address: String::new(),
    });
    request
        .metadata_mut()
        .insert("x-request-id", request_id.parse().expect("ascii"));
    let traceparent = format!("00-{CALLER_TRACE}-{CALLER_SPAN}-01");
    request
        .metadata_mut()
        .insert("traceparent", traceparent.parse().expect("ascii"));
    s.authz().check(request).await.expect("check").into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_is_one_trace_across_the_services_and_exports_no_secret() {
    let receiver = otlp::start().await;
    let telemetry = tracing_with(Some(OtelConfig {
        endpoint: receiver.endpoint.clone(),
        service_name: "dcr-under-test".into(),
    }));
    let s = authz_stack(&[]).await;
    let (_, client_id, secret) = s.registered_app("dev-1", "traced").await;

    // Basic credentials: authz-svc asks token-svc, which asks the registry and the IdP.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{client_id}:{secret}"))
    );
    let allowed = traced_check(&s, &basic, "otel-basic-1").await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");
    // And a bearer token straight from the IdP.
    let token = s.idp_token(&client_id, &secret, AUDIENCE).await;
    let allowed = traced_check(&s, &format!("Bearer {token}"), "otel-bearer-1").await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");

    // Shutting down flushes the batch: everything is at the receiver afterwards.
    telemetry.shutdown().await;
    let spans = receiver.spans();
    assert!(receiver.calls() > 0);

    let check = spans
        .iter()
        .find(|s| {
            s.attribute("request_id") == Some("otel-basic-1")
                && s.attribute("method") == Some("/dcr.authz.v1.AuthzService/Check")
        })
        .unwrap_or_else(|| panic!("authz-svc exported no Check span with the id: {spans:#?}"));
    assert_eq!(check.service_name, "dcr-under-test");
    assert_eq!(check.name, "dcr.authz.v1.AuthzService/Check");
    // The caller's trace context was accepted: the Check continues the gateway's trace.
    assert_eq!(check.trace_id, CALLER_TRACE);
    assert_eq!(check.parent_span_id, CALLER_SPAN);

    // Its internal calls: spans served by the registry and token-svc, same trace and id.
    let served_in_trace = |method: &str| {
        spans.iter().any(|s| {
            s.trace_id == CALLER_TRACE
                && s.attribute("request_id") == Some("otel-basic-1")
                && s.attribute("method").is_some_and(|m| m.starts_with(method))
                && !s.parent_span_id.is_empty()
        })
    };
    assert!(
        served_in_trace("/dcr.registry.v1.DirectoryService/"),
        "registry-svc's lookups are in the Check's trace: {spans:#?}"
    );
    assert!(
        served_in_trace("/dcr.token.v1.TokenService/IssueToken"),
        "token-svc's IssueToken is in the Check's trace: {spans:#?}"
    );

    // No secret reaches the collector: not the client secret, the Basic header, the token.
    let encoded_basic = basic.trim_start_matches("Basic ");
    for request in receiver.raw() {
        let text = String::from_utf8_lossy(&request);
        for secret_text in [secret.as_str(), encoded_basic, token.as_str()] {
            assert!(
                !text.contains(secret_text),
                "a secret was exported: {secret_text}"
            );
        }
    }
    assert!(
        !otel::enabled(),
        "after shutdown the services stop propagating trace context"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_endpoint_nothing_is_exported() {
    // A receiver where an exporter with the OTLP defaults would send (localhost:4317).
    let receiver = otlp::start_on("127.0.0.1:4317".parse().expect("addr")).await;
    let config = OtelConfig::from_lookup(|var| {
        // Everything but an endpoint.
        (var == otel::SERVICE_NAME || var == otel::PROTOCOL).then(|| match var {
            otel::SERVICE_NAME => "dcr-under-test".to_owned(),
            _ => "grpc".to_owned(),
        })
    })
    .expect("valid");
    assert_eq!(config, None);
    let telemetry = tracing_with(config);
    assert!(!otel::enabled());

    let s = authz_stack(&[]).await;
    let (_, client_id, secret) = s.registered_app("dev-1", "untraced").await;
    let token = s.idp_token(&client_id, &secret, AUDIENCE).await;
    let allowed = traced_check(&s, &format!("Bearer {token}"), "no-otel-1").await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");

    telemetry.shutdown().await;
    assert_eq!(receiver.calls(), 0, "{:?}", receiver.spans());
}
