//! Registrations of applications to API products, and the IdP's view of them (bridge
//! event hooks). An IdP that refuses the event halts the change.

use dcr_common::error::ApiError;
use dcr_common::text::echo;
use uuid::Uuid;

use crate::domain::{AppState, Application, Registration, RegistrationStatus};
use crate::idp::{ClientRef, NewClient, RegistrationEvent};
use crate::registry::Registry;

impl Registry {
    /// Tells the IdP that the app gained or lost access to a product.
    async fn announce(
        &self,
        app: &Application,
        registration: &Registration,
        added: bool,
    ) -> Result<(), ApiError> {
        let product_id = registration.product_id;
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
            developer_id: app.developer_id.clone(),
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
            scopes: if registration.scopes.is_empty() {
                strategy.scopes.clone()
            } else {
                registration.scopes.clone()
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
    ) -> Result<Registration, ApiError> {
        if app.state != AppState::Active {
            return Err(ApiError::FailedPrecondition(format!(
                "application {} is not ACTIVE",
                app.id
            )));
        }
        let product = self
            .store
            .get_product(product_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("product {product_id} not found")))?;
        if product.strategy_id != app.strategy_id {
            return Err(ApiError::FailedPrecondition(format!(
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
            return Err(ApiError::invalid(
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
            && let Err(error) = self.announce(app, &registration, true).await
        {
            self.store
                .delete_registration(registration.id, self.clock.now())
                .await?;
            return Err(error);
        }
        Ok(registration)
    }

    #[tracing::instrument(skip_all, fields(registration_id = %registration.id))]
    pub async fn delete_registration(
        &self,
        app: &Application,
        registration: &Registration,
    ) -> Result<(), ApiError> {
        if registration.status == RegistrationStatus::Approved {
            self.announce(app, registration, false).await?;
        }
        self.store
            .delete_registration(registration.id, self.clock.now())
            .await?;
        Ok(())
    }

    /// Admin approval or rejection; the IdP hears of access gained or lost.
    #[tracing::instrument(skip(self))]
    pub async fn set_registration_status(
        &self,
        id: Uuid,
        status: RegistrationStatus,
    ) -> Result<Registration, ApiError> {
        let registration = self
            .store
            .get_registration(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("registration {id} not found")))?;
        if registration.status == status {
            return Ok(registration);
        }
        let app = self
            .store
            .get_application(registration.application_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("registration {id} not found")))?;
        let was_approved = registration.status == RegistrationStatus::Approved;
        let now_approved = status == RegistrationStatus::Approved;
        if was_approved != now_approved && app.state == AppState::Active {
            self.announce(&app, &registration, now_approved).await?;
        }
        Ok(self
            .store
            .set_registration_status(id, status, self.clock.now())
            .await?)
    }
}
