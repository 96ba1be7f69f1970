//! Create, update and delete applications together with their IdP clients.

use std::sync::Arc;

use chrono::Duration as ChronoDuration;
use dcr_common::fingerprint::SecretFingerprint;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;
use uuid::Uuid;

use super::errors::WorkflowError;
use crate::domain::application::secret_hint;
use crate::domain::{
    AppState, Application, AuthStrategy, Credential, IdpClientState, Owner, Provider,
};
use crate::idp::{self, ClientRef, CreatedClient, IdpAdapter, IdpError, NewClient};
use crate::registry::Registry;
use crate::store::{ClientChange, Journal, Operation, OperationKind, StoreError};

/// A parsed CreateApplication request.
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub owner: Owner,
    pub name: String,
    pub description: String,
    pub strategy_id: Uuid,
    pub redirect_uris: Vec<Url>,
    pub request_id: Option<String>,
}

#[derive(Debug)]
pub struct CreatedApplication {
    pub application: Application,
    /// None when an earlier call with the same request id created the application.
    pub credential: Option<(Credential, SecretString)>,
}

impl Registry {
    pub(crate) fn lease_until(&self) -> chrono::DateTime<chrono::Utc> {
        let lease = ChronoDuration::from_std(self.settings.operation_lease)
            .unwrap_or(ChronoDuration::seconds(60));
        self.clock.now() + lease
    }

    /// A new pending IdP operation this request holds (fence 0) until its lease runs out.
    pub(crate) fn intent(
        &self,
        kind: OperationKind,
        application_id: Uuid,
        provider_id: Uuid,
    ) -> Operation {
        Operation {
            id: Uuid::now_v7(),
            application_id,
            provider_id,
            kind,
            journal: None,
            attempts: 0,
            lease_until: self.lease_until(),
            credential_id: None,
            product_id: None,
        }
    }

    pub(crate) async fn strategy_and_provider(
        &self,
        strategy_id: Uuid,
    ) -> Result<(AuthStrategy, Provider), WorkflowError> {
        let strategy =
            self.store.get_strategy(strategy_id).await?.ok_or_else(|| {
                WorkflowError::NotFound(format!("strategy {strategy_id} not found"))
            })?;
        let provider = self
            .store
            .get_provider(strategy.provider_id)
            .await?
            .ok_or_else(|| {
                WorkflowError::internal(anyhow::anyhow!("strategy {strategy_id} has no provider"))
            })?;
        Ok((strategy, provider))
    }

    pub(crate) async fn adapter_for_app(
        &self,
        app: &Application,
    ) -> Result<(Arc<dyn IdpAdapter>, AuthStrategy), WorkflowError> {
        let (strategy, provider) = self.strategy_and_provider(app.strategy_id).await?;
        Ok((idp::adapter_for(&provider, &self.idp), strategy))
    }

    /// The developer's application; another developer's looks exactly like a missing one.
    pub async fn owned_application(
        &self,
        developer_id: &str,
        id: Uuid,
    ) -> Result<Application, WorkflowError> {
        match self.store.get_application(id).await? {
            Some(app) if app.owner.is_developer(developer_id) => Ok(app),
            _ => Err(WorkflowError::NotFound(format!(
                "application {id} not found"
            ))),
        }
    }

    pub(crate) async fn client_state(
        &self,
        app: &Application,
    ) -> Result<(String, IdpClientState), WorkflowError> {
        let client_id = app.client_id.clone().ok_or_else(|| {
            WorkflowError::Refused(format!("application {} has no IdP client", app.id))
        })?;
        let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
        Ok((client_id, state))
    }

    #[tracing::instrument(skip_all, fields(owner = %request.owner, strategy = %request.strategy_id))]
    pub async fn create_application(
        &self,
        request: NewApplication,
    ) -> Result<CreatedApplication, WorkflowError> {
        if let Some(request_id) = &request.request_id
            && let Some(existing) = self
                .store
                .find_application_by_request(&request.owner, request_id)
                .await?
        {
            return Ok(CreatedApplication {
                application: existing,
                credential: None,
            });
        }
        let (strategy, provider) = self.strategy_and_provider(request.strategy_id).await?;
        if !provider.active {
            return Err(WorkflowError::Refused(format!(
                "provider {} is not active; applications cannot be created on it",
                provider.name
            )));
        }
        let adapter = idp::adapter_for(&provider, &self.idp);
        let now = self.clock.now();
        let app = Application {
            id: Uuid::now_v7(),
            owner: request.owner,
            name: request.name,
            description: request.description,
            strategy_id: strategy.id,
            client_id: None,
            redirect_uris: request.redirect_uris,
            state: AppState::Provisioning,
            failure_reason: String::new(),
            attention: String::new(),
            request_id: request.request_id,
            create_time: now,
            update_time: now,
        };
        let op = self.intent(OperationKind::Create, app.id, provider.id);
        self.store.insert_application_intent(&app, &op).await?;
        let created = self.create_at_idp(&*adapter, &app, &op, &strategy).await?;
        self.commit_create(&*adapter, app, &op, created).await
    }

