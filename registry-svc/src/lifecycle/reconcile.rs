//! The reconciler: finishes or undoes IdP operations that a crash (or a lost answer)
//! interrupted. It claims only operations whose lease ran out, with SKIP LOCKED, so any
//! number of registry replicas can run it.
//!
//! - An interrupted create is undone: the developer never saw the secret, so the IdP
//!   client (from the journal, or found by dcr's marker where the IdP can search) is
//!   deleted and the application marked FAILED.
//! - An interrupted delete is finished: the IdP client is deleted (absent counts as
//!   deleted) and the application removed.
//!
//! - An unconfirmed secret revocation, or an unconfirmed end of access to a product, is
//!   pushed again: dcr already refuses it; the IdP must too. An application that is gone
//!   took its secrets and access with it.
//!
//! - An interrupted client change (a new or added secret, new metadata) is committed
//!   from its journal when the IdP's answer was recorded. When it was not, dcr cannot know
//!   whether the change happened, so the application is marked for attention instead of
//!   guessing (a secret that may have changed; a registration access token that may
//!   have rotated).
//! - A delete the IdP refuses with dcr's own credentials (401/403) is never taken as
//!   proof that the client is gone: the application is marked for attention and the
//!   delete retried.
//!
//! An IdP error leaves the operation pending; it is retried when its new lease runs out.

use std::time::Duration;

use super::applications::refused_delete;
use super::errors::WorkflowError;
use crate::idp::{self, ClientRef, IdpAdapter, IdpError};
use crate::registry::Registry;
use crate::store::{ClientChange, Operation, OperationKind};

/// How the reconciler settled one operation.
enum Settled {
    Undone,
    Deleted,
    Revoked,
    Committed,
    Unclear,
}

/// What one pass did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub undone_creates: usize,
    pub finished_deletes: usize,
    pub finished_revocations: usize,
    /// Client changes committed from their journal.
    pub committed_changes: usize,
    /// Client changes whose outcome is unknown: the application needs attention.
    pub unclear_changes: usize,
    pub retry_later: usize,
    /// token-svc's issue records of tokens that have expired, deleted.
    pub forgotten_tokens: u64,
}

impl Registry {
    /// Claims and works every stale operation once.
    pub async fn reconcile_once(&self) -> Result<Pass, WorkflowError> {
        let mut pass = Pass {
            forgotten_tokens: self.store.forget_expired_tokens(self.clock.now()).await?,
            ..Pass::default()
        };
        loop {
            let ops = self
                .store
                .claim_stale_operations(self.clock.now(), self.lease_until(), 16)
                .await?;
            if ops.is_empty() {
                return Ok(pass);
            }
            for op in ops {
                match self.reconcile_operation(&op).await {
                    Ok(Settled::Undone) => pass.undone_creates += 1,
                    Ok(Settled::Deleted) => pass.finished_deletes += 1,
                    Ok(Settled::Revoked) => pass.finished_revocations += 1,
                    Ok(Settled::Committed) => pass.committed_changes += 1,
                    Ok(Settled::Unclear) => pass.unclear_changes += 1,
                    Err(error) => {
                        tracing::warn!(operation_id = %op.id, application_id = %op.application_id, %error,
                            "reconcile failed; will retry");
                        self.store
                            .record_operation_error(op.id, &error.to_string())
                            .await?;
                        pass.retry_later += 1;
                    }
                }
            }
        }
    }

    async fn reconcile_operation(&self, op: &Operation) -> Result<Settled, WorkflowError> {
        let provider = self
            .store
            .get_provider(op.provider_id)
            .await?
            .ok_or_else(|| {
                WorkflowError::internal(anyhow::anyhow!("operation {} has no provider", op.id))
            })?;
        let adapter = idp::adapter_for(&provider, &self.idp);
        Ok(match op.kind {
            OperationKind::Create => {
                self.undo_interrupted_create(&*adapter, op).await?;
                Settled::Undone
            }
            OperationKind::Delete => {
                self.finish_interrupted_delete(&*adapter, op).await?;
                Settled::Deleted
            }
            OperationKind::RevokeSecret => {
                self.push_revocation(&*adapter, op).await?;
                Settled::Revoked
            }
            OperationKind::RemoveAccess => {
                self.push_access_ended(op).await?;
                Settled::Revoked
            }
            OperationKind::RegenerateSecret
            | OperationKind::AddSecret
            | OperationKind::UpdateClient => self.settle_client_change(&*adapter, op).await?,
        })
    }

