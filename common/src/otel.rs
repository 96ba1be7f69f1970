//! OpenTelemetry trace export, on only when an OTLP endpoint is configured:
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` (gRPC, e.g.
//! `http://127.0.0.1:4317`), `OTEL_SERVICE_NAME` (default: the binary's name),
//! `OTEL_EXPORTER_OTLP_PROTOCOL` (only `grpc`), `OTEL_SDK_DISABLED=true` to turn it off.
//! The exporter also honours the standard `OTEL_EXPORTER_OTLP_HEADERS`, `_TIMEOUT` and
//! `_COMPRESSION` variables. Spans go out in batches from the SDK's own thread.
//!
//! W3C trace context (`traceparent`) is taken from callers' gRPC metadata and put on dcr's
//! internal calls, so one gateway check is one trace across the services. With export off,
//! none of this runs: the checks below are one relaxed atomic load.

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tonic::codegen::http;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::Layer as _;

use crate::config::ConfigError;

pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
pub const TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
pub const PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
pub const TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
pub const SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
pub const SDK_DISABLED: &str = "OTEL_SDK_DISABLED";

/// Set once an exporter is installed; gates propagation so a service without one pays
/// nothing for it.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Where and as whom spans are exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtelConfig {
    /// The collector's OTLP/gRPC endpoint.
    pub endpoint: String,
    pub service_name: String,
}

impl OtelConfig {
    /// From the process environment; None when no endpoint is set (export off).
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(crate::config::optional)
    }

    /// From `get` (a variable's non-empty value), so tests need not touch the
    /// process environment.
    pub fn from_lookup(
        get: impl Fn(&'static str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        match get(SDK_DISABLED).map(|v| v.to_ascii_lowercase()).as_deref() {
            Some("true") => return Ok(None),
            None | Some("false") => {}
            Some(other) => {
                return Err(ConfigError::new(
                    SDK_DISABLED,
                    format!("{other:?} is not true or false"),
                ));
            }
        }
        let Some((var, endpoint)) = [TRACES_ENDPOINT, ENDPOINT]
            .into_iter()
            .find_map(|var| get(var).map(|value| (var, value)))
        else {
            return Ok(None);
        };
        for var in [TRACES_PROTOCOL, PROTOCOL] {
            match get(var).as_deref() {
                None | Some("grpc") => {}
                Some(other) => {
                    return Err(ConfigError::new(
                        var,
                        format!(
                            "{other:?} is not supported: dcr exports traces over OTLP/gRPC (grpc)"
                        ),
                    ));
                }
            }
        }
        let service_name = get(SERVICE_NAME).unwrap_or_else(binary_name);
        Ok(Some(Self {
            endpoint: check_endpoint(var, &endpoint)?,
            service_name,
        }))
    }
}

/// An http(s) URL with a host, as the exporter's gRPC channel takes it.
fn check_endpoint(var: &'static str, endpoint: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| {
        ConfigError::new(
            var,
            format!("{endpoint:?} {why}; expected an OTLP/gRPC URL such as http://127.0.0.1:4317"),
        )
    };
    let url = url::Url::parse(endpoint).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("is not http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("names no host"));
    }
    tonic::transport::Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| bad(&format!("is not usable ({e})")))?;
    Ok(endpoint.to_owned())
}

/// The running binary's file name (`authz-svc`, ...), the default service name.
fn binary_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "dcr".to_owned())
}

/// The installed exporter; `shutdown` exports what is still buffered.
#[derive(Debug)]
pub struct Exporter(SdkTracerProvider);

impl Exporter {
    /// Flushes buffered spans and stops the export thread. The SDK blocks while it
    /// exports, and its gRPC channel runs on this runtime, so it waits on a blocking
    /// thread (which needs a multi-threaded runtime, as the services' mains have).
    pub async fn shutdown(self) {
        ENABLED.store(false, Ordering::Relaxed);
        let provider = self.0;
        let done = tokio::task::spawn_blocking(move || provider.shutdown()).await;
        match done {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("OpenTelemetry: spans may be lost at shutdown: {error}"),
            Err(error) => eprintln!("OpenTelemetry: shutdown failed: {error}"),
        }
    }
}

