//! The SQLite backend, for dev mode and single-node runs: one file, nothing to install.
//!
//! SQLite has one writer at a time. Every write here goes through a one-connection pool
//! (so writers queue in order instead of spinning on the busy handler) and every write
//! transaction starts with `BEGIN IMMEDIATE`, so one that reads before it writes (such as
//! `begin_delete`) holds the write lock from its first read: no other process can commit
//! in between, and the upgrade from reader to writer cannot fail with SQLITE_BUSY. The
//! busy timeout makes writers of another process wait their turn. Reads use their own
//! pool and, with WAL, never wait for the writer.
//!
//! Values are stored as text (ids, times, lists, maps; see `migrations/sqlite`), so
//! binding and reading convert here.
//!
//! The change signal is in-process: one process owns the file (that is what dev mode
//! runs); another process writing to it would not wake this one's watchers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use dcr_common::seal::Sealer;
use sqlx::query::Query;
use sqlx::sqlite::{
    SqliteArguments, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, SqlitePool, Transaction};
use tokio::sync::watch;
use uuid::Uuid;

use super::dialect::{Conn, Dialect, NewChange, SqlRow, Value, WriteTx};
use super::sql::SqlStore;
use super::{StoreError, StoreResult};

pub static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");

/// How long a connection waits for the write lock held by another process (this
/// process's own writers queue on the writer pool instead).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Readers run concurrently with the writer under WAL.
const READERS: u32 = 4;
/// How long a write waits for its turn; writes are short, so this is only reached when
/// something is badly wrong.
const WRITE_QUEUE_TIMEOUT: Duration = Duration::from_secs(30);
/// Times are stored as fixed-width UTC text, so they sort and compare as text.
const TIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// The registry's store on SQLite.
pub type SqliteStore = SqlStore<SqliteDb>;

/// A reader pool, a one-connection writer pool, and the in-process change signal.
#[derive(Clone)]
pub struct SqliteDb {
    reader: SqlitePool,
    writer: SqlitePool,
    changes: Arc<watch::Sender<u64>>,
    path: PathBuf,
}

impl SqlStore<SqliteDb> {
    /// Opens (creating when missing) the database at `url_or_path`, a `sqlite:` URL
    /// (`sqlite://relative/dcr.db`, `sqlite:///abs/dcr.db`, `sqlite:/abs/dcr.db`) or a
    /// plain path, and runs pending migrations. A new file is made 0600 and new parent
    /// folders 0700: the file holds sealed secrets and the audit log.
    pub async fn open(url_or_path: &str, sealer: Arc<Sealer>) -> StoreResult<Self> {
        let path = database_path(url_or_path).map_err(config_error)?;
        prepare_file(&path).map_err(|e| {
            config_error(format!(
                "cannot create the SQLite file {}: {e}",
                path.display()
            ))
        })?;
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // With WAL, NORMAL loses no committed transaction when the process dies;
            // only an OS crash or power loss can cost the last few.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(WRITE_QUEUE_TIMEOUT)
            .connect_with(options.clone())
            .await?;
        SQLITE_MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Database(e.into()))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await?;
        let (changes, _) = watch::channel(0u64);
        let db = SqliteDb {
            reader,
            writer,
            changes: Arc::new(changes),
            path,
        };
        Ok(Self::new(db, sealer))
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.db.path
    }

    /// Closes both pools, so the file can be reopened (tests, a clean shutdown).
    pub async fn close(&self) {
        self.db.reader.close().await;
        self.db.writer.close().await;
    }
}

fn query<'q>(sql: &'q str, params: &'q [Value<'q>]) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    params
        .iter()
        .fold(sqlx::query(sql), |q, value| match *value {
            Value::Id(id) => q.bind(id.to_string()),
            Value::OptId(id) => q.bind(id.map(|id| id.to_string())),
            Value::Ids(ids) => q.bind(ids.map(|ids| {
                serde_json::Value::from(ids.iter().map(Uuid::to_string).collect::<Vec<_>>())
                    .to_string()
            })),
            Value::Text(text) => q.bind(text),
            Value::OptText(text) => q.bind(text),
            Value::Texts(texts) => q.bind(serde_json::Value::from(texts.to_vec()).to_string()),
            Value::Int(n) => q.bind(n),
            Value::Bool(b) => q.bind(b),
            Value::Time(time) => q.bind(time_text(time)),
            Value::OptTime(time) => q.bind(time.map(time_text)),
            Value::Bytes(bytes) => q.bind(bytes),
            Value::OptBytes(bytes) => q.bind(bytes),
            Value::Json(json) => q.bind(json.to_string()),
        })
}

fn corrupt(column: &str, text: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{column} {text:?}: {error}"))
}

impl SqlRow for SqliteRow {
    fn id(&self, column: &str) -> StoreResult<Uuid> {
        let text: String = self.try_get(column)?;
        text.parse().map_err(|e| corrupt(column, &text, e))
    }
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>> {
        self.try_get::<Option<String>, _>(column)?
            .map(|text| text.parse().map_err(|e| corrupt(column, &text, e)))
            .transpose()
    }
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn texts(&self, column: &str) -> StoreResult<Vec<String>> {
        let text: String = self.try_get(column)?;
        serde_json::from_str(&text).map_err(|e| corrupt(column, &text, e))
    }
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }
    fn bool(&self, column: &str) -> StoreResult<bool> {
        Ok(self.try_get(column)?)
    }
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>> {
        parse_time(&self.try_get::<String, _>(column)?, column)
    }
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
        self.try_get::<Option<String>, _>(column)?
            .map(|t| parse_time(&t, column))
            .transpose()
    }
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>> {
        Ok(self.try_get(column)?)
    }
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.try_get(column)?)
    }
    fn json(&self, column: &str) -> StoreResult<serde_json::Value> {
        let text: String = self.try_get(column)?;
        serde_json::from_str(&text).map_err(|e| corrupt(column, "(json)", e))
    }
}

