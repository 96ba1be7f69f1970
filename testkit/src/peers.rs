//! Real peers started per test: node oidc-provider and the Kong-contract HTTP bridge.
//! Each prints `LISTENING <port>` when ready; we wait for that line, never sleep.

use std::path::PathBuf;
use std::process::Stdio;

use dcr_proto::registry::v1 as pb;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};

pub const INITIAL_ACCESS_TOKEN: &str = "test-initial-access-token";
pub const BRIDGE_API_KEY: &str = "bridge_api_key_0123456789";

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/peers")
}

pub struct Peer {
    pub base_url: String,
    _child: Child,
}

/// How long a peer may take to print `LISTENING`. Node has been seen (rarely, on a loaded
/// machine) to hang for good while starting, so a silent peer is killed and started once
/// more rather than hanging the suite.
const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

async fn start(script: PathBuf, args: &[&str]) -> Peer {
    for attempt in 1..=2 {
        match tokio::time::timeout(START_TIMEOUT, start_once(&script, args)).await {
            Ok(peer) => return peer,
            Err(_) => eprintln!(
                "peer {} printed nothing in {START_TIMEOUT:?} (attempt {attempt}); killed",
                script.display()
            ),
        }
    }
    panic!("peer {} did not start", script.display());
}

async fn start_once(script: &PathBuf, args: &[&str]) -> Peer {
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start node {}: {e} (is Node.js installed? run scripts/test)",
                script.display()
            )
        });
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let line = lines
        .next_line()
        .await
        .expect("read peer stdout")
        .expect("peer exited before listening");
    let port = line
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("unexpected peer output {line:?}"));
    // Keep draining stdout so the peer never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Peer {
        base_url: format!("http://127.0.0.1:{port}"),
        _child: child,
    }
}

/// node oidc-provider with registration (initial access token), RFC 7592 management with
/// rotating registration access tokens, client credentials and JWT access tokens.
pub async fn oidc_provider() -> Peer {
    oidc_provider_with(&[]).await
}

pub async fn oidc_provider_with(extra: &[&str]) -> Peer {
    let dir = peers_dir().join("oidc-provider");
    assert!(
        dir.join("node_modules").exists(),
        "oidc-provider is not installed: run scripts/test (npm ci)"
    );
    let mut args = vec![
        "--port",
        "0",
        "--initial-access-token",
        INITIAL_ACCESS_TOKEN,
    ];
    args.extend_from_slice(extra);
    start(dir.join("server.mjs"), &args).await
}

pub async fn http_bridge() -> Peer {
    start(
        peers_dir().join("http-bridge/server.mjs"),
        &["--port", "0", "--api-key", BRIDGE_API_KEY],
    )
    .await
}

impl Peer {
    /// client_credentials at oidc-provider's token endpoint: (HTTP status, body).
    pub async fn client_credentials(&self, client_id: &str, secret: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.base_url))
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "read")])
            .send()
            .await
            .expect("token request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> Value {
        reqwest::get(format!("{}{path}", self.base_url))
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    pub async fn post_json(&self, path: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.base_url))
            .json(&body)
            .send()
            .await
            .expect("post")
            .json()
            .await
            .unwrap_or(Value::Null)
    }

    /// Every contract request the bridge received, oldest first.
    pub async fn bridge_requests(&self) -> Vec<Value> {
        self.get_json("/__test/requests")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Request counters of the oidc-provider peer (`/__test/stats`).
    pub async fn stats(&self) -> Value {
        self.get_json("/__test/stats").await
    }

    /// Adds a fault rule (`/__test/fail`, see the peer's README).
    pub async fn fail(&self, rule: Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/__test/fail", self.base_url))
            .json(&rule)
            .send()
            .await
            .expect("add fault rule");
        assert!(
            response.status().is_success(),
            "fault rule refused: {}",
            response.text().await.unwrap_or_default()
        );
    }

    pub async fn bridge_secret_valid(&self, client_id: &str, secret: &str) -> bool {
        self.post_json(
            "/__test/verify",
            serde_json::json!({"client_id": client_id, "client_secret": secret}),
        )
        .await["valid"]
            == Value::Bool(true)
    }
}

/// An `rfc7591` provider for an RFC 7591 IdP (the oidc-provider peer) at `issuer`.
pub fn rfc7591_provider(name: &str, issuer: &str, token: &str) -> pb::Provider {
    pb::Provider {
        name: name.into(),
        issuer: issuer.into(),
        active: true,
        config: Some(pb::provider::Config::Rfc7591(pb::Rfc7591Config {
            registration_endpoint: String::new(),
            initial_access_token: token.into(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// An `http_bridge` provider for the bridge peer at `base_url`; `flags` are
/// (disable_event_hooks, disable_refresh_secret, allow_multiple_credentials).
pub fn bridge_provider(name: &str, base_url: &str, flags: (bool, bool, bool)) -> pb::Provider {
    let (disable_event_hooks, disable_refresh_secret, allow_multiple_credentials) = flags;
    pb::Provider {
        name: name.into(),
        issuer: "https://idp.example.com".into(),
        active: true,
        config: Some(pb::provider::Config::HttpBridge(pb::HttpBridgeConfig {
            dcr_base_url: base_url.into(),
            api_key: BRIDGE_API_KEY.into(),
            disable_event_hooks,
            disable_refresh_secret,
            allow_multiple_credentials,
        })),
        ..Default::default()
    }
}