    /// Step 2 of a create: the IdP call. A definite refusal forgets the intent (nothing
    /// exists at the IdP); an unclear end leaves it to the reconciler, never retried blindly.
    async fn create_at_idp(
        &self,
        adapter: &dyn IdpAdapter,
        app: &Application,
        op: &Operation,
        strategy: &AuthStrategy,
    ) -> Result<CreatedClient, WorkflowError> {
        let new_client = NewClient {
            application_id: app.id,
            developer_id: app.owner.id().to_owned(),
            strategy_id: strategy.id,
            name: app.name.clone(),
            description: app.description.clone(),
            redirect_uris: app.redirect_uris.clone(),
            scopes: strategy.scopes.clone(),
        };
        match self.at_idp(adapter.create_client(&new_client)).await {
            Ok(created) => Ok(created),
            Err(error) if error.is_definite() => {
                // Nothing exists at the IdP: forget the intent as if it never was.
                self.store.discard_application(op.id, app.id).await?;
                Err(error.into())
            }
            Err(error) => {
                // The IdP may have made the client. The operation stays pending: once its
                // lease runs out the reconciler looks for dcr's marker at the IdP, removes
                // what it finds and marks the application FAILED.
                tracing::warn!(application_id = %app.id, %error,
                    "IdP create ended unclearly; leaving it to the reconciler");
                self.store
                    .record_operation_error(op.id, &error.to_string())
                    .await?;
                Err(WorkflowError::Pending(format!(
                    "{error}; application {} stays PROVISIONING until dcr has checked the \
                     identity provider, then becomes FAILED (create it again then)",
                    app.id
                )))
            }
        }
    }

