//! dcr.registry.v1.ApplicationService (portal), on behalf of one developer: a signed-in
//! person (their verified developer claim) or the one a portal token names in
//! `x-dcr-developer-id`. Another developer's application answers NOT_FOUND, exactly like
//! one that does not exist.

use dcr_common::auth::{Caller, caller};
use dcr_common::error::ApiError;
use dcr_proto::registry::v1 as pb;
use secrecy::ExposeSecret as _;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::convert::{
    application_to_proto, apply_application_update, catalog_product_to_proto, credential_to_proto,
    listed_registration_to_proto, parse_id, parse_new_application, registration_to_proto,
};
use super::{audit, next_page_token, page_request};
use crate::domain::{Application, Credential, Owner};
use crate::registry::Registry;
use crate::store::RegistrationFilter;

#[derive(Debug, Clone)]
pub struct ApplicationApi(pub Registry);

fn developer<T>(request: &Request<T>) -> Result<(Caller, String), Status> {
    let caller = caller(request)?;
    match caller.developer_id() {
        Some(id) => {
            let id = id.to_owned();
            Ok((caller, id))
        }
        None => Err(Status::permission_denied(
            "portal calls act for a developer",
        )),
    }
}

impl ApplicationApi {
    async fn app(&self, developer: &str, id: &str, field: &str) -> Result<Application, ApiError> {
        Ok(self
            .0
            .owned_application(developer, parse_id(field, id)?)
            .await?)
    }

    fn credential(
        app: &Application,
        credential: &Credential,
        secret: Option<&str>,
    ) -> pb::Credential {
        credential_to_proto(
            credential,
            app.client_id.as_deref().unwrap_or_default(),
            secret,
        )
    }

    async fn create(
        &self,
        developer: String,
        request: pb::CreateApplicationRequest,
    ) -> Result<pb::CreateApplicationResponse, ApiError> {
        let new = parse_new_application(request, Owner::Developer(developer))?;
        let created = self.0.create_application(new).await?;
        let credential = created.credential.as_ref().map(|(credential, secret)| {
            Self::credential(
                &created.application,
                credential,
                Some(secret.expose_secret()),
            )
        });
        Ok(pb::CreateApplicationResponse {
            application: Some(application_to_proto(&created.application)),
            credential,
        })
    }

    async fn update(
        &self,
        developer: &str,
        request: pb::UpdateApplicationRequest,
    ) -> Result<pb::Application, ApiError> {
        let a = request
            .application
            .ok_or_else(|| ApiError::invalid("application", "is required"))?;
        let stored = self.app(developer, &a.id, "application.id").await?;
        let updated =
            apply_application_update(stored, &a, request.update_mask, self.0.clock.now())?;
        Ok(application_to_proto(
            &self.0.update_application(updated).await?,
        ))
    }

    async fn delete(
        &self,
        developer: &str,
        request: &pb::DeleteApplicationRequest,
    ) -> Result<pb::DeleteApplicationResponse, ApiError> {
        match self.app(developer, &request.id, "id").await {
            Ok(app) => self.0.delete_application(app).await?,
            Err(ApiError::NotFound(_)) if request.allow_missing => {}
            Err(error) => return Err(error),
        }
        Ok(pb::DeleteApplicationResponse {})
    }

    async fn registration(
        &self,
        developer: &str,
        id: &str,
    ) -> Result<(Application, crate::domain::Registration), ApiError> {
        let id = parse_id("id", id)?;
        let not_found = || ApiError::NotFound(format!("registration {id} not found"));
        let registration = self
            .0
            .store
            .get_registration(id)
            .await?
            .ok_or_else(not_found)?;
        let app = self
            .0
            .owned_application(developer, registration.application_id)
            .await
            .map_err(|_| not_found())?;
        Ok((app, registration))
    }
}

