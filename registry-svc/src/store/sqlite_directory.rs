//! SQLite: directory lookups, the change stream and the audit log.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use uuid::Uuid;

use super::postgres::{finish_page, page_limit};
use super::sqlite::{get_id, get_time, time_text};
use super::sqlite_apps::application_from_row;
use super::sqlite_credentials::credential_from_row;
use super::{
    AuditEvent, AuditFilter, AuditStore, Change, DirectoryStore, Page, PageRequest, ResolvedClient,
    SqliteStore, StoreError, StoreResult,
};

fn kind_name(kind: &str) -> &'static str {
    match kind {
        "provider" => "provider",
        "strategy" => "strategy",
        "product" => "product",
        "application" => "application",
        "credential" => "credential",
        "registration" => "registration",
        _ => "unknown",
    }
}

#[async_trait::async_trait]
impl DirectoryStore for SqliteStore {
    async fn resolve_client(
        &self,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ResolvedClient>> {
        // One read transaction: every query sees the same snapshot (cheap under WAL).
        let mut tx = self.reader.begin().await?;
        let Some(row) = sqlx::query("SELECT * FROM applications WHERE client_id = ?1")
            .bind(client_id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            return Ok(None);
        };
        let application = application_from_row(&row)?;
        let strategy = sqlx::query("SELECT * FROM auth_strategies WHERE id = ?1")
            .bind(application.strategy_id.to_string())
            .fetch_optional(&mut *tx)
            .await?
            .as_ref()
            .map(super::sqlite_config::strategy_from_row)
            .transpose()?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("application {} has no strategy", application.id))
            })?;
        let provider = sqlx::query("SELECT type, issuer FROM providers WHERE id = ?1")
            .bind(strategy.provider_id.to_string())
            .fetch_one(&mut *tx)
            .await?;
        let registrations =
            sqlx::query("SELECT product_id, status FROM registrations WHERE application_id = ?1")
                .bind(application.id.to_string())
                .fetch_all(&mut *tx)
                .await?;
        let mut approved = Vec::new();
        let mut pending = Vec::new();
        for r in &registrations {
            let product: Uuid = get_id(r, "product_id")?;
            match r.try_get::<String, _>("status")?.as_str() {
                "APPROVED" => approved.push(product),
                "PENDING" => pending.push(product),
                _ => {}
            }
        }
        let credentials = sqlx::query("SELECT * FROM credentials WHERE application_id = ?1")
            .bind(application.id.to_string())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut active = Vec::new();
        let mut revoked_before = None;
        for row in &credentials {
            let credential = credential_from_row(row)?;
            if credential.is_active(now) {
                active.push(credential.id);
            }
            revoked_before = revoked_before.max(credential.revoke_time);
        }
        Ok(Some(ResolvedClient {
            provider_id: strategy.provider_id,
            provider_type: provider.try_get("type")?,
            issuer: provider.try_get("issuer")?,
            application,
            strategy,
            approved_product_ids: approved,
            pending_product_ids: pending,
            active_credential_ids: active,
            revoked_before,
        }))
    }

    async fn changes_after(&self, seq: i64, limit: i64) -> StoreResult<Vec<Change>> {
        let rows = sqlx::query("SELECT * FROM change_log WHERE seq > ?1 ORDER BY seq LIMIT ?2")
            .bind(seq)
            .bind(limit)
            .fetch_all(&self.reader)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    seq: r.try_get("seq")?,
                    kind: kind_name(&r.try_get::<String, _>("kind")?),
                    action: r.try_get("action")?,
                    resource_id: r.try_get("resource_id")?,
                    application_id: r.try_get("application_id")?,
                    client_id: r.try_get("client_id")?,
                    time: get_time(r, "time")?,
                })
            })
            .collect()
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM change_log")
            .fetch_one(&self.reader)
            .await?;
        Ok(seq.unwrap_or(0))
    }

    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.change_receiver()
    }
}

#[async_trait::async_trait]
impl AuditStore for SqliteStore {
    async fn record_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO audit_events (time, actor, action, resource_type, resource_id, outcome)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(time_text(e.time))
        .bind(&e.actor)
        .bind(&e.action)
        .bind(&e.resource_type)
        .bind(&e.resource_id)
        .bind(&e.outcome)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        f: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let before: i64 = match &page.after {
            None => i64::MAX,
            Some(raw) => raw
                .parse()
                .map_err(|_| StoreError::Corrupt("bad page cursor".into()))?,
        };
        let rows = sqlx::query(
            "SELECT * FROM audit_events
             WHERE id < ?1
               AND (?2 IS NULL OR actor = ?2)
               AND (?3 IS NULL OR action = ?3)
               AND (?4 IS NULL OR resource_type = ?4)
               AND (?5 IS NULL OR resource_id = ?5)
             ORDER BY id DESC LIMIT ?6",
        )
        .bind(before)
        .bind(&f.actor)
        .bind(&f.action)
        .bind(&f.resource_type)
        .bind(&f.resource_id)
        .bind(page_limit(page.size))
        .fetch_all(&self.reader)
        .await?;
        let items = rows
            .iter()
            .map(|r| {
                Ok(AuditEvent {
                    id: r.try_get("id")?,
                    time: get_time(r, "time")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    resource_type: r.try_get("resource_type")?,
                    resource_id: r.try_get("resource_id")?,
                    outcome: r.try_get("outcome")?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |e| e.id.to_string()))
    }
}
