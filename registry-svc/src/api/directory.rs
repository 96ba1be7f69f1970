//! dcr.registry.v1.DirectoryService (internal): client and product lookups, the
//! snapshots of every product and approved client, and the change stream.

use std::pin::Pin;

use dcr_common::error::ApiError;
use dcr_common::text::echo;
use dcr_proto::registry::v1 as pb;
use futures::Stream;
use secrecy::ExposeSecret as _;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::convert::{
    application_to_proto, change_to_proto, parse_id, product_to_proto, strategy_to_proto, timestamp,
};
use super::{PageSizes, next_page_token, sized_page_request};
use crate::domain::validate;
use crate::domain::{ApiProduct, Provider, ProviderConfig};
use crate::registry::Registry;
use crate::store::ApprovedClient;

/// The longest a token-svc issue record may be kept (RecordIssuedToken).
const MAX_ISSUED_TOKEN_LIFE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// Changes read per query while catching up.
const BATCH: i64 = 500;

/// directory.proto's page sizes: smaller for products, each of which costs the lookups of
/// its strategy and provider.
const PRODUCT_PAGES: PageSizes = PageSizes {
    default: 100,
    max: 1000,
};
const CLIENT_PAGES: PageSizes = PageSizes {
    default: 1000,
    max: 5000,
};

#[derive(Debug, Clone)]
pub struct DirectoryApi(pub Registry);

#[tonic::async_trait]
impl pb::directory_service_server::DirectoryService for DirectoryApi {
    async fn resolve_client(
        &self,
        request: Request<pb::ResolveClientRequest>,
    ) -> Result<Response<pb::ResolveClientResponse>, Status> {
        let client_id = &request.get_ref().client_id;
        if client_id.is_empty() || client_id.len() > 512 {
            return Err(ApiError::invalid("client_id", "must be 1-512 characters").into());
        }
        let resolved = self
            .0
            .store
            .resolve_client(client_id, self.0.clock.now())
            .await
            .map_err(ApiError::from)?
            .ok_or_else(|| ApiError::NotFound("client not found".into()))?;
        let ids = |ids: &[uuid::Uuid]| ids.iter().map(ToString::to_string).collect();
        Ok(Response::new(pb::ResolveClientResponse {
            application: Some(application_to_proto(&resolved.application)),
            strategy: Some(strategy_to_proto(&resolved.strategy)),
            provider_id: resolved.provider_id.to_string(),
            provider_type: resolved.provider_type,
            issuer: resolved.issuer,
            approved_product_ids: ids(&resolved.approved_product_ids),
            pending_product_ids: ids(&resolved.pending_product_ids),
            active_credential_ids: ids(&resolved.active_credential_ids),
            revoked_before: resolved.revoked_before.map(timestamp),
            revoked_secrets: resolved
                .revoked_fingerprints
                .iter()
                .map(|print| pb::SecretFingerprint {
                    salt: print.salt.to_vec(),
                    digest: print.digest.to_vec(),
                })
                .collect(),
            token_endpoint_auth_method: resolved
                .auth_method
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            issue_record_required: resolved.issue_records.always,
            issue_record_required_before: resolved.issue_records.before.map(timestamp),
        }))
    }

    async fn record_issued_token(
        &self,
        request: Request<pb::RecordIssuedTokenRequest>,
    ) -> Result<Response<pb::RecordIssuedTokenResponse>, Status> {
        let r = request.get_ref();
        let (client_id, digest) = issued_token_key(&r.client_id, &r.token_digest)?;
        let now = self.0.clock.now();
        let expire_time = r
            .expire_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
            .ok_or_else(|| ApiError::invalid("expire_time", "is required"))?;
        if expire_time > now + MAX_ISSUED_TOKEN_LIFE {
            return Err(ApiError::invalid("expire_time", "must be at most 24 hours ahead").into());
        }
        if expire_time > now {
            self.0
                .store
                .record_issued_token(client_id, digest, expire_time)
                .await
                .map_err(ApiError::from)?;
        }
        Ok(Response::new(pb::RecordIssuedTokenResponse {}))
    }

