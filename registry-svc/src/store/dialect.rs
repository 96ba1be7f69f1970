//! What a SQL backend gives the shared store (`sql.rs` and the files beside it): how a
//! parameter is bound and a column read in its own types, transactions with the change
//! log, and the two SQL fragments that differ. Every query is written once, with `$N`
//! placeholders (sqlx accepts them on both backends) and no casts; a value's type comes
//! from how it is bound.
//!
//! Postgres stores ids as `uuid`, times as `timestamptz`, lists as `text[]`/`uuid[]`
//! and maps as `jsonb`; SQLite stores them as text (see `migrations/sqlite`). `Value`
//! and `SqlRow` are where that difference lives, and nowhere else.

use chrono::{DateTime, Utc};
use tokio::sync::watch;
use uuid::Uuid;

use super::StoreResult;

/// One bound parameter, named by what it is rather than by a database type.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Id(Uuid),
    OptId(Option<Uuid>),
    /// A list of ids for `member_of`; `None` binds NULL (no filter).
    Ids(Option<&'a [Uuid]>),
    Text(&'a str),
    OptText(Option<&'a str>),
    Texts(&'a [String]),
    Int(i64),
    Bool(bool),
    Time(DateTime<Utc>),
    OptTime(Option<DateTime<Utc>>),
    Bytes(&'a [u8]),
    OptBytes(Option<&'a [u8]>),
    Json(&'a serde_json::Value),
}

impl From<Uuid> for Value<'_> {
    fn from(id: Uuid) -> Self {
        Self::Id(id)
    }
}

impl From<Option<Uuid>> for Value<'_> {
    fn from(id: Option<Uuid>) -> Self {
        Self::OptId(id)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Self::Text(text)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(text: &'a String) -> Self {
        Self::Text(text)
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Self::OptText(text)
    }
}

impl<'a> From<&'a Vec<String>> for Value<'a> {
    fn from(texts: &'a Vec<String>) -> Self {
        Self::Texts(texts)
    }
}

impl From<i64> for Value<'_> {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<bool> for Value<'_> {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<DateTime<Utc>> for Value<'_> {
    fn from(time: DateTime<Utc>) -> Self {
        Self::Time(time)
    }
}

impl From<Option<DateTime<Utc>>> for Value<'_> {
    fn from(time: Option<DateTime<Utc>>) -> Self {
        Self::OptTime(time)
    }
}

impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Self::Bytes(bytes)
    }
}

impl<'a> From<&'a serde_json::Value> for Value<'a> {
    fn from(json: &'a serde_json::Value) -> Self {
        Self::Json(json)
    }
}

/// A result row, read by what each column holds.
pub trait SqlRow: Send + Sync {
    fn id(&self, column: &str) -> StoreResult<Uuid>;
    fn opt_id(&self, column: &str) -> StoreResult<Option<Uuid>>;
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn texts(&self, column: &str) -> StoreResult<Vec<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn bool(&self, column: &str) -> StoreResult<bool>;
    fn time(&self, column: &str) -> StoreResult<DateTime<Utc>>;
    fn opt_time(&self, column: &str) -> StoreResult<Option<DateTime<Utc>>>;
    fn bytes(&self, column: &str) -> StoreResult<Vec<u8>>;
    fn opt_bytes(&self, column: &str) -> StoreResult<Option<Vec<u8>>>;
    fn json(&self, column: &str) -> StoreResult<serde_json::Value>;
}

/// Statements on one connection (a transaction).
#[async_trait::async_trait]
pub trait Conn: Send {
    type Row: SqlRow;
    /// Rows affected.
    async fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, sqlx::Error>;
    async fn fetch_all(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Vec<Self::Row>, sqlx::Error>;
    async fn fetch_optional(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Option<Self::Row>, sqlx::Error>;
}

/// One entry of the change stream (`change_log`), written inside the transaction that
/// made the change.
#[derive(Debug, Clone, Copy)]
pub struct NewChange<'a> {
    pub kind: &'a str,
    pub action: &'a str,
    pub resource_id: &'a str,
    pub application_id: &'a str,
    pub client_id: &'a str,
    pub time: DateTime<Utc>,
}

impl NewChange<'_> {
    pub const INSERT: &'static str = "INSERT INTO change_log
            (kind, action, resource_id, application_id, client_id, time)
         VALUES ($1, $2, $3, $4, $5, $6)";

    pub fn params(&self) -> [Value<'_>; 6] {
        [
            self.kind.into(),
            self.action.into(),
            self.resource_id.into(),
            self.application_id.into(),
            self.client_id.into(),
            self.time.into(),
        ]
    }
}

/// A write transaction. Change log entries must appear to readers in seq order; each
/// backend orders its writers so that they do (see its `log_change`).
#[async_trait::async_trait]
pub trait WriteTx: Conn + Sized {
    async fn log_change(&mut self, change: NewChange<'_>) -> StoreResult<()>;
    /// Commits, then wakes the change watchers of this process when a change was logged.
    async fn commit(self) -> StoreResult<()>;
}

/// A backend: its connections and the few places its SQL differs.
#[async_trait::async_trait]
pub trait Dialect: Send + Sync + 'static {
    type Row: SqlRow;
    type Tx: WriteTx<Row = Self::Row>;

    /// Starts a write transaction.
    async fn begin(&self) -> StoreResult<Self::Tx>;
    /// A read outside any transaction.
    async fn fetch_all(&self, sql: &str, params: &[Value<'_>]) -> StoreResult<Vec<Self::Row>>;
    async fn fetch_optional(
        &self,
        sql: &str,
        params: &[Value<'_>],
    ) -> StoreResult<Option<Self::Row>>;
    /// One write statement that logs no change (journal, audit, operation errors).
    async fn execute(&self, sql: &str, params: &[Value<'_>]) -> StoreResult<u64>;
    /// Ticks whenever a change may have been committed.
    fn change_signal(&self) -> watch::Receiver<u64>;

    /// Appended to a `SELECT` inside a write transaction that is followed by a write to
    /// the rows it read (Postgres locks them; SQLite's writer already holds the lock).
    const LOCK_ROWS: &'static str;
    /// Appended to the inner `SELECT` of a claim, so concurrent claimants skip each
    /// other's rows (Postgres); SQLite's single writer needs nothing.
    const SKIP_LOCKED: &'static str;
    /// `column` is one of the ids bound at `param` as `Value::Ids`.
    fn member_of(column: &str, param: &str) -> String;
}
