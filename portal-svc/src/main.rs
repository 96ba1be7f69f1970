//! portal-svc: configuration from the environment (see docs/portal.md), then `run`;
//! `portal-svc health` exits 0 when the running portal answers its health page.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use dcr_common::otel::OtelConfig;
use dcr_common::telemetry::{self, LogConfig};
use portal_svc::PortalConfig;

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().nth(1).as_deref() == Some("health") {
        return portal_svc::health_command().await;
    }
    let started = LogConfig::from_env()
        .and_then(|log| Ok((log, OtelConfig::from_env()?, PortalConfig::from_env()?)))
        .and_then(|(log, otel, config)| Ok((telemetry::start(&log, otel.as_ref())?, config)));
    let (telemetry, config) = match started {
        Ok(started) => started,
        Err(error) => {
            eprintln!("portal-svc: {error}");
            return ExitCode::from(2);
        }
    };
    let result = portal_svc::run(config).await;
    telemetry.shutdown().await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("portal-svc: {error:#}");
            ExitCode::FAILURE
        }
    }
}
