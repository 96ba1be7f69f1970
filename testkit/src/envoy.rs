//! A real Envoy (tests/peers/envoy/start.py, binary from `DCR_TEST_ENVOY`, which
//! scripts/test installs): started with the script's flags, stopped on drop.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};

pub struct Envoy {
    /// `http://127.0.0.1:<listener port>`.
    pub base: String,
    /// `http://127.0.0.1:<admin port>`: stats and config dumps.
    pub admin: String,
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
    let ports: Vec<&str> = line.split_whitespace().skip(1).collect();
    let [port, _upstream, admin] = ports[..] else {
        panic!("expected LISTENING <port> <upstream> <admin>, got {line}")
    };
    Envoy {
        base: format!("http://127.0.0.1:{port}"),
        admin: format!("http://127.0.0.1:{admin}"),
        _child: child,
    }
}

impl Envoy {
    /// A counter from Envoy's admin `/stats` (0 when Envoy has not made it yet).
    pub async fn counter(&self, name: &str) -> u64 {
        let stats = reqwest::get(format!(
            "{}/stats?filter=^{}$",
            self.admin,
            name.replace('.', "\\.")
        ))
        .await
        .expect("admin stats")
        .text()
        .await
        .expect("stats text");
        stats
            .lines()
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(": ")?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0)
    }
}
