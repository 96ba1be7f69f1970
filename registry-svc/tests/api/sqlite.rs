//! registry-svc on SQLite (DATABASE_URL=sqlite:...), as `dcrctl dev` runs it: the whole
//! registry through gRPC against a real HTTP bridge, data that survives a restart, and
//! the file's permissions. No Postgres involved.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dcr_common::seal::Sealer;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::sqlite::spawn_app_on_sqlite;
use registry_svc::store::{
    ApplicationStore as _, ConfigStore as _, DirectoryStore as _, Operation, OperationKind,
    OperationStore as _, SqliteStore,
};
use tokio_stream::StreamExt as _;

use crate::helpers::{ADMIN_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN, test_config};
use crate::http_bridge::bridge_provider;
use crate::{peers, store_contract};

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

async fn next_change(stream: &mut tonic::Streaming<pb::Change>) -> pb::Change {
    // A bound on waiting, not a sleep: the change normally arrives in milliseconds.
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a change arrives")
        .expect("stream open")
        .expect("change")
}

#[tokio::test]
async fn the_registry_runs_on_sqlite_end_to_end_and_keeps_its_data() {
    let bridge = peers::http_bridge().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // A folder that does not exist yet, as on a fresh machine.
    let file = dir.path().join(".dcr").join("dcr.db");
    let app = spawn_app_on_sqlite(&file).await;

    let (_, strategy, product) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;

    // A gateway following the change stream from here on.
    let mut changes = app
        .directory()
        .watch_changes(pb::WatchChangesRequest {
            start_at_end: true,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();

    let created = app.create_app("dev-1", &strategy.id, "shop").await;
    let mut portal = app.portal("dev-1");
    let application = created.application.expect("application");
    let credential = created.credential.expect("credential");
    assert_eq!(
        application.state,
        pb::ApplicationState::Active as i32,
        "the IdP client was created"
    );
    assert!(
        bridge
            .bridge_secret_valid(&application.client_id, &credential.client_secret)
            .await,
        "the bridge knows the client and its secret"
    );
    let registration = portal
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register")
        .into_inner();
    assert_eq!(registration.status, pb::RegistrationStatus::Approved as i32);

    let resolved = app
        .directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: application.client_id.clone(),
        })
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(
        (
            resolved.application.as_ref().map(|a| a.id.as_str()),
            resolved.provider_type.as_str(),
        ),
        (Some(application.id.as_str()), "http_bridge")
    );
    assert_eq!(
        resolved.approved_product_ids,
        std::slice::from_ref(&product.id)
    );
    assert_eq!(
        resolved.active_credential_ids,
        std::slice::from_ref(&credential.id)
    );

    // The gateway saw the app go live, then its registration, in order.
    let live = next_change(&mut changes).await;
    assert_eq!(
        (live.kind, live.action.as_str(), live.client_id.as_str()),
        (
            pb::ChangeKind::Application as i32,
            "created",
            application.client_id.as_str()
        )
    );
    let registered = next_change(&mut changes).await;
    assert_eq!(
        (
            registered.kind,
            registered.resource_id.as_str(),
            registered.seq
        ),
        (
            pb::ChangeKind::Registration as i32,
            registration.id.as_str(),
            live.seq + 1
        )
    );
    drop(changes);
    app.stop().await;

    // Restarted on the same file: everything is still there, and the stream resumes.
    let app = spawn_app_on_sqlite(&file).await;
    let again = app
        .directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: application.client_id.clone(),
        })
        .await
        .expect("resolve after restart")
        .into_inner();
    assert_eq!(
        again.approved_product_ids,
        std::slice::from_ref(&product.id)
    );
    assert_eq!(
        again.active_credential_ids,
        std::slice::from_ref(&credential.id)
    );
    let mut resumed = app
        .directory()
        .watch_changes(pb::WatchChangesRequest {
            after_seq: live.seq,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    assert_eq!(next_change(&mut resumed).await.seq, registered.seq);
    drop(resumed); // an open stream would hold the graceful shutdown
    app.stop().await;
    // The pools close in the background once the last handle is gone; the last connection
    // to close checkpoints the WAL into the file and removes it. Wait for that, so the scan
    // below reads settled files rather than racing their removal.
    let wal = std::path::PathBuf::from(format!("{}-wal", file.display()));
    let settled = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while wal.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(settled.is_ok(), "the store closed and checkpointed its WAL");

    // Invariant 2 on SQLite: no secret in plaintext anywhere in the data folder (the
    // database, its WAL and shared-memory files): the bridge's API key is sealed, and the
    // client secret is never stored.
    let folder = file.parent().expect("folder");
    let mut plain_names = 0;
    for entry in std::fs::read_dir(folder).expect("list") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("read");
        if contains(&bytes, &strategy.name) {
            plain_names += 1;
        }
        for secret in [peers::BRIDGE_API_KEY, credential.client_secret.as_str()] {
            assert!(
                !contains(&bytes, secret),
                "{} holds a secret in plaintext",
                path.display()
            );
        }
    }
    assert!(
        plain_names > 0,
        "the search read the data (names are plain)"
    );

    // The file holds sealed secrets and the audit log: only its owner may read it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &std::path::Path| {
            std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777
        };
        assert_eq!(mode(&file), 0o600);
        assert_eq!(mode(file.parent().expect("folder")), 0o700);
    }
}