#[tonic::async_trait]
impl pb::application_service_server::ApplicationService for ApplicationApi {
    async fn create_application(
        &self,
        request: Request<pb::CreateApplicationRequest>,
    ) -> Result<Response<pb::CreateApplicationResponse>, Status> {
        let (caller, developer) = developer(&request)?;
        let result = self.create(developer, request.into_inner()).await;
        let id = result
            .as_ref()
            .ok()
            .and_then(|r| r.application.as_ref())
            .map(|a| a.id.clone())
            .unwrap_or_default();
        audit(
            &self.0,
            &caller,
            "CreateApplication",
            "application",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn get_application(
        &self,
        request: Request<pb::GetApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let (_, developer) = developer(&request)?;
        let app = self.app(&developer, &request.get_ref().id, "id").await?;
        Ok(Response::new(application_to_proto(&app)))
    }

    async fn list_applications(
        &self,
        request: Request<pb::ListApplicationsRequest>,
    ) -> Result<Response<pb::ListApplicationsResponse>, Status> {
        let (_, developer) = developer(&request)?;
        let r = request.get_ref();
        let page = self
            .0
            .store
            .list_applications(&developer, &page_request(r.page_size, &r.page_token)?)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListApplicationsResponse {
            applications: page.items.iter().map(application_to_proto).collect(),
            next_page_token: next_page_token(page.next),
        }))
    }

