//! The store, written once over a `Dialect`: every query of `config.rs`,
//! `applications.rs`, `credentials.rs`, `registrations.rs` and `directory.rs` runs on
//! Postgres and SQLite alike. This file holds what they share: sealing, the mapping of
//! database errors, change log entries, the statements several of them run inside their
//! transactions, and paging.

use std::sync::Arc;

use dcr_common::seal::Sealer;
use sqlx::error::ErrorKind;
use uuid::Uuid;

use chrono::{DateTime, Utc};

use super::dialect::{Conn, Dialect, NewChange, SqlRow as _};
use super::{Page, StoreError, StoreResult};

/// The registry's store over one backend (`PgStore`, `SqliteStore`).
#[derive(Clone)]
pub struct SqlStore<D> {
    pub(super) db: D,
    sealer: Arc<Sealer>,
}

impl<D> std::fmt::Debug for SqlStore<D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &std::any::type_name::<D>())
            .finish_non_exhaustive()
    }
}

impl<D: Dialect> SqlStore<D> {
    pub(super) fn new(db: D, sealer: Arc<Sealer>) -> Self {
        Self { db, sealer }
    }

    /// Seals `plaintext` bound to `context` (the row it belongs to), so a sealed value
    /// copied into another row does not open.
    pub(super) fn seal(&self, plaintext: &[u8], context: &str) -> Vec<u8> {
        self.sealer.seal(plaintext, context.as_bytes())
    }

    pub(super) fn unseal(
        &self,
        sealed: &[u8],
        context: &str,
    ) -> StoreResult<zeroize::Zeroizing<Vec<u8>>> {
        Ok(self.sealer.open(sealed, context.as_bytes())?)
    }
}

/// Maps unique and foreign key violations to typed errors; `what` names the row.
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

/// A change to a config row (providers, strategies, products): no application.
pub(super) fn config_change<'a>(
    kind: &'a str,
    action: &'a str,
    id: &'a str,
    time: chrono::DateTime<chrono::Utc>,
) -> NewChange<'a> {
    NewChange {
        kind,
        action,
        resource_id: id,
        application_id: "",
        client_id: "",
        time,
    }
}

/// The largest page the store returns: the largest any API list allows
/// (ListApprovedClients); each list caps its own page size lower.
const MAX_PAGE: usize = 5000;

/// Rows to fetch for a page: one more than shown, to learn whether another follows.
pub(super) fn page_limit(size: usize) -> i64 {
    i64::try_from(size.clamp(1, MAX_PAGE)).unwrap_or(1000) + 1
}

pub(super) fn bad_cursor() -> StoreError {
    StoreError::Corrupt("bad page cursor".into())
}

/// The id after which a page starts (the nil id for the first page).
pub(super) fn uuid_cursor(after: Option<&String>) -> StoreResult<Uuid> {
    match after {
        None => Ok(Uuid::nil()),
        Some(raw) => raw.parse().map_err(|_| bad_cursor()),
    }
}

/// Cuts the extra row fetched to learn whether another page exists.
pub(super) fn finish_page<T>(
    mut items: Vec<T>,
    size: usize,
    cursor: impl Fn(&T) -> String,
) -> Page<T> {
    let size = size.clamp(1, MAX_PAGE);
    let next = if items.len() > size {
        items.truncate(size);
        items.last().map(&cursor)
    } else {
        None
    };
    Page { items, next }
}

/// A change to an application or what belongs to it: gateways look it up by client id.
pub(super) fn app_change<'a>(
    kind: &'a str,
    action: &'a str,
    resource_id: &'a str,
    application_id: &'a str,
    client_id: &'a str,
    time: DateTime<Utc>,
) -> NewChange<'a> {
    NewChange {
        kind,
        action,
        resource_id,
        application_id,
        client_id,
        time,
    }
}

/// Revokes every active credential of an application.
pub(super) async fn revoke_all(
    tx: &mut impl Conn,
    app_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    tx.execute(
        "UPDATE credentials SET revoke_time = $2 WHERE application_id = $1 AND revoke_time IS NULL",
        &[app_id.into(), now.into()],
    )
    .await?;
    Ok(())
}

/// The application's client id ("" while it has none), for the change log.
pub(super) async fn client_id_of(tx: &mut impl Conn, app_id: Uuid) -> StoreResult<String> {
    let row = tx
        .fetch_optional(
            "SELECT client_id FROM applications WHERE id = $1",
            &[app_id.into()],
        )
        .await?;
    Ok(match row {
        Some(row) => row.opt_text("client_id")?.unwrap_or_default(),
        None => String::new(),
    })
}
