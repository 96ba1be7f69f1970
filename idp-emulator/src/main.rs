//! `dcr-idp-emulator [--listen 127.0.0.1:0]`: serves the emulator, prints one line
//! `LISTENING <port>` on stdout once the listener is bound, logs to stderr, and exits
//! cleanly on SIGTERM or Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use dcr_idp_emulator::{EmulatorState, serve};
use tokio::net::TcpListener;

fn usage() -> ExitCode {
    eprintln!("usage: dcr-idp-emulator [--listen 127.0.0.1:0]");
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next().and_then(|a| a.parse().ok()) {
                Some(addr) => listen = addr,
                None => return usage(),
            },
            "-h" | "--help" => {
                let _ = usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    match run(listen).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "emulator failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(listen: SocketAddr) -> std::io::Result<()> {
    // Signal handlers first: key generation below can take a while in a debug build, and a
    // SIGTERM arriving before the handler exists would kill the process uncleanly.
    let shutdown = shutdown_signal()?;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    // The root URL names the address clients use; a wildcard bind is reached on loopback.
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let state = EmulatorState::new(&format!("http://{host}:{}", addr.port()))?;
    tracing::info!(root = %state.urls().root, "idp emulator ready");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "LISTENING {}", addr.port())?;
        out.flush()?;
    }
    serve(listener, state, shutdown).await
}

/// Registers SIGTERM and SIGINT (Ctrl-C) now; the returned future resolves on either.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        tracing::info!("shutting down");
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}