#[tokio::test]
async fn a_sqlite_store_keeps_its_data_across_close_and_reopen() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("dcr.db").display());
    let sealer = Arc::new(Sealer::new(&[7; 32], &[]));

    let store = SqliteStore::open(&url, sealer.clone()).await.expect("open");
    let provider = store_contract::provider("kept");
    store.insert_provider(&provider).await.expect("insert");
    let seq = store.latest_seq().await.expect("seq");
    store.close().await;

    let reopened = SqliteStore::open(&url, sealer).await.expect("reopen");
    let read = reopened
        .get_provider(provider.id)
        .await
        .expect("get")
        .expect("still there");
    assert_eq!(
        (read.name.as_str(), read.secrets.get("api_key")),
        ("kept", Some("key-123")),
        "sealed secrets open again after reopening"
    );
    assert_eq!(reopened.latest_seq().await.expect("seq"), seq);
    // Migrations ran once: reopening applied nothing twice and the next seq follows on.
    reopened
        .insert_provider(&store_contract::provider("next"))
        .await
        .expect("insert");
    assert_eq!(reopened.latest_seq().await.expect("seq"), seq + 1);
}

/// Two stores on one file stand for two processes (each has its own writer): only
/// SQLite's file lock orders them. The busy timeout makes one wait for the other instead
/// of failing with "database is locked", and a claim stays exactly-once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_claim_each_operation_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("dcr.db").display());
    let sealer = Arc::new(Sealer::new(&[7; 32], &[]));
    let first = Arc::new(SqliteStore::open(&url, sealer.clone()).await.expect("open"));
    let second = Arc::new(SqliteStore::open(&url, sealer).await.expect("open"));

    let provider = store_contract::provider("p");
    first.insert_provider(&provider).await.expect("provider");
    let strategy = store_contract::strategy(provider.id, "s");
    first.insert_strategy(&strategy).await.expect("strategy");
    let mut stale = Vec::new();
    for i in 0..20 {
        let app = store_contract::application(strategy.id, "dev", &format!("app-{i}"));
        let op = Operation {
            lease_until: Utc::now() - chrono::Duration::seconds(1),
            ..store_contract::operation(&app, provider.id, OperationKind::Create)
        };
        first
            .insert_application_intent(&app, &op)
            .await
            .expect("intent");
        stale.push(op.id);
    }

    let claimants: Vec<_> = (0..8)
        .map(|n| {
            let store = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let now = Utc::now();
                    let claimed = store
                        .claim_stale_operations(now, now + chrono::Duration::seconds(60), 2)
                        .await
                        .expect("claim waits for the other writer, never fails");
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.iter().map(|o| o.id));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for claimant in claimants {
        claimed.extend(claimant.await.expect("claimant"));
    }
    claimed.sort();
    stale.sort();
    assert_eq!(claimed, stale, "each operation claimed exactly once");
}

#[tokio::test]
async fn an_unknown_database_url_fails_at_start_naming_the_variable() {
    for url in ["mysql://user:hunter2@db/dcr", "dcr.db"] {
        let error = registry_svc::build(&test_config(url))
            .await
            .expect_err("refused")
            .to_string();
        assert!(error.contains("DATABASE_URL"), "{error}");
        assert!(
            !error.contains("hunter2"),
            "the URL's password is not echoed"
        );
    }
}

#[tokio::test]
async fn registry_svc_migrate_creates_the_sqlite_file_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("data").join("dcr.db");
    let url = format!("sqlite://{}", file.display());
    for run in 1..=2 {
        let migrated = tokio::process::Command::new(env!("CARGO_BIN_EXE_registry-svc"))
            .arg("migrate")
            .env_clear()
            .env("DATABASE_URL", &url)
            .env(
                "DCR_MASTER_KEY",
                "KioqKioqKioqKioqKioqKioqKioqKioqKioqKioqKio=",
            )
            .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("DCR_PORTAL_TOKEN", PORTAL_TOKEN)
            .env("DCR_SERVICE_TOKEN", SERVICE_TOKEN)
            .output()
            .await
            .expect("run registry-svc migrate");
        assert!(
            migrated.status.success(),
            "run {run}: {}",
            String::from_utf8_lossy(&migrated.stderr)
        );
    }
    let pool = sqlx::SqlitePool::connect(&url).await.expect("open");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('applications', 'change_log')
         ORDER BY name",
    )
    .fetch_all(&pool)
    .await
    .expect("query");
    assert_eq!(tables, ["applications", "change_log"]);
    let applied: i64 = sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .expect("query");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite"))
        .expect("the SQLite migrations")
        .filter(|f| {
            f.as_ref()
                .is_ok_and(|f| f.path().extension().is_some_and(|e| e == "sql"))
        })
        .count();
    assert_eq!(
        applied,
        i64::try_from(files).expect("count"),
        "each migration applied once: the second run applied nothing again"
    );
}