    async fn find_issued_token(
        &self,
        request: Request<pb::FindIssuedTokenRequest>,
    ) -> Result<Response<pb::FindIssuedTokenResponse>, Status> {
        let r = request.get_ref();
        let (client_id, digest) = issued_token_key(&r.client_id, &r.token_digest)?;
        let found = self
            .0
            .store
            .issued_token_found(client_id, digest, self.0.clock.now())
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::FindIssuedTokenResponse { found }))
    }

    async fn resolve_product(
        &self,
        request: Request<pb::ResolveProductRequest>,
    ) -> Result<Response<pb::ResolveProductResponse>, Status> {
        let message = request.get_ref();
        let found = match (message.product_id.as_str(), message.name.as_str()) {
            ("", "") => {
                return Err(
                    ApiError::invalid("product_id", "product_id or name is required").into(),
                );
            }
            (id, "") => {
                let id = parse_id("product_id", id)?;
                let found = self.0.store.get_product(id).await;
                found.map(|p| p.ok_or_else(|| format!("product {id} not found")))
            }
            ("", name) => {
                let name = validate::name(name).map_err(|e| ApiError::invalid("name", e))?;
                let found = self.0.store.get_product_by_name(&name).await;
                found.map(|p| p.ok_or_else(|| format!("no product is named \"{}\"", echo(&name))))
            }
            _ => {
                return Err(ApiError::invalid("name", "give product_id or name, not both").into());
            }
        };
        let product = found.map_err(ApiError::from)?.map_err(ApiError::NotFound)?;
        Ok(Response::new(self.resolved_product(&product).await?))
    }

    async fn list_directory_products(
        &self,
        request: Request<pb::ListDirectoryProductsRequest>,
    ) -> Result<Response<pb::ListDirectoryProductsResponse>, Status> {
        let r = request.get_ref();
        let page = sized_page_request(r.page_size, &r.page_token, PRODUCT_PAGES)?;
        let page = self
            .0
            .store
            .list_products(&page)
            .await
            .map_err(ApiError::from)?;
        let mut products = Vec::with_capacity(page.items.len());
        for product in &page.items {
            products.push(self.resolved_product(product).await?);
        }
        Ok(Response::new(pb::ListDirectoryProductsResponse {
            products,
            next_page_token: next_page_token(page.next),
        }))
    }

    async fn list_approved_clients(
        &self,
        request: Request<pb::ListApprovedClientsRequest>,
    ) -> Result<Response<pb::ListApprovedClientsResponse>, Status> {
        let r = request.get_ref();
        let page = sized_page_request(r.page_size, &r.page_token, CLIENT_PAGES)?;
        let page = self
            .0
            .store
            .list_approved_clients(&page)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::ListApprovedClientsResponse {
            clients: page.items.iter().map(approved_client_to_proto).collect(),
            next_page_token: next_page_token(page.next),
        }))
    }

    /// Introspection credentials only, and each hand-out is audited: management
    /// credentials never leave registry-svc.
    async fn get_provider_credentials(
        &self,
        request: Request<pb::GetProviderCredentialsRequest>,
    ) -> Result<Response<pb::GetProviderCredentialsResponse>, Status> {
        let caller = dcr_common::auth::caller(&request)?;
        let message = request.get_ref();
        let outcome = self.introspection_credentials(message).await;
        super::audit(
            &self.0,
            &caller,
            "GetProviderCredentials",
            "provider",
            &message.provider_id,
            &outcome,
        )
        .await;
        Ok(Response::new(outcome?))
    }

    type WatchChangesStream = Pin<Box<dyn Stream<Item = Result<pb::Change, Status>> + Send>>;

    /// Sends every change after `after_seq`, then follows new ones. The store's change
    /// signal is checked before each query, so a change that commits while we query
    /// wakes the next round instead of being missed.
    async fn watch_changes(
        &self,
        request: Request<pb::WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        let mut after = request.get_ref().after_seq;
        if after < 0 {
            return Err(ApiError::invalid("after_seq", "must not be negative").into());
        }
        let store = self.0.store.clone();
        if request.get_ref().start_at_end {
            after = store.latest_seq().await.map_err(ApiError::from)?;
        }
        let (tx, rx) = mpsc::channel(BATCH as usize);
        tokio::spawn(async move {
            let mut signal = store.change_signal();
            loop {
                signal.borrow_and_update();
                let changes = match store.changes_after(after, BATCH).await {
                    Ok(changes) => changes,
                    Err(error) => {
                        let _ = tx.send(Err(ApiError::from(error).into())).await;
                        return;
                    }
                };
                for change in &changes {
                    if tx.send(Ok(change_to_proto(change))).await.is_err() {
                        return; // the watcher went away
                    }
                    after = change.seq;
                }
                if changes.len() as i64 == BATCH {
                    continue; // more to catch up on
                }
                tokio::select! {
                    changed = signal.changed() => if changed.is_err() { return },
                    () = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

impl DirectoryApi {
    /// A product as ResolveProduct and ListDirectoryProducts answer it: with its strategy
    /// and provider.
    async fn resolved_product(
        &self,
        product: &ApiProduct,
    ) -> Result<pb::ResolveProductResponse, Status> {
        let (strategy, provider) = self.0.strategy_and_provider(product.strategy_id).await?;
        Ok(pb::ResolveProductResponse {
            product: Some(product_to_proto(product)),
            strategy: Some(strategy_to_proto(&strategy)),
            provider_id: provider.id.to_string(),
            provider_type: provider.provider_type().as_str().to_owned(),
            issuer: provider.issuer,
        })
    }

    async fn introspection_credentials(
        &self,
        message: &pb::GetProviderCredentialsRequest,
    ) -> Result<pb::GetProviderCredentialsResponse, ApiError> {
        let id = parse_id("provider_id", &message.provider_id)?;
        if message.purpose != pb::CredentialPurpose::Introspection as i32 {
            return Err(ApiError::invalid(
                "purpose",
                "only CREDENTIAL_PURPOSE_INTROSPECTION: management credentials never leave registry-svc",
            ));
        }
        let provider = self
            .0
            .store
            .get_provider(id)
            .await?
            .ok_or_else(|| ApiError::NotFound(format!("provider {id} not found")))?;
        let (client_id, client_secret) = introspection_client(&provider)?;
        tracing::info!(provider_id = %id, "introspection credentials handed to token-svc");
        Ok(pb::GetProviderCredentialsResponse {
            provider_id: provider.id.to_string(),
            provider_type: provider.provider_type().as_str().to_owned(),
            issuer: provider.issuer.clone(),
            client_id,
            client_secret,
            audience: String::new(),
        })
    }
}

fn approved_client_to_proto(client: &ApprovedClient) -> pb::ApprovedClient {
    pb::ApprovedClient {
        product_id: client.product_id.to_string(),
        client_id: client.client_id.clone(),
        application_id: client.application_id.to_string(),
        revoked_before: client.revoked_before.map(timestamp),
        issue_record_required: client.issue_records.always,
        issue_record_required_before: client.issue_records.before.map(timestamp),
    }
}

/// What names a token in token-svc's issue records: a client id and a SHA-256 digest.
fn issued_token_key<'a>(
    client_id: &'a str,
    digest: &'a [u8],
) -> Result<(&'a str, &'a [u8; 32]), ApiError> {
    if client_id.is_empty() || client_id.len() > 512 {
        return Err(ApiError::invalid("client_id", "must be 1-512 characters"));
    }
    let digest = digest
        .try_into()
        .map_err(|_| ApiError::invalid("token_digest", "must be a SHA-256 digest (32 bytes)"))?;
    Ok((client_id, digest))
}

/// The client that may call the provider's RFC 7662 introspection endpoint: its id and
/// secret.
fn introspection_client(provider: &Provider) -> Result<(String, String), ApiError> {
    match &provider.config {
        ProviderConfig::Rfc7591 {
            introspection_client_id: Some(client_id),
            ..
        }
        | ProviderConfig::Curity {
            introspection_client_id: Some(client_id),
            ..
        } => Ok((
            client_id.clone(),
            provider
                .secrets
                .introspection_client_secret
                .as_ref()
                .map(|s| s.expose_secret().to_owned())
                .unwrap_or_default(),
        )),
        other => Err(ApiError::FailedPrecondition(format!(
            "{} provider {} has no introspection client, so its opaque tokens cannot be \
             validated (rfc7591 and curity providers take introspection_client_id and \
             introspection_client_secret)",
            other.provider_type().as_str(),
            provider.id
        ))),
    }
}
