//! Registrations of applications to API products, and the IdP's view of them (bridge
//! event hooks, Auth0 client grants). Access gained waits for the IdP: an IdP that refuses
//! the event halts the change. Access ended does not: the rejection or deletion is
//! committed first with the intent to tell the IdP (gateways refuse at once), and the
//! reconciler retries the IdP until it confirms.

use dcr_common::text::echo;
use uuid::Uuid;

use super::errors::WorkflowError;
use crate::domain::{AppState, Application, Registration, RegistrationStatus};
use crate::idp::{ClientRef, NewClient, RegistrationEvent};
use crate::registry::Registry;
use crate::store::{Operation, OperationKind};

impl Registry {
    /// Tells the IdP that the app gained or lost access to a product, with the scopes
    /// the registration chose (empty: the strategy's).
    async fn announce(
        &self,
        app: &Application,
        product_id: Uuid,
        chosen_scopes: &[String],
        added: bool,
    ) -> Result<(), WorkflowError> {
        let Some(client_id) = &app.client_id else {
            return Ok(());
        };
        let (adapter, strategy) = self.adapter_for_app(app).await?;
        let product = self.store.get_product(product_id).await?;
        let audience = product
            .map(|p| {
                if p.audience.is_empty() {
                    strategy.audience.clone()
                } else {
                    p.audience
                }
            })
            .unwrap_or_default();
        let state = self.store.get_idp_state(app.id).await?.unwrap_or_default();
        let current = NewClient {
            application_id: app.id,
            developer_id: app.owner.id().to_owned(),
            strategy_id: app.strategy_id,
            name: app.name.clone(),
            description: app.description.clone(),
            redirect_uris: app.redirect_uris.clone(),
            scopes: strategy.scopes.clone(),
        };
        let event = RegistrationEvent {
            added,
            product_id,
            audience,
            scopes: if chosen_scopes.is_empty() {
                strategy.scopes.clone()
            } else {
                chosen_scopes.to_vec()
            },
        };
        adapter
            .registration_changed(
                ClientRef {
                    client_id,
                    state: &state,
                },
                &current,
                &event,
            )
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(application_id = %app.id, %product_id))]
    pub async fn create_registration(
        &self,
        app: &Application,
        product_id: Uuid,
        scopes: Vec<String>,
    ) -> Result<Registration, WorkflowError> {
        if app.state != AppState::Active {
            return Err(WorkflowError::Refused(format!(
                "application {} is not ACTIVE",
                app.id
            )));
        }
        let product =
            self.store.get_product(product_id).await?.ok_or_else(|| {
                WorkflowError::NotFound(format!("product {product_id} not found"))
            })?;
        if product.strategy_id != app.strategy_id {
            return Err(WorkflowError::Refused(format!(
                "product \"{}\" uses auth strategy {}, but application \"{}\" uses {}: an \
                 application registers only for products of its own strategy",
                echo(&product.name),
                product.strategy_id,
                echo(&app.name),
                app.strategy_id
            )));
        }
        let (strategy, _) = self.strategy_and_provider(app.strategy_id).await?;
        if let Some(unknown) = scopes.iter().find(|s| !strategy.scopes.contains(s)) {
            return Err(WorkflowError::invalid(
                "scopes",
                format!(
                    "\"{}\" is not one of the strategy's scopes ({})",
                    echo(unknown),
                    strategy.scopes.join(" ")
                ),
            ));
        }
        let now = self.clock.now();
        let status = if strategy.auto_approve {
            RegistrationStatus::Approved
        } else {
            RegistrationStatus::Pending
        };
        let registration = Registration {
            id: Uuid::now_v7(),
            application_id: app.id,
            product_id,
            status,
            scopes,
            create_time: now,
            update_time: now,
        };
        self.store.insert_registration(&registration).await?;
        if status == RegistrationStatus::Approved
            && let Err(error) = self
                .announce(app, product_id, &registration.scopes, true)
                .await
        {
            self.store
                .delete_registration(registration.id, None, self.clock.now())
                .await?;
            return Err(error);
        }
        Ok(registration)
    }

    /// Deletes a registration; true when the IdP has yet to confirm the access it ends.
    #[tracing::instrument(skip_all, fields(registration_id = %registration.id))]
    pub async fn delete_registration(
        &self,
        app: &Application,
        registration: &Registration,
    ) -> Result<bool, WorkflowError> {
        let ends = registration.status == RegistrationStatus::Approved;
        let intent = self.access_ends(app, registration, ends).await?;
        self.store
            .delete_registration(registration.id, intent.as_ref(), self.clock.now())
            .await?;
        self.tell_idp_access_ended(app, registration, intent.as_ref())
            .await
    }

    /// The intent to end `registration`'s access at the IdP, when the change `ends` access
    /// an ACTIVE app had.
    async fn access_ends(
        &self,
        app: &Application,
        registration: &Registration,
        ends: bool,
    ) -> Result<Option<Operation>, WorkflowError> {
        if !ends || app.state != AppState::Active || app.client_id.is_none() {
            return Ok(None);
        }
        let (strategy, _) = self.strategy_and_provider(app.strategy_id).await?;
        Ok(Some(Operation {
            product_id: Some(registration.product_id),
            ..self.intent(OperationKind::RemoveAccess, app.id, strategy.provider_id)
        }))
    }

    /// After the local commit: tells the IdP that access ended; true when it did not
    /// confirm (the reconciler retries).
    async fn tell_idp_access_ended(
        &self,
        app: &Application,
        registration: &Registration,
        intent: Option<&Operation>,
    ) -> Result<bool, WorkflowError> {
        let Some(intent) = intent else {
            return Ok(false);
        };
        let told = self
            .announce(app, registration.product_id, &registration.scopes, false)
            .await;
        self.settle(intent, told).await
    }

    /// Pushes an ended access to the IdP again (the reconciler), then marks it done.
    pub(crate) async fn push_access_ended(&self, op: &Operation) -> Result<(), WorkflowError> {
        let app = self.store.get_application(op.application_id).await?;
        if let (Some(app), Some(product_id)) = (app, op.product_id)
            && app.state == AppState::Active
        {
            // The registration is gone; only its product matters for an end of access.
            self.announce(&app, product_id, &[], false).await?;
        }
        self.finish_operation(op).await
    }

    /// Admin approval or rejection; the IdP hears of access gained or lost. With the
    /// registration, whether the IdP has yet to confirm the access it ends.
    #[tracing::instrument(skip(self))]
    pub async fn set_registration_status(
        &self,
        id: Uuid,
        status: RegistrationStatus,
    ) -> Result<(Registration, bool), WorkflowError> {
        let registration = self
            .store
            .get_registration(id)
            .await?
            .ok_or_else(|| WorkflowError::NotFound(format!("registration {id} not found")))?;
        if registration.status == status {
            return Ok((registration, false));
        }
        let app = self
            .store
            .get_application(registration.application_id)
            .await?
            .ok_or_else(|| WorkflowError::NotFound(format!("registration {id} not found")))?;
        let gains = registration.status != RegistrationStatus::Approved
            && status == RegistrationStatus::Approved;
        if gains && app.state == AppState::Active {
            self.announce(&app, registration.product_id, &registration.scopes, true)
                .await?;
        }
        let ends = registration.status == RegistrationStatus::Approved
            && status != RegistrationStatus::Approved;
        let intent = self.access_ends(&app, &registration, ends).await?;
        let updated = self
            .store
            .set_registration_status(id, status, intent.as_ref(), self.clock.now())
            .await?;
        let pending = self
            .tell_idp_access_ended(&app, &registration, intent.as_ref())
            .await?;
        Ok((updated, pending))
    }
}
