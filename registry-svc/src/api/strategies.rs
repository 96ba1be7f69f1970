//! dcr.registry.v1.StrategyService (admin).

use dcr_common::auth::caller;
use dcr_common::error::ApiError;
use dcr_proto::registry::v1 as pb;
use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::convert::{apply_strategy_update, parse_id, parse_new_strategy, strategy_to_proto};
use super::{audit, next_page_token, page_request};
use crate::domain::{AuthStrategy, ProviderType};
use crate::registry::Registry;

#[derive(Debug, Clone)]
pub struct StrategyApi(pub Registry);

impl StrategyApi {
    async fn provider_type(
        &self,
        provider_id: Uuid,
        field: &str,
    ) -> Result<ProviderType, ApiError> {
        match self.0.store.get_provider(provider_id).await? {
            Some(provider) => Ok(provider.provider_type()),
            None => Err(ApiError::invalid(
                field,
                format!("provider {provider_id} does not exist"),
            )),
        }
    }

    async fn create(
        &self,
        request: pb::CreateStrategyRequest,
    ) -> Result<pb::AuthStrategy, ApiError> {
        let s = request
            .strategy
            .ok_or_else(|| ApiError::invalid("strategy", "is required"))?;
        let provider_id = parse_id("strategy.provider_id", &s.provider_id)?;
        let kind = self
            .provider_type(provider_id, "strategy.provider_id")
            .await?;
        let strategy = parse_new_strategy(&s, kind, self.0.clock.now())?;
        self.0.store.insert_strategy(&strategy).await?;
        Ok(strategy_to_proto(&strategy))
    }

    async fn get(&self, id: &str) -> Result<AuthStrategy, ApiError> {
        let id = parse_id("id", id)?;
        self.0
            .store
            .get_strategy(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("strategy {id} not found")))
    }

    async fn update(
        &self,
        request: pb::UpdateStrategyRequest,
    ) -> Result<pb::AuthStrategy, ApiError> {
        let s = request
            .strategy
            .ok_or_else(|| ApiError::invalid("strategy", "is required"))?;
        let stored = self.get(&s.id).await?;
        let kind = self
            .provider_type(stored.provider_id, "strategy.provider_id")
            .await?;
        let updated =
            apply_strategy_update(stored, &s, request.update_mask, kind, self.0.clock.now())?;
        self.0.store.update_strategy(&updated).await?;
        Ok(strategy_to_proto(&updated))
    }
}

#[tonic::async_trait]
impl pb::strategy_service_server::StrategyService for StrategyApi {
    async fn create_strategy(
        &self,
        request: Request<pb::CreateStrategyRequest>,
    ) -> Result<Response<pb::AuthStrategy>, Status> {
        let caller = caller(&request)?;
        let result = self.create(request.into_inner()).await;
        let id = result.as_ref().map(|s| s.id.clone()).unwrap_or_default();
        audit(&self.0, &caller, "CreateStrategy", "strategy", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn get_strategy(
        &self,
        request: Request<pb::GetStrategyRequest>,
    ) -> Result<Response<pb::AuthStrategy>, Status> {
        Ok(Response::new(strategy_to_proto(
            &self.get(&request.get_ref().id).await?,
        )))
    }

    async fn list_strategies(
        &self,
        request: Request<pb::ListStrategiesRequest>,
    ) -> Result<Response<pb::ListStrategiesResponse>, Status> {
        let r = request.get_ref();
        let page = self
            .0
            .store
            .list_strategies(&page_request(r.page_size, &r.page_token)?)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListStrategiesResponse {
            strategies: page.items.iter().map(strategy_to_proto).collect(),
            next_page_token: next_page_token(page.next),
        }))
    }

    async fn update_strategy(
        &self,
        request: Request<pb::UpdateStrategyRequest>,
    ) -> Result<Response<pb::AuthStrategy>, Status> {
        let caller = caller(&request)?;
        let id = request
            .get_ref()
            .strategy
            .as_ref()
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let result = self.update(request.into_inner()).await;
        audit(&self.0, &caller, "UpdateStrategy", "strategy", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn delete_strategy(
        &self,
        request: Request<pb::DeleteStrategyRequest>,
    ) -> Result<Response<pb::DeleteStrategyResponse>, Status> {
        let caller = caller(&request)?;
        let id = request.get_ref().id.clone();
        let result = async {
            self.0.store.delete_strategy(parse_id("id", &id)?).await?;
            Ok(pb::DeleteStrategyResponse {})
        }
        .await;
        audit(&self.0, &caller, "DeleteStrategy", "strategy", &id, &result).await;
        Ok(Response::new(result?))
    }
}
