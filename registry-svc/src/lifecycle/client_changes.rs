//! The steps every change to an ACTIVE application's IdP client goes through, like a
//! create: intent -> IdP -> journal -> commit. A new secret, an added one and new
//! metadata may each rotate what dcr needs to manage the client (the RFC 7592
//! registration access token), so none of them may be lost between the IdP's answer and
//! the commit; and no IdP call may outlive the request's lease on its operation.

use std::future::Future;

use uuid::Uuid;

use super::errors::WorkflowError;
use crate::domain::Application;
use crate::idp::{IdpError, IdpResult};
use crate::registry::Registry;
use crate::store::{ClientChange, Journal, Operation, OperationKind, StoreError};

impl Registry {
    /// An IdP call cut off at the workflow deadline, which ends well before the lease:
    /// a request never acts on its operation after the reconciler may have taken it
    /// over. Cut off, the call's outcome is unknown.
    pub(crate) async fn at_idp<T>(&self, call: impl Future<Output = IdpResult<T>>) -> IdpResult<T> {
        let deadline = self.settings.workflow_deadline();
        tokio::time::timeout(deadline, call)
            .await
            .unwrap_or_else(|_| {
                Err(IdpError::Ambiguous(format!(
                    "no answer within dcr's workflow deadline of {:.1} s",
                    deadline.as_secs_f64()
                )))
            })
    }

    /// Step 1: the intent, refused while another change of this client is pending.
    pub(crate) async fn begin_change(
        &self,
        app: &Application,
        kind: OperationKind,
        provider_id: Uuid,
        credential_id: Option<Uuid>,
    ) -> Result<Operation, WorkflowError> {
        let op = Operation {
            credential_id,
            ..self.intent(kind, app.id, provider_id)
        };
        match self.store.begin_client_change(&op, self.clock.now()).await {
            Ok(()) => Ok(op),
            // Another change is under way, or the app is no longer ACTIVE.
            Err(StoreError::Conflict(why)) => Err(WorkflowError::Refused(why)),
            Err(other) => Err(other.into()),
        }
    }

    /// Step 3 and 4: journal what the IdP confirmed, then commit it. Once journaled, the
    /// change is certain to be committed, by this request or, should it lose its lease
    /// or die, by the reconciler.
    pub(crate) async fn journal_and_commit(
        &self,
        op: &Operation,
        journal: &Journal,
        change: &ClientChange,
    ) -> Result<(), WorkflowError> {
        match self.store.record_journal(op.id, op.attempts, journal).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(WorkflowError::Pending(
                    "the identity provider answered after dcr's lease on this change ran out; \
                     dcr checks the application and marks it for attention if the change \
                     may have happened"
                        .into(),
                ));
            }
            Err(other) => return Err(other.into()),
        }
        if self.faults.crash_after_idp_change_now() {
            return Err(WorkflowError::internal(anyhow::anyhow!(
                "injected crash after the IdP change"
            )));
        }
        match self
            .store
            .complete_client_change(
                op.id,
                op.attempts,
                op.application_id,
                change,
                self.clock.now(),
            )
            .await
        {
            Ok(()) => Ok(()),
            // The reconciler took the journaled change over and commits the same
            // credential and state, though not new metadata: say so for updates.
            Err(StoreError::Conflict(_)) if change.metadata.is_none() => Ok(()),
            Err(StoreError::Conflict(_)) => Err(WorkflowError::Pending(
                "the identity provider took the update, but dcr's lease on it ran out before \
                 it was saved; send the update again"
                    .into(),
            )),
            Err(other) => Err(other.into()),
        }
    }

    /// Step 2 went wrong. A definite refusal ends the intent (nothing changed at the
    /// IdP); an unclear end leaves it to the reconciler, which marks the application for
    /// attention where the change may have happened.
    pub(crate) async fn unconfirmed(&self, op: &Operation, error: IdpError) -> WorkflowError {
        if error.is_definite() {
            if let Err(finish) = self.finish_operation(op).await {
                return finish;
            }
            return error.into();
        }
        tracing::warn!(operation_id = %op.id, kind = op.kind.as_str(), %error,
            "the IdP did not answer clearly; leaving the change to the reconciler");
        if let Err(record) = self
            .store
            .record_operation_error(op.id, &error.to_string())
            .await
        {
            return record.into();
        }
        WorkflowError::Pending(format!(
            "{error}; dcr checks with the identity provider once this change's lease runs \
             out, and marks application {} for attention if the change may have happened",
            op.application_id
        ))
    }
}