    async fn update_application(
        &self,
        request: Request<pb::UpdateApplicationRequest>,
    ) -> Result<Response<pb::Application>, Status> {
        let (caller, developer) = developer(&request)?;
        let id = request
            .get_ref()
            .application
            .as_ref()
            .map(|a| a.id.clone())
            .unwrap_or_default();
        let result = self.update(&developer, request.into_inner()).await;
        audit(
            &self.0,
            &caller,
            "UpdateApplication",
            "application",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn delete_application(
        &self,
        request: Request<pb::DeleteApplicationRequest>,
    ) -> Result<Response<pb::DeleteApplicationResponse>, Status> {
        let (caller, developer) = developer(&request)?;
        let result = self.delete(&developer, request.get_ref()).await;
        audit(
            &self.0,
            &caller,
            "DeleteApplication",
            "application",
            &request.get_ref().id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn regenerate_secret(
        &self,
        request: Request<pb::RegenerateSecretRequest>,
    ) -> Result<Response<pb::Credential>, Status> {
        let (caller, developer) = developer(&request)?;
        let id = request.get_ref().application_id.clone();
        let result = async {
            let app = self.app(&developer, &id, "application_id").await?;
            let (credential, secret) = self.0.regenerate_secret(&app).await?;
            Ok(Self::credential(
                &app,
                &credential,
                Some(secret.expose_secret()),
            ))
        }
        .await;
        audit(
            &self.0,
            &caller,
            "RegenerateSecret",
            "application",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn add_credential(
        &self,
        request: Request<pb::AddCredentialRequest>,
    ) -> Result<Response<pb::Credential>, Status> {
        let (caller, developer) = developer(&request)?;
        let id = request.get_ref().application_id.clone();
        let expire_time = request.get_ref().expire_time;
        let result = async {
            let expire_time = match expire_time {
                None => None,
                Some(t) => Some(
                    chrono::DateTime::from_timestamp(
                        t.seconds,
                        u32::try_from(t.nanos).unwrap_or(0),
                    )
                    .ok_or_else(|| ApiError::invalid("expire_time", "is not a valid time"))?,
                ),
            };
            let app = self.app(&developer, &id, "application_id").await?;
            let (credential, secret) = self.0.add_credential(&app, expire_time).await?;
            Ok(Self::credential(
                &app,
                &credential,
                Some(secret.expose_secret()),
            ))
        }
        .await;
        audit(
            &self.0,
            &caller,
            "AddCredential",
            "application",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn revoke_credential(
        &self,
        request: Request<pb::RevokeCredentialRequest>,
    ) -> Result<Response<pb::Credential>, Status> {
        let (caller, developer) = developer(&request)?;
        let r = request.get_ref();
        let result = async {
            let app = self
                .app(&developer, &r.application_id, "application_id")
                .await?;
            let credential_id: Uuid = parse_id("credential_id", &r.credential_id)?;
            let revoked = self.0.revoke_credential(&app, credential_id).await?;
            Ok(pb::Credential {
                idp_pending: revoked.idp_pending,
                ..Self::credential(&app, &revoked.credential, None)
            })
        }
        .await;
        audit(
            &self.0,
            &caller,
            "RevokeCredential",
            "credential",
            &r.credential_id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn list_credentials(
        &self,
        request: Request<pb::ListCredentialsRequest>,
    ) -> Result<Response<pb::ListCredentialsResponse>, Status> {
        let (_, developer) = developer(&request)?;
        let app = self
            .app(
                &developer,
                &request.get_ref().application_id,
                "application_id",
            )
            .await?;
        let credentials = self
            .0
            .store
            .list_credentials(app.id)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListCredentialsResponse {
            credentials: credentials
                .iter()
                .map(|c| Self::credential(&app, c, None))
                .collect(),
        }))
    }

    async fn create_registration(
        &self,
        request: Request<pb::CreateRegistrationRequest>,
    ) -> Result<Response<pb::Registration>, Status> {
        let (caller, developer) = developer(&request)?;
        let r = request.get_ref();
        let result = async {
            let app = self
                .app(&developer, &r.application_id, "application_id")
                .await?;
            let product = parse_id("product_id", &r.product_id)?;
            Ok(registration_to_proto(
                &self
                    .0
                    .create_registration(&app, product, r.scopes.clone())
                    .await?,
                &app.name,
                &app.owner,
            ))
        }
        .await;
        let id = result
            .as_ref()
            .map(|reg| reg.id.clone())
            .unwrap_or_default();
        audit(
            &self.0,
            &caller,
            "CreateRegistration",
            "registration",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn delete_registration(
        &self,
        request: Request<pb::DeleteRegistrationRequest>,
    ) -> Result<Response<pb::DeleteRegistrationResponse>, Status> {
        let (caller, developer) = developer(&request)?;
        let id = request.get_ref().id.clone();
        let result = async {
            let (app, registration) = self.registration(&developer, &id).await?;
            let idp_pending = self.0.delete_registration(&app, &registration).await?;
            Ok(pb::DeleteRegistrationResponse { idp_pending })
        }
        .await;
        audit(
            &self.0,
            &caller,
            "DeleteRegistration",
            "registration",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn list_registrations(
        &self,
        request: Request<pb::ListRegistrationsRequest>,
    ) -> Result<Response<pb::ListRegistrationsResponse>, Status> {
        let (_, developer) = developer(&request)?;
        let r = request.get_ref();
        // Always the caller's own: one application of theirs, or all of them.
        let app = if r.application_id.is_empty() {
            None
        } else {
            Some([self
                .app(&developer, &r.application_id, "application_id")
                .await?
                .id])
        };
        let filter = RegistrationFilter {
            application_ids: app.as_ref().map(|id| id.as_slice()),
            developer_id: Some(developer.as_str()),
            ..Default::default()
        };
        let page = self
            .0
            .store
            .list_registrations(&filter, &page_request(r.page_size, &r.page_token)?)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListRegistrationsResponse {
            registrations: page
                .items
                .iter()
                .map(listed_registration_to_proto)
                .collect(),
            next_page_token: next_page_token(page.next),
        }))
    }

    async fn list_catalog(
        &self,
        request: Request<pb::ListCatalogRequest>,
    ) -> Result<Response<pb::ListCatalogResponse>, Status> {
        developer(&request)?;
        let r = request.get_ref();
        let store = &self.0.store;
        let page = store
            .list_products(&page_request(r.page_size, &r.page_token)?)
            .await
            .map_err(ApiError::from)?;
        // A page holds few distinct strategies: read each once.
        let mut strategies = std::collections::HashMap::new();
        let mut products = Vec::with_capacity(page.items.len());
        for product in &page.items {
            let strategy = match strategies.entry(product.strategy_id) {
                std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
                std::collections::hash_map::Entry::Vacant(new) => new.insert(
                    store
                        .get_strategy(product.strategy_id)
                        .await
                        .map_err(ApiError::from)?,
                ),
            };
            // A product always has its strategy (a foreign key); a deleted one is skipped
            // rather than shown without the methods it takes.
            if let Some(strategy) = strategy {
                products.push(catalog_product_to_proto(product, strategy));
            }
        }
        Ok(Response::new(pb::ListCatalogResponse {
            products,
            next_page_token: next_page_token(page.next),
        }))
    }
}