    /// Commits a client change from its journal; without one, marks the application for
    /// attention where the change may have happened, and ends the operation.
    async fn settle_client_change(
        &self,
        adapter: &dyn IdpAdapter,
        op: &Operation,
    ) -> Result<Settled, WorkflowError> {
        if let Some(journal) = &op.journal {
            let change = ClientChange {
                credential: journal.credential.clone(),
                replaces: op.kind == OperationKind::RegenerateSecret,
                idp_state: Some(journal.idp_state.clone()),
                // The request's new name and description were not journaled: the
                // developer, told the update failed, sends it again.
                metadata: None,
            };
            self.store
                .complete_client_change(
                    op.id,
                    op.attempts,
                    op.application_id,
                    &change,
                    self.clock.now(),
                )
                .await?;
            tracing::info!(application_id = %op.application_id, kind = op.kind.as_str(),
                "committed an interrupted client change from its journal");
            return Ok(Settled::Committed);
        }
        let reason = match op.kind {
            OperationKind::RegenerateSecret => Some(
                "a secret regeneration ended before dcr recorded the identity provider's \
                 answer: the client's secret there may have changed. Regenerate the secret \
                 to get one dcr knows",
            ),
            OperationKind::AddSecret => Some(
                "adding a secret ended before dcr recorded the identity provider's answer: \
                 the client may hold a secret dcr does not know. Regenerate the secret to \
                 replace every secret with one dcr knows",
            ),
            _ if adapter.state_rotates() => Some(
                "an update ended before dcr recorded the identity provider's answer, which \
                 may have rotated the registration access token: if dcr can no longer \
                 manage the client, delete the application and create it again",
            ),
            _ => None,
        };
        if let Some(reason) = reason {
            self.store
                .set_attention(op.application_id, reason, self.clock.now())
                .await?;
        }
        self.finish_operation(op).await?;
        tracing::warn!(application_id = %op.application_id, kind = op.kind.as_str(),
            "a client change ended unclearly");
        Ok(Settled::Unclear)
    }

    /// Removes the client an interrupted create made (from the journal, or found by
    /// dcr's marker) and marks the application FAILED.
    async fn undo_interrupted_create(
        &self,
        adapter: &dyn IdpAdapter,
        op: &Operation,
    ) -> Result<(), WorkflowError> {
        let journaled = op
            .journal
            .as_ref()
            .map(|j| (j.client_id.clone(), j.idp_state.clone()));
        let found = match journaled {
            Some(found) => Some(found),
            None => adapter
                .find_by_marker(op.application_id)
                .await?
                .map(|id| (id, Default::default())),
        };
        let reason = match &found {
            Some((client_id, state)) => {
                adapter
                    .delete_client(ClientRef { client_id, state })
                    .await?;
                "provisioning was interrupted; dcr removed the IdP client it had made".to_owned()
            }
            None => {
                // Nothing journaled and nothing found: either the IdP never created the
                // client, or it did and dcr stopped before recording the answer (IdPs
                // without a search API cannot tell us which).
                tracing::warn!(application_id = %op.application_id,
                    "interrupted create left no journal; an IdP client named after this \
                     application (dcr_application_id) may exist and is not linked");
                format!(
                    "provisioning was interrupted before the IdP's answer was recorded; \
                     an IdP client for application {} may exist and is not linked",
                    op.application_id
                )
            }
        };
        self.store
            .fail_application(
                op.id,
                op.attempts,
                op.application_id,
                &reason,
                self.clock.now(),
            )
            .await?;
        tracing::info!(application_id = %op.application_id, removed_client = found.is_some(),
            "undid an interrupted create");
        Ok(())
    }

    /// Deletes the IdP client (absent counts as deleted) and removes the application.
    async fn finish_interrupted_delete(
        &self,
        adapter: &dyn IdpAdapter,
        op: &Operation,
    ) -> Result<(), WorkflowError> {
        let confirmed = op.journal.as_ref().is_some_and(|j| j.deleted);
        if !confirmed
            && let Some(app) = self.store.get_application(op.application_id).await?
            && let Some(client_id) = &app.client_id
        {
            let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
            let client = ClientRef {
                client_id,
                state: &state,
            };
            if let Err(error) = adapter.delete_client(client).await {
                if let IdpError::Unauthorized(_) = error {
                    self.store
                        .set_attention(app.id, &refused_delete(client_id, &error), self.clock.now())
                        .await?;
                }
                return Err(error.into());
            }
        }
        self.store
            .complete_delete(op.id, op.attempts, op.application_id, self.clock.now())
            .await?;
        tracing::info!(application_id = %op.application_id, "finished an interrupted delete");
        Ok(())
    }

    /// Revokes the operation's secret at the IdP, then marks it done.
    async fn push_revocation(
        &self,
        adapter: &dyn IdpAdapter,
        op: &Operation,
    ) -> Result<(), WorkflowError> {
        let app = self.store.get_application(op.application_id).await?;
        let credential = match (&app, op.credential_id) {
            (Some(app), Some(id)) => self
                .store
                .list_credentials(app.id)
                .await?
                .into_iter()
                .find(|c| c.id == id),
            _ => None,
        };
        if let (Some(app), Some(credential)) = (&app, &credential)
            && app.client_id.is_some()
        {
            self.revoke_at_idp(adapter, app, credential).await?;
        }
        self.finish_operation(op).await?;
        tracing::info!(application_id = %op.application_id, credential_id = ?op.credential_id,
            "pushed a revocation to the IdP");
        Ok(())
    }

    /// Runs passes every `interval` until the task is dropped.
    pub async fn run_reconciler(self, interval: Duration) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match self.reconcile_once().await {
                Ok(pass) if pass != Pass::default() => tracing::info!(?pass, "reconciler pass"),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "reconciler pass failed"),
            }
        }
    }
}
