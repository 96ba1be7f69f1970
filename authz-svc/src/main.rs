//! authz-svc: configuration from the environment (see docs/configuration.md), then `run`;
//! `authz-svc health` exits 0 when the running service reports SERVING.

/// mimalloc: glibc malloc's arena locks cost the hot paths about a fifth of their CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use authz_svc::AuthzConfig;
use dcr_common::otel::OtelConfig;
use dcr_common::telemetry::{self, LogConfig};

#[tokio::main]
async fn main() -> ExitCode {
    // `authz-svc health`: exit 0 when the running service reports SERVING.
    if std::env::args().nth(1).as_deref() == Some("health") {
        return dcr_common::server::health_command("DCR_AUTHZ_LISTEN", "0.0.0.0:50053").await;
    }
    let started = LogConfig::from_env()
        .and_then(|log| Ok((log, OtelConfig::from_env()?, AuthzConfig::from_env()?)))
        .and_then(|(log, otel, config)| Ok((telemetry::start(&log, otel.as_ref())?, config)));
    let (telemetry, config) = match started {
        Ok(started) => started,
        Err(error) => {
            eprintln!("authz-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let result = authz_svc::run(config).await;
    // After the drain that SIGTERM starts: export the spans still buffered.
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("authz-svc: {error:#}");
            ExitCode::FAILURE
        }
    }
}
