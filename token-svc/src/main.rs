//! token-svc: configuration from the environment (see README.md), then `run`.

/// mimalloc: glibc malloc's arena locks cost the hot paths about a fifth of their CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use dcr_common::telemetry::{self, LogConfig};
use token_svc::TokenConfig;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match LogConfig::from_env().and_then(|log| Ok((log, TokenConfig::from_env()?))) {
        Ok((log, config)) => {
            telemetry::init(&log);
            config
        }
        Err(error) => {
            eprintln!("token-svc: {error}");
            return ExitCode::from(2);
        }
    };
    match token_svc::run(config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("token-svc: {error:#}");
            ExitCode::FAILURE
        }
    }
}
