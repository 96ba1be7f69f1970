//! dcrctl: the command line for dcr's admins, portal backends and newcomers.
//!
//! - `cli`: the command tree (clap) and dispatch;
//! - `connection`: the shared flags and authenticated gRPC clients;
//! - `commands/`: one file per resource (providers, strategies, products, ...), with the
//!   shared name resolution in `commands::resolve`;
//! - `output`: tables for people, `--output json` for scripts, `--output env` for `eval`;
//! - `errors`: failures as messages that say what to do, and exit codes;
//! - `declarative/`: `apply`, `plan` and `export` of a dcr.yaml;
//! - `dev`: the whole stack in one process on SQLite and the IdP emulator.

pub mod cli;
pub mod commands;
pub mod connection;
pub mod declarative;
pub mod dev;
pub mod errors;
pub mod output;

use std::process::ExitCode;

use clap::Parser as _;

/// Parses the command line, runs the command, and turns errors into a message and an exit
/// code: 0 ok, 1 a failed call or a denied check, 2 usage.
pub async fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2 (0 for --help and --version).
    let cli = cli::Cli::parse();
    let connection = cli.connection.clone();
    match cli::run(cli).await {
        Ok(code) => code,
        Err(error) => {
            let (message, code) = errors::report(&error, &connection);
            eprintln!("{message}");
            code
        }
    }
}
