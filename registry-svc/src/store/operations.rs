//! The reconciler's view of IdP operations: claiming those whose lease ran out.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::applications::finish_operation;
use super::dialect::{Conn as _, Dialect, SqlRow as _, WriteTx as _};
use super::sql::{SqlStore, app_change, client_id_of};
use super::{Operation, OperationKind, OperationStore, StoreResult};

#[async_trait::async_trait]
impl<D: Dialect> OperationStore for SqlStore<D> {
    async fn claim_stale_operations(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>> {
        // One statement: the pick and the lease extension cannot be separated by another
        // claimant (Postgres skips rows another claim has locked; SQLite's writer lock
        // keeps every other writer out).
        let sql = format!(
            "UPDATE idp_operations SET lease_until = $2, attempts = attempts + 1, update_time = $1
             WHERE id IN (SELECT id FROM idp_operations
                          WHERE state = 'pending' AND lease_until <= $1
                          ORDER BY lease_until LIMIT $3{})
             RETURNING *",
            D::SKIP_LOCKED
        );
        let mut tx = self.db.begin().await?;
        let rows = tx
            .fetch_all(&sql, &[now.into(), lease_until.into(), limit.into()])
            .await?;
        tx.commit().await?;
        rows.iter().map(|r| self.operation(r)).collect()
    }

    async fn record_operation_error(&self, op_id: Uuid, error: &str) -> StoreResult<()> {
        self.db
            .execute(
                "UPDATE idp_operations SET last_error = $2 WHERE id = $1",
                &[op_id.into(), error.into()],
            )
            .await?;
        Ok(())
    }

    async fn complete_operation(
        &self,
        op_id: Uuid,
        fence: i32,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        finish_operation(&mut tx, op_id, fence, now).await?;
        // A revocation the IdP confirmed changes which of the client's tokens gateways
        // take (`IssueRecords`): tell them through the change stream.
        let op = tx
            .fetch_optional(
                "SELECT kind, application_id, credential_id FROM idp_operations WHERE id = $1",
                &[op_id.into()],
            )
            .await?;
        if let Some(op) = op
            && op.text("kind")? == OperationKind::RevokeSecret.as_str()
        {
            let app_id = op.id("application_id")?;
            let credential = op.opt_id("credential_id")?.map(|id| id.to_string());
            let client_id = client_id_of(&mut tx, app_id).await?;
            tx.log_change(app_change(
                "credential",
                "revocation_confirmed",
                credential.as_deref().unwrap_or_default(),
                &app_id.to_string(),
                &client_id,
                now,
            ))
            .await?;
        }
        tx.commit().await
    }

    async fn pending_operations(&self) -> StoreResult<Vec<Operation>> {
        self.db
            .fetch_all(
                "SELECT * FROM idp_operations WHERE state = 'pending' ORDER BY create_time, id",
                &[],
            )
            .await?
            .iter()
            .map(|r| self.operation(r))
            .collect()
    }
}
