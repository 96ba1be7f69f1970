//! The Postgres backend: pool, migrations, how values are bound and read, and the change
//! log's ordering and notifications.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use dcr_common::seal::Sealer;
use sqlx::postgres::{PgArguments, PgListener, PgPoolOptions, PgRow};
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row as _, Transaction};
use tokio::sync::watch;
use uuid::Uuid;

use super::dialect::{Conn, Dialect, NewChange, SqlRow, Value, WriteTx};
use super::sql::SqlStore;
use super::{StoreError, StoreResult};

pub(super) const CHANGE_CHANNEL: &str = "dcr_changes";
/// Advisory lock key that orders change log writers (see the migration's comment).
const CHANGE_LOG_LOCK: i64 = 0x0064_6372_5f6c_6f67; // "dcr_log" in ASCII
/// How often the notifier wakes readers even without a notification, in case one was
/// lost while its connection was re-established.
const CHANGE_POLL: Duration = Duration::from_secs(5);

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The registry's store on Postgres.
pub type PgStore = SqlStore<PostgresDb>;

/// A Postgres pool and the change notifier listening on it.
#[derive(Clone)]
pub struct PostgresDb {
    pool: PgPool,
    changes: watch::Receiver<u64>,
}

impl SqlStore<PostgresDb> {
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
        Ok(Self::new(PostgresDb { pool, changes }, sealer))
    }

    pub fn pool(&self) -> &PgPool {
        &self.db.pool
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

fn query<'q>(sql: &'q str, params: &'q [Value<'q>]) -> Query<'q, Postgres, PgArguments> {
    params
        .iter()
        .fold(sqlx::query(sql), |q, value| match *value {
            Value::Id(id) => q.bind(id),
            Value::OptId(id) => q.bind(id),
            Value::Ids(ids) => q.bind(ids),
            Value::Text(text) => q.bind(text),
            Value::OptText(text) => q.bind(text),
            Value::Texts(texts) => q.bind(texts),
            Value::Int(n) => q.bind(n),
            Value::Bool(b) => q.bind(b),
            Value::Time(time) => q.bind(time),
            Value::OptTime(time) => q.bind(time),
            Value::Bytes(bytes) => q.bind(bytes),
            Value::OptBytes(bytes) => q.bind(bytes),
            Value::Json(json) => q.bind(sqlx::types::Json(json)),
        })
}

impl SqlRow for PgRow {
    fn id(&self, column: &str) -> StoreResult<Uuid> {
        Ok(self.try_get(column)?)
    }
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        Ok(self.try_get(column)?)
    }
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn texts(&self, column: &str) -> StoreResult<Vec<String>> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> StoreResult<i64> {
        self.opt_int(column)?
            .ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        // `integer` columns (attempts) are int4; sqlx decodes each width only as itself.
        match self.try_get::<Option<i64>, _>(column) {
            Ok(n) => Ok(n),
            Err(sqlx::Error::ColumnDecode { .. }) => {
                Ok(self.try_get::<Option<i32>, _>(column)?.map(i64::from))
            }
            Err(other) => Err(other.into()),
        }
    }
    fn bool(&self, column: &str) -> StoreResult<bool> {
        Ok(self.try_get(column)?)
    }
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        Ok(self.try_get(column)?)
    }
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        Ok(self.try_get(column)?)
    }
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        Ok(self.try_get(column)?)
    }
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.try_get(column)?)
    }
    fn json(&self, column: &str) -> StoreResult<serde_json::Value> {
        Ok(self.try_get(column)?)
    }
}

pub struct PgTx(Transaction<'static, Postgres>);

#[async_trait::async_trait]
impl Conn for PgTx {
    type Row = PgRow;

    async fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        Ok(query(sql, params)
            .execute(&mut *self.0)
            .await?
            .rows_affected())
    }

    async fn fetch_all(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        query(sql, params).fetch_all(&mut *self.0).await
    }

    async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Option<PgRow>, sqlx::Error> {
        query(sql, params).fetch_optional(&mut *self.0).await
    }
}

#[async_trait::async_trait]
impl WriteTx for PgTx {
    /// The advisory lock makes change-writing transactions commit in seq order; NOTIFY
    /// is delivered on commit and wakes every replica's notifier.
    async fn log_change(&mut self, change: NewChange<'_>) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(CHANGE_LOG_LOCK)
            .execute(&mut *self.0)
            .await?;
        self.execute(NewChange::INSERT, &change.params()).await?;
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANGE_CHANNEL)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn commit(self) -> StoreResult<()> {
        Ok(self.0.commit().await?)
    }
}

#[async_trait::async_trait]
impl Dialect for PostgresDb {
    type Row = PgRow;
    type Tx = PgTx;

    async fn begin(&self) -> StoreResult<PgTx> {
        Ok(PgTx(self.pool.begin().await?))
    }

    async fn fetch_all(&self, sql: &str, params: &[Value<'_>]) -> StoreResult<Vec<PgRow>> {
        Ok(query(sql, params).fetch_all(&self.pool).await?)
    }

    async fn fetch_optional(&self, sql: &str, params: &[Value<'_>]) -> StoreResult<Option<PgRow>> {
        Ok(query(sql, params).fetch_optional(&self.pool).await?)
    }

    async fn execute(&self, sql: &str, params: &[Value<'_>]) -> StoreResult<u64> {
        Ok(query(sql, params)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    fn change_signal(&self) -> watch::Receiver<u64> {
        self.changes.clone()
    }

    const LOCK_ROWS: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    fn member_of(column: &str, param: &str) -> String {
        format!("{column} = ANY({param})")
    }
}
