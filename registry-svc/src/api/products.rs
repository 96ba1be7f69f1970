//! dcr.registry.v1.ProductService (admin): products and the approval of registrations.

use dcr_common::auth::caller;
use dcr_common::error::ApiError;
use dcr_proto::registry::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert::{
    apply_product_update, listed_registration_to_proto, parse_id, parse_new_product,
    product_to_proto, registration_to_proto,
};
use super::{audit, next_page_token, page_request};
use crate::domain::{ApiProduct, RegistrationStatus};
use crate::registry::Registry;
use crate::store::RegistrationFilter;

#[derive(Debug, Clone)]
pub struct ProductApi(pub Registry);

impl ProductApi {
    async fn require_strategy(&self, product: &ApiProduct) -> Result<(), ApiError> {
        match self.0.store.get_strategy(product.strategy_id).await? {
            Some(_) => Ok(()),
            None => Err(ApiError::invalid(
                "product.strategy_id",
                format!("strategy {} does not exist", product.strategy_id),
            )),
        }
    }

    async fn create(&self, request: pb::CreateProductRequest) -> Result<pb::ApiProduct, ApiError> {
        let p = request
            .product
            .ok_or_else(|| ApiError::invalid("product", "is required"))?;
        let product = parse_new_product(&p, self.0.clock.now())?;
        self.require_strategy(&product).await?;
        self.0.store.insert_product(&product).await?;
        Ok(product_to_proto(&product))
    }

    async fn get(&self, id: &str) -> Result<ApiProduct, ApiError> {
        let id = parse_id("id", id)?;
        self.0
            .store
            .get_product(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("product {id} not found")))
    }

    async fn update(&self, request: pb::UpdateProductRequest) -> Result<pb::ApiProduct, ApiError> {
        let p = request
            .product
            .ok_or_else(|| ApiError::invalid("product", "is required"))?;
        let stored = self.get(&p.id).await?;
        let old_strategy = stored.strategy_id;
        let updated = apply_product_update(stored, &p, request.update_mask, self.0.clock.now())?;
        if updated.strategy_id != old_strategy {
            self.require_strategy(&updated).await?;
            let registered = self
                .0
                .store
                .list_registrations(
                    &RegistrationFilter {
                        product_id: Some(updated.id),
                        ..Default::default()
                    },
                    &Default::default(),
                )
                .await?;
            if !registered.items.is_empty() {
                return Err(ApiError::FailedPrecondition(
                    "the product's strategy cannot change while applications are registered to it"
                        .into(),
                ));
            }
        }
        self.0.store.update_product(&updated).await?;
        Ok(product_to_proto(&updated))
    }

    async fn set_status(
        &self,
        id: &str,
        status: RegistrationStatus,
    ) -> Result<pb::Registration, ApiError> {
        let (registration, idp_pending) = self
            .0
            .set_registration_status(parse_id("id", id)?, status)
            .await?;
        // One read by primary key, so the answer names the application as lists do.
        let app = self
            .0
            .store
            .get_application(registration.application_id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("registration {id} not found")))?;
        Ok(pb::Registration {
            idp_pending,
            ..registration_to_proto(&registration, &app.name, &app.owner)
        })
    }
}

#[tonic::async_trait]
impl pb::product_service_server::ProductService for ProductApi {
    async fn create_product(
        &self,
        request: Request<pb::CreateProductRequest>,
    ) -> Result<Response<pb::ApiProduct>, Status> {
        let caller = caller(&request)?;
        let result = self.create(request.into_inner()).await;
        let id = result.as_ref().map(|p| p.id.clone()).unwrap_or_default();
        audit(&self.0, &caller, "CreateProduct", "product", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn get_product(
        &self,
        request: Request<pb::GetProductRequest>,
    ) -> Result<Response<pb::ApiProduct>, Status> {
        Ok(Response::new(product_to_proto(
            &self.get(&request.get_ref().id).await?,
        )))
    }

    async fn list_products(
        &self,
        request: Request<pb::ListProductsRequest>,
    ) -> Result<Response<pb::ListProductsResponse>, Status> {
        let r = request.get_ref();
        let page = self
            .0
            .store
            .list_products(&page_request(r.page_size, &r.page_token)?)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListProductsResponse {
            products: page.items.iter().map(product_to_proto).collect(),
            next_page_token: next_page_token(page.next),
        }))
    }

    async fn update_product(
        &self,
        request: Request<pb::UpdateProductRequest>,
    ) -> Result<Response<pb::ApiProduct>, Status> {
        let caller = caller(&request)?;
        let id = request
            .get_ref()
            .product
            .as_ref()
            .map(|p| p.id.clone())
            .unwrap_or_default();
        let result = self.update(request.into_inner()).await;
        audit(&self.0, &caller, "UpdateProduct", "product", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn delete_product(
        &self,
        request: Request<pb::DeleteProductRequest>,
    ) -> Result<Response<pb::DeleteProductResponse>, Status> {
        let caller = caller(&request)?;
        let id = request.get_ref().id.clone();
        let result = async {
            self.0.store.delete_product(parse_id("id", &id)?).await?;
            Ok(pb::DeleteProductResponse {})
        }
        .await;
        audit(&self.0, &caller, "DeleteProduct", "product", &id, &result).await;
        Ok(Response::new(result?))
    }

    async fn list_registrations(
        &self,
        request: Request<pb::ListProductRegistrationsRequest>,
    ) -> Result<Response<pb::ListRegistrationsResponse>, Status> {
        let r = request.get_ref();
        let product = if r.product_id.is_empty() {
            None
        } else {
            Some(parse_id("product_id", &r.product_id)?)
        };
        let status = match pb::RegistrationStatus::try_from(r.status) {
            Ok(pb::RegistrationStatus::Unspecified) => None,
            Ok(pb::RegistrationStatus::Pending) => Some(RegistrationStatus::Pending),
            Ok(pb::RegistrationStatus::Approved) => Some(RegistrationStatus::Approved),
            Ok(pb::RegistrationStatus::Rejected) => Some(RegistrationStatus::Rejected),
            Err(_) => {
                return Err(ApiError::invalid("status", "is not a registration status").into());
            }
        };
        let application = if r.application_id.is_empty() {
            None
        } else {
            Some([parse_id("application_id", &r.application_id)?])
        };
        let filter = RegistrationFilter {
            application_ids: application.as_ref().map(|id| id.as_slice()),
            product_id: product,
            status,
            developer_id: Some(r.developer_id.as_str()).filter(|d| !d.is_empty()),
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

    async fn approve_registration(
        &self,
        request: Request<pb::ApproveRegistrationRequest>,
    ) -> Result<Response<pb::Registration>, Status> {
        let caller = caller(&request)?;
        let id = request.get_ref().id.clone();
        let result = self.set_status(&id, RegistrationStatus::Approved).await;
        audit(
            &self.0,
            &caller,
            "ApproveRegistration",
            "registration",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }

    async fn reject_registration(
        &self,
        request: Request<pb::RejectRegistrationRequest>,
    ) -> Result<Response<pb::Registration>, Status> {
        let caller = caller(&request)?;
        let id = request.get_ref().id.clone();
        let result = self.set_status(&id, RegistrationStatus::Rejected).await;
        audit(
            &self.0,
            &caller,
            "RejectRegistration",
            "registration",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }
}
