//! `dcrctl dev` as a newcomer meets it: the walkthrough it prints, a restart, `--reset`
//! (`walkthrough`), and the README's examples run against it with their sample outputs
//! compared (`readme`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod readme;
mod walkthrough;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

pub const DCRCTL: &str = env!("CARGO_BIN_EXE_dcrctl");

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The listeners of one dev stack. The emulator's port is part of the seeded provider's
/// issuer, so a restart must reuse it.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    pub registry: u16,
    pub token: u16,
    pub token_http: u16,
    pub authz: u16,
    pub portal: u16,
    pub emulator: u16,
}

impl Ports {
    pub fn free() -> Self {
        Self {
            registry: free_port(),
            token: free_port(),
            token_http: free_port(),
            authz: free_port(),
            portal: free_port(),
            emulator: free_port(),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            format!("--registry-listen=127.0.0.1:{}", self.registry),
            format!("--token-listen=127.0.0.1:{}", self.token),
            format!("--token-http-listen=127.0.0.1:{}", self.token_http),
            format!("--authz-listen=127.0.0.1:{}", self.authz),
            format!("--portal-listen=127.0.0.1:{}", self.portal),
            format!("--emulator-listen=127.0.0.1:{}", self.emulator),
        ]
    }
}

pub struct Dev {
    child: Child,
    /// Everything it printed on stdout up to the walkthrough's end.
    pub printed: String,
}

/// Starts `dcrctl dev` and reads its stdout until the walkthrough is printed: the stack is
/// up and seeded by then.
pub async fn start(data_dir: &Path, ports: Ports, extra: &[&str]) -> Dev {
    let mut child = Command::new(DCRCTL)
        .args(["dev", "--data-dir"])
        .arg(data_dir)
        .args(ports.args())
        .args(extra)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dcrctl dev");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut printed = String::new();
    let ready = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read") {
            printed.push_str(&line);
            printed.push('\n');
            if line.starts_with("dcrctl audit list") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(ready, Ok(true)),
        "dcrctl dev did not print its walkthrough: {printed}"
    );
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Dev { child, printed }
}

impl Dev {
    /// Ctrl-C, then the exit status.
    pub async fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().expect("pid").to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .await
            .expect("kill");
        assert!(sent.success());
        tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("stops within 30 s")
            .expect("wait")
    }
}
