//! registry-svc: `registry-svc` serves; `registry-svc migrate` applies migrations and exits;
//! `registry-svc health` exits 0 when the running service reports SERVING.

/// mimalloc: glibc malloc's arena locks cost the hot paths about a fifth of their CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use dcr_common::otel::OtelConfig;
use dcr_common::telemetry::{self, LogConfig};
use registry_svc::RegistryConfig;

const USAGE: &str = "usage: registry-svc [serve|migrate|health]\n\
configuration comes from the environment: DATABASE_URL, DCR_MASTER_KEY, DCR_ADMIN_TOKEN,\n\
DCR_PORTAL_TOKEN, DCR_SERVICE_TOKEN, DCR_REGISTRY_LISTEN, ... (see docs/configuration.md)";

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "serve".to_owned());
    if command == "health" {
        return dcr_common::server::health_command("DCR_REGISTRY_LISTEN", "0.0.0.0:50051").await;
    }
    if !matches!(command.as_str(), "serve" | "migrate") {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let started = LogConfig::from_env()
        .and_then(|log| Ok((log, OtelConfig::from_env()?, RegistryConfig::from_env()?)))
        .and_then(|(log, otel, config)| Ok((telemetry::start(&log, otel.as_ref())?, config)));
    let (telemetry, config) = match started {
        Ok(started) => started,
        Err(error) => {
            eprintln!("registry-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let result = match command.as_str() {
        "migrate" => registry_svc::migrate(&config)
            .await
            .map(|()| tracing::info!("migrations applied")),
        _ => registry_svc::run(config).await,
    };
    // After the drain that SIGTERM starts: export the spans still buffered.
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("registry-svc: {error:#}");
            eprintln!("registry-svc: {error:#}");
            ExitCode::FAILURE
        }
    }
}
