//! Tracing setup from DCR_LOG (an EnvFilter directive, default "info") and
//! DCR_LOG_FORMAT ("pretty", the default, or "json").

use tracing_subscriber::EnvFilter;

use crate::config::{self, ConfigError};

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

/// Installs the global subscriber. Call once, from main.
pub fn init(config: &LogConfig) {
    let filter = EnvFilter::try_new(&config.filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    if let Err(error) = result {
        eprintln!("tracing was already initialised: {error}");
    }
}
