//! The registry-svc binary as an operator runs it: configuration errors name the
//! variable, `migrate` applies the schema, and SIGTERM stops it cleanly.

use std::process::Stdio;

use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::Command;

use crate::helpers::{ADMIN_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN, fresh_database};

const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="; // 32 bytes

fn registry(database_url: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_registry-svc"));
    command
        .env_clear()
        .env("DATABASE_URL", database_url)
        .env("DCR_MASTER_KEY", KEY)
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("DCR_PORTAL_TOKEN", PORTAL_TOKEN)
        .env("DCR_SERVICE_TOKEN", SERVICE_TOKEN)
        .env("DCR_REGISTRY_LISTEN", "127.0.0.1:0")
        .env("DCR_REGISTRY_METRICS_LISTEN", "127.0.0.1:0")
        .env("DCR_LOG_FORMAT", "json")
        .kill_on_drop(true);
    command
}

#[tokio::test]
async fn bad_configuration_stops_at_start_naming_the_variable() {
    let cases: [(&str, Option<&str>); 8] = [
        ("DATABASE_URL", None),
        ("DATABASE_URL", Some("mysql://user:hunter2@db/dcr")),
        ("DCR_MASTER_KEY", Some("c2hvcnQ=")),
        ("DCR_ADMIN_TOKEN", Some("short")),
        ("DCR_REGISTRY_LISTEN", Some("not-an-address")),
        ("DCR_LOG_FORMAT", Some("xml")),
        ("DCR_ALLOW_HTTP_LOOPBACK", Some("maybe")),
        ("DCR_ALLOW_HTTP_HOSTS", Some("http://idp-emulator:9000")),
    ];
    for (variable, value) in cases {
        let mut command = registry("postgres://127.0.0.1:1/never");
        match value {
            Some(value) => command.env(variable, value),
            None => command.env_remove(variable),
        };
        let output = command.output().await.expect("run registry-svc");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variable}: {stderr}");
        assert!(
            stderr.contains(variable),
            "the message names {variable}: {stderr}"
        );
        assert!(!stderr.contains("hunter2"), "no password echoed: {stderr}");
    }
}

#[tokio::test]
async fn migrate_then_serve_until_sigterm() {
    let database_url = fresh_database().await;
    let migrated = registry(&database_url)
        .arg("migrate")
        .output()
        .await
        .expect("migrate");
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let pool = sqlx::PgPool::connect(&database_url).await.expect("connect");
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'applications'",
    )
    .fetch_one(&pool)
    .await
    .expect("query");
    assert_eq!(tables, 1);

    let mut child = registry(&database_url)
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut metrics_addr = None;
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read")
            .expect("registry-svc exited before serving");
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if event["message"] == "metrics serving at /metrics" {
            metrics_addr = event["addr"].as_str().map(str::to_owned);
        }
        if event["message"] == "registry-svc serving" {
            break event["addr"].as_str().expect("addr").to_owned();
        }
    };
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("serving");
    // Prometheus metrics: the call just made, counted by method and status.
    let metrics_addr = metrics_addr.expect("the metrics endpoint was announced");
    let metrics = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("dcr_grpc_requests_total{")
                && l.contains("method=\"/grpc.health.v1.Health/Check\"")
                && l.contains("code=\"OK\"")),
        "{metrics}"
    );
    assert!(
        metrics.contains("dcr_grpc_request_duration_seconds_bucket{"),
        "{metrics}"
    );

    // The health subcommand (container health checks) sees it too.
    let port = addr.rsplit(':').next().expect("port").to_owned();
    let probe = Command::new(env!("CARGO_BIN_EXE_registry-svc"))
        .arg("health")
        .env("DCR_REGISTRY_LISTEN", format!("0.0.0.0:{port}"))
        .status()
        .await
        .expect("health");
    assert!(probe.success(), "registry-svc health: {probe}");

    let pid = child.id().expect("pid").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("kill");
    assert!(killed.success());
    let status = child.wait().await.expect("wait");
    assert!(status.success(), "a clean exit after SIGTERM: {status}");
    let probe = Command::new(env!("CARGO_BIN_EXE_registry-svc"))
        .arg("health")
        .env("DCR_REGISTRY_LISTEN", format!("127.0.0.1:{port}"))
        .status()
        .await
        .expect("health");
    assert_eq!(probe.code(), Some(1), "nothing serves there any more");
    let mut rest = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        rest.push(line);
    }
    assert!(
        rest.iter().any(|l| l.contains("draining in-flight calls")),
        "{rest:?}"
    );
}
