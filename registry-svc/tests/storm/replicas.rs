//! registry-svc processes (the built binary) on one database, each on a port of its own
//! that survives a restart, so clients reconnect to the new process by themselves.

use std::path::PathBuf;
use std::time::Duration;

use dcr_testkit::registry::{ADMIN_TOKEN, PORTAL_TOKEN, RegistryClients, SERVICE_TOKEN};
use tokio::process::{Child, Command};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const KEY: &str = "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio="; // 32 bytes
/// Short enough that the storm settles in seconds: each request may wait for the IdP
/// 3 s (3/4 of the lease), and the reconciler looks every second.
const LEASE_SECONDS: &str = "4";
const IDP_TIMEOUT_SECONDS: &str = "2";
const START_WITHIN: Duration = Duration::from_secs(30);

pub struct Replicas {
    database_url: String,
    ports: Vec<u16>,
    children: Vec<Child>,
    logs: PathBuf,
    pub kills: usize,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl Replicas {
    /// Migrates the database once, then starts `count` replicas and waits for each.
    pub async fn start(database_url: &str, count: usize) -> Self {
        let logs = std::env::temp_dir().join(format!("dcr-storm-{}", std::process::id()));
        std::fs::create_dir_all(&logs).expect("log folder");
        let mut replicas = Self {
            database_url: database_url.to_owned(),
            ports: (0..count).map(|_| free_port()).collect(),
            children: Vec::new(),
            logs,
            kills: 0,
        };
        let migrated = replicas
            .command(0)
            .arg("migrate")
            .output()
            .await
            .expect("migrate");
        assert!(
            migrated.status.success(),
            "{}",
            String::from_utf8_lossy(&migrated.stderr)
        );
        for index in 0..count {
            let child = replicas.spawn(index).await;
            replicas.children.push(child);
        }
        replicas
    }

    fn command(&self, index: usize) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_registry-svc"));
        command
            .env_clear()
            .env("DATABASE_URL", &self.database_url)
            .env("DCR_MASTER_KEY", KEY)
            .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("DCR_PORTAL_TOKEN", PORTAL_TOKEN)
            .env("DCR_SERVICE_TOKEN", SERVICE_TOKEN)
            .env(
                "DCR_REGISTRY_LISTEN",
                format!("127.0.0.1:{}", self.ports[index]),
            )
            .env("DCR_REGISTRY_METRICS_LISTEN", "127.0.0.1:0")
            .env("DCR_ALLOW_HTTP_LOOPBACK", "true")
            .env("DCR_OPERATION_LEASE_SECONDS", LEASE_SECONDS)
            .env("DCR_IDP_TIMEOUT_SECONDS", IDP_TIMEOUT_SECONDS)
            .env("DCR_RECONCILE_INTERVAL_SECONDS", "1")
            .env("DCR_LOG_FORMAT", "json")
            .kill_on_drop(true);
        command
    }

    async fn spawn(&self, index: usize) -> Child {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.logs.join(format!("registry-{index}.log")))
            .expect("log file");
        let child = self
            .command(index)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start registry-svc");
        self.wait_serving(index).await;
        child
    }

    /// Asks the replica's health service until it says SERVING.
    async fn wait_serving(&self, index: usize) {
        let deadline = tokio::time::Instant::now() + START_WITHIN;
        loop {
            let mut health = HealthClient::new(self.channel(index));
            let answer = health.check(HealthCheckRequest::default()).await;
            if answer.is_ok_and(|a| a.into_inner().status == ServingStatus::Serving as i32) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "registry replica {index} did not start; see {}",
                self.logs.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A channel to the replica that reconnects on its own after a restart.
    fn channel(&self, index: usize) -> Channel {
        Endpoint::from_shared(format!("http://127.0.0.1:{}", self.ports[index]))
            .expect("endpoint")
            .connect_timeout(Duration::from_secs(1))
            .connect_lazy()
    }

    pub fn clients(&self) -> Vec<RegistryClients> {
        (0..self.ports.len())
            .map(|i| RegistryClients::new(self.channel(i)))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.ports.len()
    }

    /// SIGKILL, as the kernel's OOM killer or a lost machine would, then a new process
    /// on the same port.
    pub async fn kill_and_restart(&mut self, index: usize) {
        let child = &mut self.children[index];
        child.start_kill().expect("SIGKILL");
        child.wait().await.expect("reaped");
        self.kills += 1;
        self.children[index] = self.spawn(index).await;
    }

    pub fn logs(&self) -> &std::path::Path {
        &self.logs
    }
}
