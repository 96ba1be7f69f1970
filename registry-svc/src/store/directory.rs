//! What gateways look up (a client and everything that decides about it), the change
//! stream their caches follow, and the audit log.

use chrono::{DateTime, Utc};
use dcr_common::directory::IssueRecords;

use crate::domain::ProviderType;

use super::dialect::{Dialect, SqlRow, Value};
use super::rows;
use super::sql::{SqlStore, bad_cursor, finish_page, page_limit};
use super::{
    ApprovedClient, AuditEvent, AuditFilter, AuditStore, Change, ConfigStore as _, DirectoryStore,
    OperationKind, Page, PageRequest, ResolvedClient, StoreError, StoreResult,
};

/// How many revoked secrets' fingerprints a lookup carries, newest first: enough for
/// any rotation history a client has; older ones are left to the IdP.
const REVOKED_SHOWN: usize = 100;

/// `IssueRecords` of the application `a`, as two columns. Its secret revocations are
/// its `revoke_secret` operations: one still pending waits for the IdP, and an
/// http_bridge cannot revoke one secret of several at all (its `revoke_secret` is a
/// no-op, so those operations end at once with the secret still working there); either
/// way a token the IdP issues may come from a revoked secret. A done one elsewhere: the
/// IdP took the secret until the operation ended. Rotations revoke the old secret at the
/// IdP before dcr commits, so they need none of this.
fn issue_records_columns() -> String {
    let bridge = ProviderType::HttpBridge.as_str();
    let revoke = OperationKind::RevokeSecret.as_str();
    format!(
        "EXISTS (SELECT 1 FROM idp_operations o JOIN providers p ON p.id = o.provider_id
                 WHERE o.application_id = a.id AND o.kind = '{revoke}'
                   AND (o.state = 'pending' OR p.type = '{bridge}')) AS records_always,
         (SELECT max(o.update_time) FROM idp_operations o JOIN providers p ON p.id = o.provider_id
          WHERE o.application_id = a.id AND o.kind = '{revoke}' AND o.state = 'done'
            AND p.type <> '{bridge}') AS records_before"
    )
}

fn issue_records(row: &impl SqlRow) -> StoreResult<IssueRecords> {
    Ok(IssueRecords {
        always: row.bool("records_always")?,
        before: row.opt_time("records_before")?,
    })
}