/// A tracing layer that sends spans (with their fields as attributes, and their events)
/// to the collector, and the exporter behind it. Needs a Tokio runtime (the gRPC channel
/// lives on it).
pub fn layer<S>(
    config: &OtelConfig,
) -> Result<
    (
        impl tracing_subscriber::Layer<S> + Send + Sync + 'static,
        Exporter,
    ),
    ConfigError,
>
where
    S: tracing::Subscriber
        + for<'span> tracing_subscriber::registry::LookupSpan<'span>
        + Send
        + Sync,
{
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(config.endpoint.clone())
        .build()
        .map_err(|e| ConfigError::new(ENDPOINT, format!("cannot set up the exporter: {e}")))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(config.service_name.clone())
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("dcr");
    ENABLED.store(true, Ordering::Relaxed);
    // The SDK's and the gRPC stack's own events would otherwise be exported too, some
    // while exporting: a feedback loop.
    let own = tracing_subscriber::filter::filter_fn(|meta| {
        let target = meta.target();
        !["opentelemetry", "h2", "hyper", "tonic", "tower"]
            .iter()
            .any(|prefix| target.starts_with(prefix))
    });
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        // Busy/idle times cost a clock read on every enter and exit; spans have durations.
        .with_tracked_inactivity(false)
        .with_filter(own);
    Ok((layer, Exporter(provider)))
}

/// True while spans are exported.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct Metadata<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for Metadata<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            value.parse(),
        ) {
            self.0.insert(key, value);
        }
    }
}

/// Makes `span` (a served call's, not yet entered) a child of the caller's span when the
/// caller sent W3C trace context.
pub fn adopt_caller_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    if !enabled() {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    use opentelemetry::trace::TraceContextExt as _;
    if parent.span().span_context().is_valid() {
        // Only fails without the OpenTelemetry layer, i.e. with export off.
        let _ = span.set_parent(parent);
    }
}

/// Puts the current span's trace context on an outgoing call.
pub fn inject_current(metadata: &mut tonic::metadata::MetadataMap) {
    if !enabled() {
        return;
    }
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut Metadata(metadata));
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn config(vars: &[(&'static str, &str)]) -> Result<Option<OtelConfig>, ConfigError> {
        OtelConfig::from_lookup(|name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn off_unless_an_endpoint_is_set() {
        assert_eq!(
            config(&[(SERVICE_NAME, "x"), (PROTOCOL, "grpc")]).unwrap(),
            None
        );
        let disabled = config(&[(ENDPOINT, "http://127.0.0.1:4317"), (SDK_DISABLED, "true")]);
        assert_eq!(disabled.unwrap(), None);
    }

    #[test]
    fn the_traces_endpoint_wins_and_the_service_name_is_kept() {
        let found = config(&[
            (ENDPOINT, "http://general:4317"),
            (TRACES_ENDPOINT, "https://traces.example.com:4317"),
            (SERVICE_NAME, "authz-east"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(found.endpoint, "https://traces.example.com:4317");
        assert_eq!(found.service_name, "authz-east");
        let defaulted = config(&[(ENDPOINT, "http://127.0.0.1:4317")])
            .unwrap()
            .unwrap();
        assert!(!defaulted.service_name.is_empty());
    }

    #[test]
    fn a_bad_endpoint_or_protocol_names_its_variable() {
        for bad in [
            "127.0.0.1:4317",
            "ftp://collector:21",
            "http://",
            "not a url",
        ] {
            let error = config(&[(ENDPOINT, bad)]).unwrap_err();
            assert_eq!(error.var, ENDPOINT, "{bad}");
        }
        let error = config(&[(TRACES_ENDPOINT, "nope")]).unwrap_err();
        assert_eq!(error.var, TRACES_ENDPOINT);
        let error =
            config(&[(ENDPOINT, "http://c:4318"), (PROTOCOL, "http/protobuf")]).unwrap_err();
        assert_eq!(error.var, PROTOCOL);
    }
}
