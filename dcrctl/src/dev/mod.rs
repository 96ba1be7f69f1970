//! `dcrctl dev`: registry-svc, token-svc and authz-svc in this process, on a SQLite file,
//! with the IdP emulator as the identity provider and a demo provider, strategy and
//! product seeded from `deploy/demo/dcr.yaml`. It prints the endpoints and a walkthrough,
//! runs until Ctrl-C (or SIGTERM), then drains and stops everything. Data lives in the data
//! dir (`./.dcr` by default): the SQLite store, the emulator's state, the keys and tokens.

mod reset;
mod secrets;
mod seed;
mod stack;
mod walkthrough;

use std::net::SocketAddr;
use std::path::PathBuf;

pub use secrets::DevSecrets;
pub use stack::{Endpoints, Stack};

#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {
    /// Where the store, the emulator's state and the dev keys and tokens are kept.
    #[arg(long, env = "DCR_DEV_DIR", default_value = ".dcr")]
    pub data_dir: PathBuf,
    /// registry-svc's gRPC listener.
    #[arg(long, default_value = "127.0.0.1:50051")]
    pub registry_listen: SocketAddr,
    /// token-svc's gRPC listener.
    #[arg(long, default_value = "127.0.0.1:50052")]
    pub token_listen: SocketAddr,
    /// token-svc's OAuth 2.0 token endpoint (HTTP).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub token_http_listen: SocketAddr,
    /// authz-svc's gRPC listener (dcr.authz.v1 and Envoy ext_authz).
    #[arg(long, default_value = "127.0.0.1:50053")]
    pub authz_listen: SocketAddr,
    /// portal-svc's web listener (the Dev Portal and admin console).
    #[arg(long, default_value = "127.0.0.1:8090")]
    pub portal_listen: SocketAddr,
    /// The IdP emulator's HTTP listener. Its address is part of the seeded provider's
    /// issuer, so keep it the same across starts.
    #[arg(long, default_value = "127.0.0.1:9000")]
    pub emulator_listen: SocketAddr,
    /// Serve plaintext instead of TLS. By default the services serve TLS with a local CA
    /// and certificates made on first start in `<data dir>/tls`.
    #[arg(long)]
    pub no_tls: bool,
    /// Start afresh: delete the data dir (after asking; `--yes` skips the question) and
    /// everything in it: apps, their clients at the emulator, keys, tokens, certificates.
    #[arg(long)]
    pub reset: bool,
    /// Answer yes to `--reset`'s question (for scripts).
    #[arg(long, requires = "reset")]
    pub yes: bool,
}

pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    init_logs();
    if args.reset && !reset::reset(&args.data_dir, args.yes)? {
        return Ok(());
    }
    secrets::ensure_dir(&args.data_dir)?;
    let secrets = DevSecrets::load_or_create(&args.data_dir)?;
    let tls = if args.no_tls {
        None
    } else {
        Some(local_certificates(&args.data_dir)?)
    };
    let stack = Stack::start(&args, &secrets, &args.data_dir, tls).await?;
    let seeded = match seed::seed(&stack.endpoints, &secrets, &args.data_dir).await {
        Ok(seeded) => seeded,
        Err(e) => {
            stack.stop().await?;
            return Err(e.context("cannot seed the demo configuration"));
        }
    };
    let bin_dir = link_dcrctl(&args.data_dir);
    let environment = walkthrough::environment(
        &stack.endpoints,
        &secrets,
        bin_dir.as_deref(),
        &seed::variables(&stack.endpoints),
    );
    if let Err(e) = secrets::write_private(
        &walkthrough::env_file(&args.data_dir),
        environment.as_bytes(),
    ) {
        stack.stop().await?;
        return Err(e);
    }
    // Listening before printing: whoever reads the banner may press Ctrl-C at once.
    let stop = dcr_common::server::shutdown_signal();
    print!(
        "{}",
        walkthrough::render(&stack.endpoints, &args.data_dir, &seeded)
    );
    stop.await;
    eprintln!("dcr dev: stopping (in-flight calls finish first)");
    stack.stop().await?;
    eprintln!("dcr dev: stopped; data kept in {}", args.data_dir.display());
    Ok(())
}

/// `<data dir>/bin/dcrctl`, a link to this very binary, for the env file to put on PATH;
/// `None` (and a warning) where it cannot be made: the env file then relies on a `dcrctl`
/// already on PATH.
fn link_dcrctl(data_dir: &std::path::Path) -> Option<PathBuf> {
    let made = (|| -> std::io::Result<PathBuf> {
        let exe = std::env::current_exe()?;
        let bin = data_dir.join("bin");
        std::fs::create_dir_all(&bin)?;
        let link = bin.join("dcrctl");
        // Replaced at each start: the binary may have moved (another checkout, a release).
        if link.symlink_metadata().is_ok() {
            std::fs::remove_file(&link)?;
        }
        std::os::unix::fs::symlink(exe, &link)?;
        Ok(bin)
    })();
    made.inspect_err(|e| {
        eprintln!("dcr dev: warning: cannot link dcrctl into the data dir ({e}); put dcrctl on PATH yourself");
    })
    .ok()
}

/// The dev stack's CA and certificates (for localhost and 127.0.0.1), made on first start.
fn local_certificates(data_dir: &std::path::Path) -> anyhow::Result<dcr_common::pki::SetFiles> {
    let dir = data_dir.join("tls");
    let files = dcr_common::pki::SetFiles::in_dir(&dir);
    if files.exists() {
        return Ok(files);
    }
    let names = ["localhost".to_owned(), "127.0.0.1".to_owned()];
    Ok(dcr_common::pki::write_set(&dir, &names, "dcr-dev")?)
}

/// Logs go to stderr, warnings and up unless DCR_LOG says otherwise: stdout is the
/// walkthrough.
fn init_logs() {
    let mut config = dcr_common::telemetry::LogConfig::from_env().unwrap_or_else(|_| {
        dcr_common::telemetry::LogConfig {
            filter: "warn".into(),
            format: dcr_common::telemetry::LogFormat::Pretty,
        }
    });
    if std::env::var_os("DCR_LOG").is_none() {
        config.filter = "warn".into();
    }
    dcr_common::telemetry::init(&config);
}
