//! An application's client secrets: regenerate, add, revoke. A revocation is committed
//! locally first, with the intent to revoke at the IdP in the same write: gateways refuse
//! the secret within a second even while the IdP is down, and the reconciler pushes the
//! revocation to the IdP until it confirms.

use dcr_common::fingerprint::SecretFingerprint;
use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use super::errors::WorkflowError;
use crate::domain::application::secret_hint;
use crate::domain::{AppState, Application, Credential};
use crate::idp::{ClientRef, IdpAdapter, IdpError, IssuedSecret};
use crate::registry::Registry;
use crate::store::{ClientChange, Journal, Operation, OperationKind, StoreError};

fn require_active(app: &Application) -> Result<(), WorkflowError> {
    if app.state == AppState::Active {
        Ok(())
    } else {
        Err(WorkflowError::Refused(format!(
            "application {} is {}, not ACTIVE",
            app.id,
            app.state.as_str()
        )))
    }
}

impl Registry {
    async fn active_credentials(
        &self,
        app: &Application,
    ) -> Result<Vec<Credential>, WorkflowError> {
        let now = self.clock.now();
        Ok(self
            .store
            .list_credentials(app.id)
            .await?
            .into_iter()
            .filter(|c| c.is_active(now))
            .collect())
    }

    fn new_credential(&self, app: &Application, id: Uuid, secret: &IssuedSecret) -> Credential {
        Credential {
            id,
            application_id: app.id,
            secret_hint: secret_hint(secret.client_secret.expose_secret()),
            idp_ref: secret.secret_ref.clone(),
            create_time: self.clock.now(),
            expire_time: secret.expire_time,
            revoke_time: None,
            fingerprint: app.client_id.as_deref().map(|client_id| {
                SecretFingerprint::of(client_id, secret.client_secret.expose_secret())
            }),
        }
    }

    /// Replaces the one active secret. Several active secrets are a rotation in progress:
    /// regenerating would silently revoke all of them, so it is refused.
    #[tracing::instrument(skip_all, fields(application_id = %app.id))]
    pub async fn regenerate_secret(
        &self,
        app: &Application,
    ) -> Result<(Credential, SecretString), WorkflowError> {
        require_active(app)?;
        if self.active_credentials(app).await?.len() > 1 {
            return Err(WorkflowError::Refused(
                "more than one credential is active (a rotation in progress), and regenerating \
                 would revoke them all: revoke the ones no longer needed (RevokeCredential) \
                 and regenerate then, or add another (AddCredential)"
                    .into(),
            ));
        }
        self.issue_secret(app, OperationKind::RegenerateSecret, None)
            .await
    }

