//! The Postgres backend: pool, migrations, the change log writer and its notifier.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dcr_common::seal::Sealer;
use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use super::{StoreError, StoreResult};

pub(super) const CHANGE_CHANNEL: &str = "dcr_changes";
/// Advisory lock key that orders change log writers (see the migration's comment).
const CHANGE_LOG_LOCK: i64 = 0x0064_6372_5f6c_6f67; // "dcr_log" in ASCII
/// How often the notifier wakes readers even without a notification, in case one was
/// lost while its connection was re-established.
const CHANGE_POLL: Duration = Duration::from_secs(5);

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

#[derive(Clone)]
pub struct PgStore {
    pub(super) pool: PgPool,
    pub(super) sealer: Arc<Sealer>,
    changes: watch::Receiver<u64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, runs pending migrations, and starts the change notifier.
    pub async fn connect(database_url: &str, sealer: Arc<Sealer>) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(database_url)
            .await?;
        Self::from_pool(pool, sealer).await
    }

    pub async fn from_pool(pool: PgPool, sealer: Arc<Sealer>) -> StoreResult<Self> {
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        let changes = spawn_notifier(&pool).await?;
        Ok(Self {
            pool,
            sealer,
            changes,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(super) fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        self.sealer.seal(plaintext, context.as_bytes())
    }

    pub(super) fn open(
        &self,
        sealed: &[u8],
        context: &str,
    ) -> StoreResult<zeroize::Zeroizing<Vec<u8>>> {
        Ok(self.sealer.open(sealed, context.as_bytes())?)
    }

    pub(super) fn change_receiver(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }
}

async fn spawn_notifier(pool: &PgPool) -> StoreResult<watch::Receiver<u64>> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANGE_CHANNEL).await?;
    let (tx, rx) = watch::channel(0u64);
    tokio::spawn(async move {
        let mut ticks = 0u64;
        loop {
            let woke = tokio::time::timeout(CHANGE_POLL, listener.recv()).await;
            if let Ok(Err(error)) = woke {
                // PgListener reconnects on the next recv; readers re-query meanwhile.
                tracing::warn!(%error, "change listener lost its connection; reconnecting");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            ticks += 1;
            if tx.send(ticks).is_err() {
                return; // the store is gone
            }
        }
    });
    Ok(rx)
}

/// Appends to the change log inside the caller's transaction. The advisory lock makes
/// change-writing transactions commit in seq order; NOTIFY is delivered on commit.
pub(super) async fn log_change(
    tx: &mut PgConnection,
    kind: &str,
    action: &str,
    resource_id: &str,
    application_id: &str,
    client_id: &str,
    time: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(CHANGE_LOG_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO change_log (kind, action, resource_id, application_id, client_id, time)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(kind)
    .bind(action)
    .bind(resource_id)
    .bind(application_id)
    .bind(client_id)
    .bind(time)
    .execute(&mut *tx)
    .await?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANGE_CHANNEL)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Maps unique and foreign key violations to typed errors.
pub(super) fn classify(error: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        match db.code().as_deref() {
            Some("23505") => return StoreError::AlreadyExists(what.to_owned()),
            Some("23503") => return StoreError::InUse(format!("{what} is still in use")),
            _ => {}
        }
    }
    StoreError::Database(error)
}

pub(super) fn page_limit(size: usize) -> i64 {
    i64::try_from(size.clamp(1, 1000)).unwrap_or(1000) + 1
}

pub(super) fn uuid_cursor(after: Option<&String>) -> StoreResult<uuid::Uuid> {
    match after {
        None => Ok(uuid::Uuid::nil()),
        Some(raw) => raw
            .parse()
            .map_err(|_| StoreError::Corrupt("bad page cursor".into())),
    }
}

/// Cuts the extra row fetched to learn whether another page exists.
pub(super) fn finish_page<T>(
    mut items: Vec<T>,
    size: usize,
    cursor: impl Fn(&T) -> String,
) -> super::Page<T> {
    let size = size.clamp(1, 1000);
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(&cursor)
    } else {
        None
    };
    super::Page { items, next }
}
