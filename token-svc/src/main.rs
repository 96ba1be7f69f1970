//! token-svc: configuration from the environment (see docs/configuration.md), then `run`;
//! `token-svc health` exits 0 when the running service reports SERVING.

/// mimalloc: glibc malloc's arena locks cost the hot paths about a fifth of their CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use dcr_common::otel::OtelConfig;
use dcr_common::telemetry::{self, LogConfig};
use token_svc::TokenConfig;

#[tokio::main]
async fn main() -> ExitCode {
    // `token-svc health`: exit 0 when the running service reports SERVING.
    if std::env::args().nth(1).as_deref() == Some("health") {
        return dcr_common::server::health_command("DCR_TOKEN_LISTEN", "0.0.0.0:50052").await;
    }
    let started = LogConfig::from_env()
        .and_then(|log| Ok((log, OtelConfig::from_env()?, TokenConfig::from_env()?)))
        .and_then(|(log, otel, config)| Ok((telemetry::start(&log, otel.as_ref())?, config)));
    let (telemetry, config) = match started {
        Ok(started) => started,
        Err(error) => {
            eprintln!("token-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let result = token_svc::run(config).await;
    // After the drain that SIGTERM starts: export the spans still buffered.
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("token-svc: {error:#}");
            ExitCode::FAILURE
        }
    }
}
