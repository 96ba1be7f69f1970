//! Tracing setup from DCR_LOG (an EnvFilter directive, default "info") and
//! DCR_LOG_FORMAT ("pretty", the default, or "json"), plus OpenTelemetry trace export
//! when an OTLP endpoint is configured (see `otel`).

use std::ffi::OsString;
use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::{self, ConfigError};
use crate::otel::{self, OtelConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone)]
pub struct LogConfig {
    pub filter: String,
    pub format: LogFormat,
}

impl LogConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        let filter = config::optional("DCR_LOG").unwrap_or_else(|| "info".to_owned());
        EnvFilter::try_new(&filter).map_err(|e| ConfigError::new("DCR_LOG", e.to_string()))?;
        let format = match config::optional("DCR_LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::new(
                    "DCR_LOG_FORMAT",
                    format!("{other:?} is not json or pretty"),
                ));
            }
        };
        Ok(Self { filter, format })
    }
}

/// Colour codes are for a person at a terminal: in a file, a pipe or a log collector they
/// are noise around every level and field. NO_COLOR (https://no-color.org), when set and
/// not empty, turns them off on a terminal too.
fn colour(stderr_is_terminal: bool, no_color: Option<OsString>) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// What `init` set up; `shutdown` before exit so buffered spans are exported.
#[derive(Debug)]
#[must_use = "call shutdown before exiting, or buffered spans are lost"]
pub struct Telemetry {
    exporter: Option<otel::Exporter>,
}

impl Telemetry {
    pub async fn shutdown(self) {
        if let Some(exporter) = self.exporter {
            exporter.shutdown().await;
        }
    }
}

/// Installs the global subscriber, logs only. Call once.
pub fn init(config: &LogConfig) {
    // Cannot fail: only an exporter's setup can.
    let _ = start(config, None);
}

/// Installs the global subscriber, and trace export when `otel` says where to (see
/// `otel`; `OtelConfig::from_env` reads the standard variables). Call once, from main,
/// inside the Tokio runtime. Fails only when the exporter cannot be set up.
pub fn start(config: &LogConfig, otel: Option<&OtelConfig>) -> Result<Telemetry, ConfigError> {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = colour(
        std::io::stderr().is_terminal(),
        std::env::var_os("NO_COLOR"),
    );
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    let fmt = match config.format {
        LogFormat::Json => fmt
            .json()
            .event_format(CallFields::json(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            ))
            .boxed(),
        LogFormat::Pretty => fmt
            .event_format(CallFields::pretty(
                tracing_subscriber::fmt::format().with_ansi(ansi),
            ))
            .boxed(),
    };
    // None is a no-op layer: without an endpoint nothing is built and nothing runs.
    let (otel_layer, exporter) = match otel {
        Some(otel) => {
            let (layer, exporter) = otel::layer(otel)?;
            (Some(layer), Some(exporter))
        }
        None => (None, None),
    };
    let result = tracing_subscriber::registry()
        .with(otel_layer)
        .with(fmt)
        .with(filter)
        .try_init();
    if let Err(error) = result {
        eprintln!("tracing was already initialised: {error}");
    }
    Ok(Telemetry { exporter })
}

/// A log format with the served call's `request_id` and `method` (see `request_id`)
/// added to each line logged while serving it: after the line's own fields, or as two
/// more keys of the JSON object. Lines inside a `request` span (made when traces are
/// exported) already show them through the span.
#[derive(Debug, Clone)]
pub struct CallFields<F> {
    inner: F,
    json: bool,
}

impl<F> CallFields<F> {
    /// Around a text format.
    pub fn pretty(inner: F) -> Self {
        Self { inner, json: false }
    }

    /// Around a JSON format (one object per line).
    pub fn json(inner: F) -> Self {
        Self { inner, json: true }
    }
}

impl<S, N, F> FormatEvent<S, N> for CallFields<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let in_request_span = ctx
            .event_scope()
            .is_some_and(|mut scope| scope.any(|span| span.name() == crate::request_id::SPAN));
        let call = if in_request_span {
            None
        } else {
            crate::request_id::with_current(|id, method| (id.to_owned(), method.to_owned()))
        };
        let Some((id, method)) = call else {
            return self.inner.format_event(ctx, writer, event);
        };
        // Only lines logged during a call come here, so the copy is not on any hot path.
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        if self.json {
            let object = line.strip_suffix('}').unwrap_or(line);
            let text = |value: &str| serde_json::to_string(value).unwrap_or_default();
            writeln!(
                writer,
                "{object},\"request_id\":{},\"method\":{}}}",
                text(&id),
                text(&method)
            )
        } else if method.is_empty() {
            writeln!(writer, "{line} request_id={id}")
        } else {
            writeln!(writer, "{line} request_id={id} method={method}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::codegen::http;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(true, None));
        assert!(
            colour(true, Some(OsString::new())),
            "an empty NO_COLOR is unset"
        );
        assert!(!colour(true, Some("1".into())));
        assert!(!colour(false, None));
    }

    /// Where a test's subscriber writes.
    #[derive(Clone, Default)]
    struct Lines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if let Ok(mut lines) = self.0.lock() {
                lines.extend_from_slice(bytes);
            }
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `subscriber` logs while the request-id layer serves one call (with the
    /// caller's id `gw-7`) that logs a warning, and then outside any call.
    fn logged(
        subscriber: impl tracing::Subscriber + Send + Sync + 'static,
        lines: &Lines,
    ) -> String {
        use tower::{Layer as _, Service as _};
        let service = tower::service_fn(|_request: http::Request<()>| async {
            tracing::warn!(answer = 42, "inside the call");
            Ok::<_, std::convert::Infallible>(http::Response::new(()))
        });
        let mut served = crate::request_id::RequestIdLayer.layer(service);
        let request = http::Request::builder()
            .uri("/dcr.test.v1.Things/Get")
            .header(crate::request_id::HEADER, "gw-7")
            .body(())
            .unwrap_or_default();
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread().build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(served.call(request));
            }
            tracing::warn!("outside any call");
        });
        String::from_utf8_lossy(&lines.0.lock().map(|l| l.clone()).unwrap_or_default()).into_owned()
    }

    #[test]
    fn lines_logged_during_a_call_name_its_id_and_method() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .event_format(CallFields::pretty(
                tracing_subscriber::fmt::format().with_ansi(false),
            ))
            .finish();
        let logged = logged(subscriber, &lines);
        let inside = logged.lines().find(|l| l.contains("inside the call"));
        assert!(
            inside.is_some_and(|l| l.ends_with(
                "inside the call answer=42 request_id=gw-7 method=/dcr.test.v1.Things/Get"
            )),
            "{logged}"
        );
        let outside = logged.lines().find(|l| l.contains("outside any call"));
        assert!(
            outside.is_some_and(|l| !l.contains("request_id")),
            "{logged}"
        );
    }

    #[test]
    fn json_lines_get_the_id_and_method_as_keys() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .event_format(CallFields::json(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            ))
            .finish();
        let logged = logged(subscriber, &lines);
        let objects: Vec<serde_json::Value> = logged
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_default())
            .collect();
        let inside = objects.iter().find(|o| o["message"] == "inside the call");
        assert!(
            inside.is_some_and(|o| o["request_id"] == "gw-7"
                && o["method"] == "/dcr.test.v1.Things/Get"
                && o["answer"] == 42),
            "{logged}"
        );
        let outside = objects.iter().find(|o| o["message"] == "outside any call");
        assert!(
            outside.is_some_and(|o| o.get("request_id").is_none()),
            "{logged}"
        );
    }
}