    /// Step 3 of a create: journal what the IdP answered, then commit ACTIVE with the
    /// first credential. A request that lost its operation to the reconciler (its lease
    /// ran out) stops here: before the journal, it removes the client itself; after it,
    /// the reconciler, which has the journal, does.
    async fn commit_create(
        &self,
        adapter: &dyn IdpAdapter,
        app: Application,
        op: &Operation,
        created: CreatedClient,
    ) -> Result<CreatedApplication, WorkflowError> {
        let journal = Journal {
            client_id: created.client_id.clone(),
            idp_state: created.state.clone(),
            auth_method: created.auth_method,
            ..Journal::default()
        };
        if let Err(error) = self
            .store
            .record_journal(op.id, op.attempts, &journal)
            .await
        {
            self.undo_create(adapter, &journal, op, app.id).await;
            return Err(error.into());
        }
        if self.faults.crash_after_idp_create_now() {
            return Err(WorkflowError::internal(anyhow::anyhow!(
                "injected crash after the IdP create"
            )));
        }
        let now = self.clock.now();
        let secret = created.secret.client_secret.expose_secret();
        let credential = Credential {
            id: Uuid::now_v7(),
            application_id: app.id,
            secret_hint: secret_hint(secret),
            idp_ref: created.secret.secret_ref.clone(),
            create_time: now,
            expire_time: created.secret.expire_time,
            revoke_time: None,
            fingerprint: Some(SecretFingerprint::of(&created.client_id, secret)),
        };
        match self
            .store
            .complete_create(op.id, op.attempts, app.id, &journal, &credential, now)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                // The reconciler took the operation over and will remove the client.
                return Err(WorkflowError::Pending(
                    "creating the application took too long and was rolled back; try again".into(),
                ));
            }
            Err(error) => {
                self.undo_create(adapter, &journal, op, app.id).await;
                return Err(error.into());
            }
        }
        let application = Application {
            client_id: Some(created.client_id),
            state: AppState::Active,
            update_time: now,
            ..app
        };
        tracing::info!(application_id = %application.id, "application created");
        Ok(CreatedApplication {
            application,
            credential: Some((credential, created.secret.client_secret)),
        })
    }

    /// Best-effort compensation inside the request; whatever fails here is left pending
    /// for the reconciler, which has the journal.
    async fn undo_create(
        &self,
        adapter: &dyn IdpAdapter,
        journal: &Journal,
        op: &Operation,
        app_id: Uuid,
    ) {
        let client = ClientRef {
            client_id: &journal.client_id,
            state: &journal.idp_state,
        };
        if let Err(error) = adapter.delete_client(client).await {
            tracing::warn!(%app_id, %error, "could not remove the new IdP client; the reconciler will retry");
            return;
        }
        let reason = "creation failed after the IdP client was made; the client was removed";
        if let Err(error) = self
            .store
            .fail_application(op.id, op.attempts, app_id, reason, self.clock.now())
            .await
        {
            tracing::warn!(%app_id, %error, "could not mark the application FAILED; the reconciler will");
        }
    }

    /// Pushes new metadata to the IdP, journaled like a secret: an RFC 7592 update may
    /// rotate the registration access token.
    #[tracing::instrument(skip_all, fields(application_id = %app.id))]
    pub async fn update_application(&self, app: Application) -> Result<Application, WorkflowError> {
        let (adapter, strategy) = self.adapter_for_app(&app).await?;
        let (client_id, state) = self.client_state(&app).await?;
        let update = NewClient {
            application_id: app.id,
            developer_id: app.owner.id().to_owned(),
            strategy_id: app.strategy_id,
            name: app.name.clone(),
            description: app.description.clone(),
            redirect_uris: app.redirect_uris.clone(),
            scopes: strategy.scopes.clone(),
        };
        let op = self
            .begin_change(
                &app,
                OperationKind::UpdateClient,
                strategy.provider_id,
                None,
            )
            .await?;
        let client = ClientRef {
            client_id: &client_id,
            state: &state,
        };
        let new_state = match self.at_idp(adapter.update_client(client, &update)).await {
            Ok(new_state) => new_state.unwrap_or(state),
            Err(error) => return Err(self.unconfirmed(&op, error).await),
        };
        let journal = Journal {
            client_id,
            idp_state: new_state.clone(),
            ..Journal::default()
        };
        let change = ClientChange {
            idp_state: Some(new_state),
            metadata: Some(app.clone()),
            ..ClientChange::default()
        };
        self.journal_and_commit(&op, &journal, &change).await?;
        Ok(app)
    }

    #[tracing::instrument(skip_all, fields(application_id = %app.id))]
    pub async fn delete_application(&self, app: Application) -> Result<(), WorkflowError> {
        if app.state == AppState::Provisioning {
            return Err(WorkflowError::Refused(format!(
                "application {} is still being provisioned; try again shortly",
                app.id
            )));
        }
        let (adapter, strategy) = self.adapter_for_app(&app).await?;
        let op = self.intent(OperationKind::Delete, app.id, strategy.provider_id);
        let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
        self.store
            .begin_delete(app.id, &op, self.clock.now())
            .await?;
        if let Some(client_id) = &app.client_id {
            let client = ClientRef {
                client_id,
                state: &state,
            };
            if let Err(error) = self.at_idp(adapter.delete_client(client)).await {
                tracing::warn!(%error, "IdP delete failed; the reconciler will retry");
                self.store
                    .record_operation_error(op.id, &error.to_string())
                    .await?;
                if let IdpError::Unauthorized(_) = error {
                    self.store
                        .set_attention(app.id, &refused_delete(client_id, &error), self.clock.now())
                        .await?;
                }
                return Err(WorkflowError::Pending(format!(
                    "{error}; the application is DELETING and its IdP client will be removed when the IdP answers"
                )));
            }
            // The IdP confirmed: whoever finishes the delete needs no second call (a
            // deleted RFC 7592 client answers 401, which proves nothing by itself).
            let journal = Journal {
                client_id: client_id.clone(),
                deleted: true,
                ..Journal::default()
            };
            self.store
                .record_journal(op.id, op.attempts, &journal)
                .await?;
        }
        if self.faults.crash_after_idp_delete_now() {
            return Err(WorkflowError::internal(anyhow::anyhow!(
                "injected crash after the IdP delete"
            )));
        }
        self.store
            .complete_delete(op.id, op.attempts, app.id, self.clock.now())
            .await?;
        tracing::info!("application deleted");
        Ok(())
    }
}

/// What an operator reads when the IdP refused dcr's own credentials for a delete: the
/// refusal does not prove the client is gone.
pub(crate) fn refused_delete(client_id: &str, error: &IdpError) -> String {
    format!(
        "deleting IdP client {client_id} was refused ({error}): either it was deleted outside \
         dcr, or dcr's credentials for it no longer work; dcr keeps retrying. Check the \
         identity provider and delete the client there if it still exists, then remove the \
         application from dcr with `dcrctl apps forget` (ForgetApplication)"
    )
}
