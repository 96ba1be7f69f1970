//! A real Envoy (tests/peers/envoy/start.py, binary from `DCR_TEST_ENVOY`, which
//! scripts/test installs): started with the script's flags, stopped on drop.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};

pub struct Envoy {
    /// `http://127.0.0.1:<listener port>`.
    pub base: String,
    _child: tokio::process::Child,
}

/// Starts Envoy with start.py's `args` and waits until it serves (its `LISTENING` line).
pub async fn start(args: &[&str]) -> Envoy {
    let binary = std::env::var("DCR_TEST_ENVOY")
        .expect("DCR_TEST_ENVOY is not set: run scripts/test, which installs Envoy");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/peers/envoy/start.py");
    let mut child = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--envoy", &binary])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("start envoy");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let line = lines
        .next_line()
        .await
        .expect("read")
        .expect("envoy exited before listening");
    let port = line
        .split_whitespace()
        .nth(1)
        .expect("LISTENING <port> ...");
    Envoy {
        base: format!("http://127.0.0.1:{port}"),
        _child: child,
    }
}
