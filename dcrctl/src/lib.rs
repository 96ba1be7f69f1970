//! dcrctl: the command line for dcr's admins, portal backends and newcomers.
//!
//! - `cli`: the command tree (clap) and dispatch;
//! - `connection`: the shared flags and authenticated gRPC clients;
//! - `commands/`: one file per resource (providers, strategies, products, ...), with the
//!   shared name resolution in `commands::resolve`;
//! - `output`: tables for people, `--output json` for scripts, `--output env` for `eval`;
//! - `errors`: failures as messages that say what to do, and exit codes;
//! - `login`: people signing in (`dcrctl login`) and their tokens on registry calls;
//! - `declarative/`: `apply`, `plan` and `export` of a dcr.yaml;
//! - `dev`: the whole stack in one process on SQLite and the IdP emulator.

pub mod cli;
pub mod commands;
pub mod connection;
pub mod declarative;
pub mod dev;
pub mod errors;
pub mod login;
pub mod output;

use std::process::ExitCode;

use clap::Parser as _;
use clap::error::ErrorKind;

/// Parses the command line, runs the command, and turns errors into a message and an exit
/// code: 0 ok, 1 a failed call or a denied check, 2 usage.
pub async fn main() -> ExitCode {
    // clap prints its own usage errors and exits 2 (0 for --help and --version).
    let mut cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return clap_error(&error),
    };
    cli::attach_person(&mut cli).await;
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

/// How long a line of clap's error may be: it quotes the value it refused, whole.
const MAX_CLAP_LINE: usize = 300;

/// clap's own message and exit code (help and version included), with a huge value it
/// quotes cut: an invalid 130,000-character value must not fill the terminal.
fn clap_error(error: &clap::Error) -> ExitCode {
    let code = ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
    let text = error.to_string();
    let shows_help = matches!(
        error.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    );
    if shows_help || text.lines().all(|l| l.chars().count() <= MAX_CLAP_LINE) {
        // As clap prints it: help on stdout, colours on a terminal.
        let _ = error.print();
        return code;
    }
    for line in text.lines() {
        eprintln!("{}", dcr_common::text::excerpt(line, MAX_CLAP_LINE));
    }
    code
}