/// A write transaction holding SQLite's write lock.
pub struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    changes: Arc<watch::Sender<u64>>,
    logged: bool,
}

#[async_trait::async_trait]
impl Conn for SqliteTx {
    type Row = SqliteRow;

    async fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        Ok(query(sql, params)
            .execute(&mut *self.tx)
            .await?
            .rows_affected())
    }

    async fn fetch_all(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        query(sql, params).fetch_all(&mut *self.tx).await
    }

    async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Option<SqliteRow>, sqlx::Error> {
        query(sql, params).fetch_optional(&mut *self.tx).await
    }
}

#[async_trait::async_trait]
impl WriteTx for SqliteTx {
    /// Writers are serialised, so seq order is commit order.
    async fn log_change(&mut self, change: NewChange<'_>) -> StoreResult<()> {
        self.execute(NewChange::INSERT, &change.params()).await?;
        self.logged = true;
        Ok(())
    }

    async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        if self.logged {
            self.changes
                .send_modify(|ticks| *ticks = ticks.wrapping_add(1));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Dialect for SqliteDb {
    type Row = SqliteRow;
    type Tx = SqliteTx;

    async fn begin(&self) -> StoreResult<SqliteTx> {
        Ok(SqliteTx {
            tx: self.writer.begin_with("BEGIN IMMEDIATE").await?,
            changes: self.changes.clone(),
            logged: false,
        })
    }

    async fn fetch_all(&self, sql: &str, params: &[Value<'_>]) -> StoreResult<Vec<SqliteRow>> {
        Ok(query(sql, params).fetch_all(&self.reader).await?)
    }

    async fn fetch_optional(
        &self,
        sql: &str,
        params: &[Value<'_>],
    ) -> StoreResult<Option<SqliteRow>> {
        Ok(query(sql, params).fetch_optional(&self.reader).await?)
    }

    async fn execute(&self, sql: &str, params: &[Value<'_>]) -> StoreResult<u64> {
        Ok(query(sql, params)
            .execute(&self.writer)
            .await?
            .rows_affected())
    }

    fn change_signal(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    const LOCK_ROWS: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    fn member_of(column: &str, param: &str) -> String {
        format!("{column} IN (SELECT value FROM json_each({param}))")
    }
}

/// The file named by a `sqlite:` URL or a plain path.
fn database_path(url_or_path: &str) -> Result<PathBuf, String> {
    let path = url_or_path
        .strip_prefix("sqlite://")
        .or_else(|| url_or_path.strip_prefix("sqlite:"))
        .unwrap_or(url_or_path);
    if path.contains('?') {
        return Err(format!(
            "{url_or_path:?}: a SQLite database is named by its file path alone, without ?options"
        ));
    }
    if path.is_empty() || path == ":memory:" {
        return Err(format!(
            "{url_or_path:?} names no file; give one, e.g. sqlite://.dcr/dcr.db (in-memory SQLite is not supported: its data would vanish)"
        ));
    }
    Ok(PathBuf::from(path))
}

/// Creates missing parent folders (0700) and the file (0600), leaving existing ones be.
fn prepare_file(path: &Path) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        dcr_common::private_files::create_dir(parent)?;
    }
    match file.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

fn config_error(message: String) -> StoreError {
    StoreError::Database(sqlx::Error::Configuration(message.into()))
}

fn time_text(time: DateTime<Utc>) -> String {
    time.format(TIME_FORMAT).to_string()
}

fn parse_time(text: &str, column: &str) -> StoreResult<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .map(|t| t.and_utc())
        .map_err(|e| StoreError::Corrupt(format!("{column} {text:?}: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn urls_and_paths_name_the_file() {
        for (given, file) in [
            ("sqlite://.dcr/dcr.db", ".dcr/dcr.db"),
            ("sqlite:///var/lib/dcr/dcr.db", "/var/lib/dcr/dcr.db"),
            ("sqlite:/var/lib/dcr/dcr.db", "/var/lib/dcr/dcr.db"),
            ("sqlite:dcr.db", "dcr.db"),
            ("/tmp/dcr.db", "/tmp/dcr.db"),
        ] {
            assert_eq!(database_path(given), Ok(PathBuf::from(file)), "{given}");
        }
        for bad in [
            "sqlite:",
            "sqlite://",
            "sqlite::memory:",
            "sqlite://x.db?mode=rwc",
        ] {
            assert!(database_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_keep_microseconds_and_sort_as_text() {
        let early = DateTime::from_timestamp_micros(1_700_000_000_000_001).expect("time");
        let late = DateTime::from_timestamp_micros(1_700_000_000_100_000).expect("time");
        assert_eq!(parse_time(&time_text(early), "t").expect("parse"), early);
        assert!(time_text(early) < time_text(late));
        assert_eq!(time_text(late), "2023-11-14T22:13:20.100000Z");
    }
}
