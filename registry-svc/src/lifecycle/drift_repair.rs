//! What the drift report may fix on its own. Only three things, all safe:
//!
//! - Delete orphan clients dcr made whose application is FAILED or deleted: no developer
//!   ever held (or still holds) their secret, and this registry's operation records
//!   prove it made them. Clients it did not make, or that a live app duplicates, are
//!   only reported: someone may be using them.
//! - Revoke at the IdP a secret active there that dcr never recorded or has revoked
//!   (`drift_secrets.rs`): no developer got it from dcr, or dcr refuses it already.
//! - Run one reconciler pass, which finishes or undoes the operations whose lease ran out.
//!
//! Everything else (a missing client, a possible orphan at an IdP that cannot list) needs
//! a person and is only reported. What a person may then do: forget an application stuck
//! in DELETING (`forget_application`).

use uuid::Uuid;

use super::drift::{DriftReport, RepairAction};
use super::errors::WorkflowError;
use crate::domain::{AppState, IdpClientState};
use crate::idp::{self, ClientRef};
use crate::registry::Registry;
use crate::store::{OperationKind, StoreError};

impl Registry {
    /// Repairs what `report` found that is safe to repair; returns what it did.
    pub(crate) async fn repair_drift(
        &self,
        report: &DriftReport,
    ) -> Result<Vec<RepairAction>, WorkflowError> {
        let mut actions = Vec::new();
        for drift in &report.providers {
            let repairable: Vec<_> = drift
                .orphans
                .iter()
                .filter(|o| o.reason.repairable())
                .collect();
            if repairable.is_empty() {
                continue;
            }
            let Some(provider) = self.store.get_provider(drift.provider_id).await? else {
                continue; // deleted meanwhile: nothing of it to repair
            };
            let adapter = idp::adapter_for(&provider, &self.idp);
            for orphan in repairable {
                // Listed clients come without adapter state; only RFC 7592 needs any, and
                // those IdPs cannot list.
                let deleted = adapter
                    .delete_client(ClientRef {
                        client_id: &orphan.client_id,
                        state: &IdpClientState::default(),
                    })
                    .await;
                let (description, ok) = match deleted {
                    Ok(()) => (
                        format!(
                            "deleted orphan client {} (application {})",
                            orphan.client_id, orphan.application_id
                        ),
                        true,
                    ),
                    Err(error) => (
                        format!(
                            "could not delete orphan client {} (application {}): {error}",
                            orphan.client_id, orphan.application_id
                        ),
                        false,
                    ),
                };
                tracing::info!(provider_id = %drift.provider_id, client_id = %orphan.client_id,
                    application_id = %orphan.application_id, ok, "drift repair: orphan client");
                actions.push(RepairAction {
                    provider_id: Some(drift.provider_id),
                    description,
                    ok,
                });
            }
        }
        self.repair_secrets(report, &mut actions).await?;
        let pass = self.reconcile_once().await?;
        let worked = pass.undone_creates + pass.finished_deletes + pass.finished_revocations;
        if worked + pass.retry_later > 0 {
            actions.push(RepairAction {
                provider_id: None,
                description: format!(
                    "reconciler pass: {} interrupted creates undone, {} deletes finished, \
                     {} revocations pushed to the IdP, {} still failing",
                    pass.undone_creates,
                    pass.finished_deletes,
                    pass.finished_revocations,
                    pass.retry_later
                ),
                ok: pass.retry_later == 0,
            });
        }
        Ok(actions)
    }
}

impl Registry {
    /// Removes an application stuck in DELETING, marked for attention (the IdP refused
    /// dcr's credentials for its client), without another IdP call: a person has checked
    /// the IdP. Returns the client id dcr no longer manages.
    pub async fn forget_application(&self, id: Uuid) -> Result<String, WorkflowError> {
        let app = self
            .store
            .get_application(id)
            .await?
            .ok_or_else(|| WorkflowError::NotFound(format!("application {id} not found")))?;
        if app.state != AppState::Deleting || app.attention.is_empty() {
            return Err(WorkflowError::Refused(format!(
                "application {id} is {} and {}: only an application stuck in DELETING that \
                 dcr marked for attention can be forgotten; delete it (DeleteApplication) \
                 instead",
                app.state.as_str(),
                if app.attention.is_empty() {
                    "needs no attention"
                } else {
                    "needs attention"
                }
            )));
        }
        let delete = self
            .store
            .pending_operations()
            .await?
            .into_iter()
            .find(|op| op.application_id == id && op.kind == OperationKind::Delete)
            .ok_or_else(|| {
                WorkflowError::Refused(format!(
                    "application {id} has no pending delete; delete it (DeleteApplication)"
                ))
            })?;
        match self
            .store
            .complete_delete(delete.id, delete.attempts, id, self.clock.now())
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(WorkflowError::Refused(
                    "the reconciler is retrying this delete right now; try again in a moment"
                        .into(),
                ));
            }
            Err(other) => return Err(other.into()),
        }
        let client_id = app.client_id.unwrap_or_default();
        tracing::warn!(application_id = %id, %client_id,
            "application forgotten without deleting its IdP client");
        Ok(client_id)
    }
}