    #[tracing::instrument(skip_all, fields(application_id = %app.id))]
    pub async fn add_credential(
        &self,
        app: &Application,
        expire_time: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(Credential, SecretString), WorkflowError> {
        require_active(app)?;
        if let Some(at) = expire_time
            && at <= self.clock.now()
        {
            return Err(WorkflowError::invalid(
                "expire_time",
                "must be in the future",
            ));
        }
        self.issue_secret(app, OperationKind::AddSecret, expire_time)
            .await
    }

    /// A new secret from the IdP, journaled and committed like a create: replacing the
    /// active ones (`RegenerateSecret`) or beside them (`AddSecret`).
    async fn issue_secret(
        &self,
        app: &Application,
        kind: OperationKind,
        expire_time: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<(Credential, SecretString), WorkflowError> {
        let (adapter, strategy) = self.adapter_for_app(app).await?;
        if expire_time.is_some() && !adapter.expires_secrets() {
            return Err(WorkflowError::Refused(
                "this application's identity provider cannot expire secrets; add the \
                 credential without expire_time and revoke it when it should end"
                    .into(),
            ));
        }
        let (client_id, state) = self.client_state(app).await?;
        let credential_id = Uuid::now_v7();
        let op = self
            .begin_change(app, kind, strategy.provider_id, Some(credential_id))
            .await?;
        let client = ClientRef {
            client_id: &client_id,
            state: &state,
        };
        let replaces = kind == OperationKind::RegenerateSecret;
        let answer = if replaces {
            self.at_idp(adapter.regenerate_secret(client)).await
        } else {
            self.at_idp(adapter.add_secret(client, expire_time)).await
        };
        let secret = match answer {
            Ok(secret) => secret,
            Err(IdpError::SecretNotRotated { state: rotated }) => {
                // The call may have rotated the registration access token: keep it.
                let journal = Journal {
                    client_id,
                    idp_state: rotated.clone(),
                    ..Journal::default()
                };
                let keep = ClientChange {
                    idp_state: Some(rotated),
                    ..ClientChange::default()
                };
                self.journal_and_commit(&op, &journal, &keep).await?;
                return Err(WorkflowError::Refused(
                    "this identity provider does not issue a new client_secret through RFC 7592; \
                     delete and recreate the application to get a new secret"
                        .into(),
                ));
            }
            Err(error) => return Err(self.unconfirmed(&op, error).await),
        };
        let credential = self.new_credential(app, credential_id, &secret);
        let idp_state = secret.state.clone().unwrap_or(state);
        let journal = Journal {
            client_id,
            idp_state: idp_state.clone(),
            credential: Some(credential.clone()),
            ..Journal::default()
        };
        let change = ClientChange {
            credential: Some(credential.clone()),
            replaces,
            idp_state: Some(idp_state),
            metadata: None,
        };
        self.journal_and_commit(&op, &journal, &change).await?;
        Ok((credential, secret.client_secret))
    }

    #[tracing::instrument(skip_all, fields(application_id = %app.id, %credential_id))]
    pub async fn revoke_credential(
        &self,
        app: &Application,
        credential_id: Uuid,
    ) -> Result<RevokedCredential, WorkflowError> {
        require_active(app)?;
        let active = self.active_credentials(app).await?;
        if !active.iter().any(|c| c.id == credential_id) {
            let known = self
                .store
                .list_credentials(app.id)
                .await?
                .into_iter()
                .find(|c| c.id == credential_id);
            return match known {
                // Already revoked or expired: nothing to do, but say whether the IdP has
                // yet to confirm an earlier revocation.
                Some(revoked) => Ok(RevokedCredential {
                    idp_pending: self.revocation_pending(revoked.id).await?,
                    credential: revoked,
                }),
                None => Err(WorkflowError::NotFound(format!(
                    "credential {credential_id} not found"
                ))),
            };
        }
        if active.len() == 1 {
            return Err(WorkflowError::Refused(
                "this is the application's only active credential: use RegenerateSecret to replace it, \
                 or DeleteApplication"
                    .into(),
            ));
        }
        let (adapter, strategy) = self.adapter_for_app(app).await?;
        let intent = Operation {
            credential_id: Some(credential_id),
            ..self.intent(OperationKind::RevokeSecret, app.id, strategy.provider_id)
        };
        let revoked = self
            .store
            .revoke_credential(app.id, credential_id, Some(&intent), self.clock.now())
            .await?;
        let told = self.revoke_at_idp(&*adapter, app, &revoked).await;
        Ok(RevokedCredential {
            idp_pending: self.settle(&intent, told).await?,
            credential: revoked,
        })
    }

    /// Revokes one secret at the IdP (a no-op where the IdP cannot revoke one secret; dcr
    /// refuses it either way).
    pub(crate) async fn revoke_at_idp(
        &self,
        adapter: &dyn IdpAdapter,
        app: &Application,
        credential: &Credential,
    ) -> Result<(), WorkflowError> {
        let (client_id, state) = self.client_state(app).await?;
        self.at_idp(adapter.revoke_secret(
            ClientRef {
                client_id: &client_id,
                state: &state,
            },
            &credential.idp_ref,
        ))
        .await?;
        Ok(())
    }

    /// Whether a revocation of this credential still waits for the IdP.
    async fn revocation_pending(&self, credential_id: Uuid) -> Result<bool, WorkflowError> {
        Ok(self.store.pending_operations().await?.iter().any(|op| {
            op.kind == OperationKind::RevokeSecret && op.credential_id == Some(credential_id)
        }))
    }

    /// After a change committed locally with `intent`, what the IdP answered when told of
    /// it: confirmed, the intent is done; not, it stays pending for the reconciler, with
    /// the error kept. True when the IdP part is still pending.
    pub(crate) async fn settle(
        &self,
        intent: &Operation,
        told: Result<(), WorkflowError>,
    ) -> Result<bool, WorkflowError> {
        match told {
            Ok(()) => {
                self.finish_operation(intent).await?;
                Ok(false)
            }
            Err(error) => {
                tracing::warn!(%error, operation_id = %intent.id, kind = intent.kind.as_str(),
                    "the IdP did not confirm; dcr refuses already and the reconciler retries");
                self.store
                    .record_operation_error(intent.id, &error.to_string())
                    .await?;
                Ok(true)
            }
        }
    }

    /// Marks an operation the request itself finished done; one the reconciler (or a
    /// delete) already took over is theirs to finish.
    pub(crate) async fn finish_operation(&self, op: &Operation) -> Result<(), WorkflowError> {
        match self
            .store
            .complete_operation(op.id, op.attempts, self.clock.now())
            .await
        {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }
}

/// A revoked credential, and whether the IdP has yet to confirm the revocation.
#[derive(Debug, Clone)]
pub struct RevokedCredential {
    pub credential: Credential,
    pub idp_pending: bool,
}
