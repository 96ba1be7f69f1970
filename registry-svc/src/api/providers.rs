//! dcr.registry.v1.ProviderService (admin).

use dcr_common::auth::caller;
use dcr_common::error::ApiError;
use dcr_proto::registry::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert::parse_id;
use super::convert_provider::{apply_provider_update, parse_new_provider, provider_to_proto};
use super::{audit, next_page_token, page_request};
use crate::idp;
use crate::registry::Registry;

#[derive(Debug, Clone)]
pub struct ProviderApi(pub Registry);

impl ProviderApi {
    async fn create(&self, request: pb::CreateProviderRequest) -> Result<pb::Provider, ApiError> {
        let p = request
            .provider
            .ok_or_else(|| ApiError::invalid("provider", "is required"))?;
        let provider = parse_new_provider(p, self.0.settings.url_policy, self.0.clock.now())?;
        self.0.store.insert_provider(&provider).await?;
        tracing::info!(provider_id = %provider.id, kind = provider.provider_type().as_str(), "provider created");
        Ok(provider_to_proto(&provider))
    }

    async fn get(&self, id: &str) -> Result<crate::domain::Provider, ApiError> {
        let id = parse_id("id", id)?;
        self.0
            .store
            .get_provider(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("provider {id} not found")))
    }

    async fn update(&self, request: pb::UpdateProviderRequest) -> Result<pb::Provider, ApiError> {
        let p = request
            .provider
            .ok_or_else(|| ApiError::invalid("provider", "is required"))?;
        let stored = self.get(&p.id).await?;
        let updated = apply_provider_update(
            stored,
            p,
            request.update_mask,
            self.0.settings.url_policy,
            self.0.clock.now(),
        )?;
        self.0.store.update_provider(&updated).await?;
        Ok(provider_to_proto(&updated))
    }

    async fn delete(&self, id: &str) -> Result<pb::DeleteProviderResponse, ApiError> {
        self.0.store.delete_provider(parse_id("id", id)?).await?;
        Ok(pb::DeleteProviderResponse {})
    }

    async fn verify(&self, id: &str) -> Result<pb::VerifyProviderResponse, ApiError> {
        let provider = self.get(id).await?;
        match idp::adapter_for(&provider, &self.0.idp).verify().await {
            Ok(detail) => Ok(pb::VerifyProviderResponse { ok: true, detail }),
            Err(error) => Ok(pb::VerifyProviderResponse {
                ok: false,
                detail: error.to_string(),
            }),
        }
    }
}

#[tonic::async_trait]
impl pb::provider_service_server::ProviderService for ProviderApi {
    async fn create_provider(
        &self,
        request: Request<pb::CreateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let caller = caller(&request)?;
        let result = self.create(request.into_inner()).await;
        let id = result.as_ref().map(|p| p.id.clone()).unwrap_or_default();
        audit(&self.0, &caller, "CreateProvider", "provider", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn get_provider(
        &self,
        request: Request<pb::GetProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let provider = self.get(&request.get_ref().id).await?;
        Ok(Response::new(provider_to_proto(&provider)))
    }

    async fn list_providers(
        &self,
        request: Request<pb::ListProvidersRequest>,
    ) -> Result<Response<pb::ListProvidersResponse>, Status> {
        let r = request.get_ref();
        let page = self
            .0
            .store
            .list_providers(&page_request(r.page_size, &r.page_token)?)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListProvidersResponse {
            providers: page.items.iter().map(provider_to_proto).collect(),
            next_page_token: next_page_token(page.next),
        }))
    }

    async fn update_provider(
        &self,
        request: Request<pb::UpdateProviderRequest>,
    ) -> Result<Response<pb::Provider>, Status> {
        let caller = caller(&request)?;
        let id = request
            .get_ref()
            .provider
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let result = self.update(request.into_inner()).await;
        audit(&self.0, &caller, "UpdateProvider", "provider", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn delete_provider(
        &self,
        request: Request<pb::DeleteProviderRequest>,
    ) -> Result<Response<pb::DeleteProviderResponse>, Status> {
        let caller = caller(&request)?;
        let id = request.get_ref().id.clone();
        let result = self.delete(&id).await;
        audit(&self.0, &caller, "DeleteProvider", "provider", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn verify_provider(
        &self,
        request: Request<pb::VerifyProviderRequest>,
    ) -> Result<Response<pb::VerifyProviderResponse>, Status> {
        // Audited: it makes registry-svc present the stored secrets to the provider's URLs.
        let caller = caller(&request)?;
        let id = request.get_ref().id.clone();
        let result = self.verify(&id).await;
        audit(&self.0, &caller, "VerifyProvider", "provider", &id, &result).await;
        Ok(Response::new(result?))
    }
}
