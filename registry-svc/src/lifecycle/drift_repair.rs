//! What the drift report may fix on its own. Only two things, both safe:
//!
//! - Delete orphan clients dcr made whose application is FAILED or deleted: no developer
//!   ever held (or still holds) their secret, and this registry's operation records
//!   prove it made them. Clients it did not make, or that a live app duplicates, are
//!   only reported: someone may be using them.
//! - Run one reconciler pass, which finishes or undoes the operations whose lease ran out.
//!
//! Everything else (a missing client, a possible orphan at an IdP that cannot list) needs
//! a person and is only reported.

use dcr_common::error::ApiError;

use super::drift::{DriftReport, RepairAction};
use crate::domain::IdpClientState;
use crate::idp::{self, ClientRef};
use crate::registry::Registry;

impl Registry {
    /// Repairs what `report` found that is safe to repair; returns what it did.
    pub(crate) async fn repair_drift(
        &self,
        report: &DriftReport,
    ) -> Result<Vec<RepairAction>, ApiError> {
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
