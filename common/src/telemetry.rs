//! Tracing setup from DCR_LOG (an EnvFilter directive, default "info") and
//! DCR_LOG_FORMAT ("pretty", the default, or "json"), plus OpenTelemetry trace export
//! when an OTLP endpoint is configured (see `otel`).

use std::ffi::OsString;
use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt as _;
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
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR"),
        ));
    let fmt = match config.format {
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Pretty => fmt.boxed(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
