//! `dcr-idp-emulator [--listen 127.0.0.1:0] [--public-url http://idp-emulator:9000]
//! [--state-file PATH] [--sso-client JSON]...`: serves the emulator (with each
//! `--sso-client` registered at its OpenID provider, as `POST /__emulator/sso/clients` would) (keeping its state in PATH when given), prints one line `LISTENING <port>` on stdout once the listener is
//! bound, logs to stderr, and exits cleanly on SIGTERM or Ctrl-C.
//! `dcr-idp-emulator health [--listen ADDR]` exits 0 when the emulator at ADDR answers
//! (container health checks: the runtime image has no curl).

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use dcr_idp_emulator::{EmulatorState, serve};
use tokio::net::TcpListener;

fn usage() -> ExitCode {
    eprintln!(
        "usage: dcr-idp-emulator [health] [--listen 127.0.0.1:0] [--public-url http://HOST:PORT] [--state-file PATH] [--sso-client JSON]..."
    );
    ExitCode::from(2)
}

/// `--public-url`: the root other hosts reach the emulator at (e.g. its compose service
/// name). Issuers and every URL the emulator hands out are built from it, so the `iss` of
/// its tokens matches what dcr was configured with.
fn public_url(value: &str) -> Option<String> {
    let url = url::Url::parse(value).ok()?;
    let bare = matches!(url.path(), "" | "/") && url.query().is_none() && url.fragment().is_none();
    (matches!(url.scheme(), "http" | "https") && url.host().is_some() && bare)
        .then(|| value.trim_end_matches('/').to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let mut listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut public = None;
    let mut state_file: Option<std::path::PathBuf> = None;
    let mut sso_clients: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1).peekable();
    let health = args.next_if(|a| a == "health").is_some();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => match args.next().and_then(|a| a.parse().ok()) {
                Some(addr) => listen = addr,
                None => return usage(),
            },
            "--public-url" => match args.next().as_deref().and_then(public_url) {
                Some(url) => public = Some(url),
                None => return usage(),
            },
            "--state-file" => match args.next() {
                Some(path) if !path.is_empty() => state_file = Some(path.into()),
                _ => return usage(),
            },
            "--sso-client" => match args.next() {
                Some(spec) => sso_clients.push(spec),
                None => return usage(),
            },
            "-h" | "--help" => {
                let _ = usage();
                return ExitCode::SUCCESS;
            }
            _ => return usage(),
        }
    }
    if health {
        return match probe(listen).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("not serving at {listen}: {e}");
                ExitCode::FAILURE
            }
        };
    }
    match run(listen, public, state_file, &sso_clients).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "emulator failed");
            ExitCode::FAILURE
        }
    }
}

async fn run(
    listen: SocketAddr,
    public: Option<String>,
    state_file: Option<std::path::PathBuf>,
    sso_clients: &[String],
) -> std::io::Result<()> {
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
    let root = public.unwrap_or_else(|| format!("http://{host}:{}", addr.port()));
    let state = match state_file {
        Some(path) => EmulatorState::open(&root, path)?,
        None => EmulatorState::new(&root)?,
    };
    for spec in sso_clients {
        let (_, client) = state
            .register_sso_client(spec.as_bytes())
            .map_err(|e| std::io::Error::other(format!("--sso-client: {e}")))?;
        tracing::info!(client = %client["client_id"], "SSO login client registered");
    }
    tracing::info!(root = %state.urls().root, "idp emulator ready");
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "LISTENING {}", addr.port())?;
        out.flush()?;
    }
    serve(listener, state, shutdown).await
}

/// GET /__emulator/health at `listen` (a wildcard means this host), within 3 seconds. A
/// raw HTTP/1.0 request: the emulator has no HTTP client dependency, and this needs none.
async fn probe(listen: SocketAddr) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut addr = listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(b"GET /__emulator/health HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = tokio::time::timeout(std::time::Duration::from_secs(3), ask)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no answer in 3 s"))??;
    let status = answer.split(|b| *b == b'\n').next().unwrap_or_default();
    if status.starts_with(b"HTTP/1.") && status.get(9..12) == Some(b"200") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!(
            "answered {:?}",
            String::from_utf8_lossy(status).trim_end()
        )))
    }
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