#[async_trait::async_trait]
impl<D: Dialect> DirectoryStore for SqlStore<D> {
    async fn resolve_client(
        &self,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ResolvedClient>> {
        let Some(row) = self
            .db
            .fetch_optional(
                &format!(
                    "SELECT a.*, {} FROM applications a WHERE a.client_id = $1",
                    issue_records_columns()
                ),
                &[client_id.into()],
            )
            .await?
        else {
            return Ok(None);
        };
        let application = rows::application(&row)?;
        let strategy = self
            .get_strategy(application.strategy_id)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("application {} has no strategy", application.id))
            })?;
        let provider = self
            .db
            .fetch_optional(
                "SELECT type, issuer FROM providers WHERE id = $1",
                &[strategy.provider_id.into()],
            )
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("strategy {} has no provider", strategy.id))
            })?;
        let mut approved = Vec::new();
        let mut pending = Vec::new();
        for r in self
            .db
            .fetch_all(
                "SELECT product_id, status FROM registrations WHERE application_id = $1",
                &[application.id.into()],
            )
            .await?
        {
            let product = r.id("product_id")?;
            match r.text("status")?.as_str() {
                "APPROVED" => approved.push(product),
                "PENDING" => pending.push(product),
                _ => {}
            }
        }
        let mut active = Vec::new();
        let mut revoked_before = None;
        let mut revoked = Vec::new();
        for credential in self.credentials_of(application.id).await? {
            if credential.is_active(now) {
                active.push(credential.id);
            }
            revoked_before = revoked_before.max(credential.revoke_time);
            if let (Some(at), Some(print)) = (credential.revoke_time, credential.fingerprint) {
                revoked.push((at, print));
            }
        }
        revoked.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        revoked.truncate(REVOKED_SHOWN);
        Ok(Some(ResolvedClient {
            provider_id: strategy.provider_id,
            provider_type: provider.text("type")?,
            issuer: provider.text("issuer")?,
            application,
            strategy,
            approved_product_ids: approved,
            pending_product_ids: pending,
            active_credential_ids: active,
            revoked_before,
            revoked_fingerprints: revoked.into_iter().map(|(_, print)| print).collect(),
            // An unknown name (none is written) reads as not recorded.
            auth_method: row
                .opt_text("token_endpoint_auth_method")?
                .as_deref()
                .and_then(dcr_common::oauth::ClientAuthMethod::parse),
            issue_records: issue_records(&row)?,
        }))
    }

    /// One query for both backends; the keyset is (product id, client id), so a page
    /// starts where the last ended whatever was written meanwhile.
    async fn list_approved_clients(&self, page: &PageRequest) -> StoreResult<Page<ApprovedClient>> {
        let (product_id, client_id) = approved_cursor(page.after.as_ref())?;
        let rows = self
            .db
            .fetch_all(
                &format!(
                    "SELECT r.product_id, a.client_id, a.id AS application_id,
                            (SELECT max(c.revoke_time) FROM credentials c
                             WHERE c.application_id = a.id) AS revoked_before,
                            {}
                     FROM registrations r JOIN applications a ON a.id = r.application_id
                     WHERE r.status = 'APPROVED' AND a.state = 'ACTIVE' AND a.client_id <> ''
                       AND (r.product_id > $1 OR (r.product_id = $1 AND a.client_id > $2))
                     ORDER BY r.product_id, a.client_id LIMIT $3",
                    issue_records_columns()
                ),
                &[
                    product_id.into(),
                    client_id.as_str().into(),
                    page_limit(page.size).into(),
                ],
            )
            .await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(ApprovedClient {
                    product_id: row.id("product_id")?,
                    client_id: row.text("client_id")?,
                    application_id: row.id("application_id")?,
                    revoked_before: row.opt_time("revoked_before")?,
                    issue_records: issue_records(row)?,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |c| {
            format!("{} {}", c.product_id, c.client_id)
        }))
    }

    async fn changes_after(&self, seq: i64, limit: i64) -> StoreResult<Vec<Change>> {
        self.db
            .fetch_all(
                "SELECT * FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[seq.into(), limit.into()],
            )
            .await?
            .iter()
            .map(rows::change)
            .collect()
    }

    async fn latest_seq(&self) -> StoreResult<i64> {
        let row = self
            .db
            .fetch_optional("SELECT max(seq) AS seq FROM change_log", &[])
            .await?;
        Ok(match row {
            Some(row) => row.opt_int("seq")?.unwrap_or(0),
            None => 0,
        })
    }

    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64> {
        self.db.change_signal()
    }

    async fn record_issued_token(
        &self,
        client_id: &str,
        digest: &[u8; 32],
        expire_time: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.db
            .execute(
                "INSERT INTO issued_tokens (client_id, token_digest, expire_time)
                 VALUES ($1, $2, $3) ON CONFLICT (client_id, token_digest) DO NOTHING",
                &[client_id.into(), Value::Bytes(digest), expire_time.into()],
            )
            .await?;
        Ok(())
    }

    async fn issued_token_found(
        &self,
        client_id: &str,
        digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        Ok(self
            .db
            .fetch_optional(
                "SELECT 1 AS found FROM issued_tokens
                 WHERE client_id = $1 AND token_digest = $2 AND expire_time > $3",
                &[client_id.into(), Value::Bytes(digest), now.into()],
            )
            .await?
            .is_some())
    }

    async fn forget_expired_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64> {
        Ok(self
            .db
            .execute(
                "DELETE FROM issued_tokens WHERE expire_time <= $1",
                &[now.into()],
            )
            .await?)
    }
}

/// The (product id, client id) after which a page of approved clients starts: "{id}
/// {client id}" (an id has no space; a client id may), nil and "" for the first page.
fn approved_cursor(after: Option<&String>) -> StoreResult<(uuid::Uuid, String)> {
    let Some(raw) = after else {
        return Ok((uuid::Uuid::nil(), String::new()));
    };
    let (product_id, client_id) = raw.split_once(' ').ok_or_else(bad_cursor)?;
    let product_id = product_id.parse().map_err(|_| bad_cursor())?;
    Ok((product_id, client_id.to_owned()))
}

#[async_trait::async_trait]
impl<D: Dialect> AuditStore for SqlStore<D> {
    async fn record_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        self.db
            .execute(
                "INSERT INTO audit_events
                     (time, actor, action, resource_type, resource_id, outcome, role,
                      actor_name, actor_email)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    e.time.into(),
                    (&e.actor).into(),
                    (&e.action).into(),
                    (&e.resource_type).into(),
                    (&e.resource_id).into(),
                    (&e.outcome).into(),
                    (&e.role).into(),
                    e.actor_name.as_deref().into(),
                    e.actor_email.as_deref().into(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Newest first.
    async fn list_audit(
        &self,
        f: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>> {
        let before: i64 = match &page.after {
            None => i64::MAX,
            Some(raw) => raw.parse().map_err(|_| bad_cursor())?,
        };
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM audit_events
                 WHERE id < $1
                   AND ($2 IS NULL OR actor = $2)
                   AND ($3 IS NULL OR action = $3)
                   AND ($4 IS NULL OR resource_type = $4)
                   AND ($5 IS NULL OR resource_id = $5)
                   AND ($7 IS NULL OR role = $7)
                 ORDER BY id DESC LIMIT $6",
                &[
                    before.into(),
                    f.actor.as_deref().into(),
                    f.action.as_deref().into(),
                    f.resource_type.as_deref().into(),
                    f.resource_id.as_deref().into(),
                    page_limit(page.size).into(),
                    f.role.as_deref().into(),
                ],
            )
            .await?;
        let items = rows
            .iter()
            .map(rows::audit_event)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |e| e.id.to_string()))
    }
}
