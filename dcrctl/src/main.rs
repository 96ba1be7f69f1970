//! `dcrctl`: see `dcrctl --help`. The commands live in the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    dcrctl::main().await
}
