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
//! The change signal is in-process: one process owns the file (that is what dev mode
//! runs); another process writing to it would not wake this one's watchers.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use dcr_common::seal::Sealer;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{Row as _, Sqlite, SqliteConnection, SqlitePool, Transaction};
use tokio::sync::watch;
use uuid::Uuid;

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

#[derive(Clone)]
pub struct SqliteStore {
    pub(super) reader: SqlitePool,
    writer: SqlitePool,
    pub(super) sealer: Arc<Sealer>,
    changes: Arc<watch::Sender<u64>>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
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
        Ok(Self {
            reader,
            writer,
            sealer,
            changes: Arc::new(changes),
            path,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes both pools, so the file can be reopened (tests, a clean shutdown).
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// Starts a write transaction holding SQLite's write lock.
    pub(super) async fn write(&self) -> StoreResult<WriteTx> {
        Ok(WriteTx {
            tx: self.writer.begin_with("BEGIN IMMEDIATE").await?,
            changes: self.changes.clone(),
            logged: false,
        })
    }

    /// The writer pool, for single-statement writes that log no change.
    pub(super) fn writer(&self) -> &SqlitePool {
        &self.writer
    }

    pub(super) fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        self.sealer.seal(plaintext, context.as_bytes())
    }

    pub(super) fn open_sealed(
        &self,
        sealed: &[u8],
        context: &str,
    ) -> StoreResult<zeroize::Zeroizing<Vec<u8>>> {
        Ok(self.sealer.open(sealed, context.as_bytes())?)
    }

    pub(super) fn change_receiver(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

/// A write transaction; committing it wakes the change watchers when it logged a change.
pub(super) struct WriteTx {
    tx: Transaction<'static, Sqlite>,
    changes: Arc<watch::Sender<u64>>,
    logged: bool,
}

impl WriteTx {
    pub(super) fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.tx
    }

    /// Appends to the change log. Writers are serialised, so seq order is commit order.
    pub(super) async fn log_change(
        &mut self,
        kind: &str,
        action: &str,
        resource_id: &str,
        application_id: &str,
        client_id: &str,
        time: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO change_log (kind, action, resource_id, application_id, client_id, time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(kind)
        .bind(action)
        .bind(resource_id)
        .bind(application_id)
        .bind(client_id)
        .bind(time_text(time))
        .execute(&mut *self.tx)
        .await?;
        self.logged = true;
        Ok(())
    }

    pub(super) async fn commit(self) -> StoreResult<()> {
        self.tx.commit().await?;
        if self.logged {
            self.changes
                .send_modify(|ticks| *ticks = ticks.wrapping_add(1));
        }
        Ok(())
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

/// Maps unique and foreign key violations to the same typed errors as Postgres.
pub(super) fn classify(error: sqlx::Error, what: &str) -> StoreError {
    if let sqlx::Error::Database(db) = &error {
        match db.kind() {
            ErrorKind::UniqueViolation => return StoreError::AlreadyExists(what.to_owned()),
            ErrorKind::ForeignKeyViolation => {
                return StoreError::InUse(format!("{what} is still in use"));
            }
            _ => {}
        }
    }
    StoreError::Database(error)
}

pub(super) fn time_text(time: DateTime<Utc>) -> String {
    time.format(TIME_FORMAT).to_string()
}

fn parse_time(text: &str, column: &str) -> StoreResult<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.fZ")
        .map(|t| t.and_utc())
        .map_err(|e| StoreError::Corrupt(format!("{column} {text:?}: {e}")))
}

pub(super) fn get_time(row: &SqliteRow, column: &str) -> StoreResult<DateTime<Utc>> {
    parse_time(&row.try_get::<String, _>(column)?, column)
}

pub(super) fn get_opt_time(row: &SqliteRow, column: &str) -> StoreResult<Option<DateTime<Utc>>> {
    row.try_get::<Option<String>, _>(column)?
        .map(|t| parse_time(&t, column))
        .transpose()
}

pub(super) fn get_id(row: &SqliteRow, column: &str) -> StoreResult<Uuid> {
    let text: String = row.try_get(column)?;
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("{column} {text:?}: {e}")))
}

/// A JSON column (lists, maps, provider config).
pub(super) fn get_json<T: DeserializeOwned>(row: &SqliteRow, column: &str) -> StoreResult<T> {
    let text: String = row.try_get(column)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(super) fn json_text<T: Serialize + ?Sized>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
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
