//! dcr.registry.v1.ProviderService (admin).

use std::time::Duration;

use dcr_common::auth::caller;
use dcr_common::error::ApiError;
use dcr_proto::registry::v1 as pb;
use tonic::{Request, Response, Status};

use super::convert::parse_id;
use super::convert_provider::{apply_provider_update, parse_new_provider, provider_to_proto};
use super::{audit, next_page_token, page_request};
use crate::domain::{Provider, ProviderConfig};
use crate::idp::{self, ProbeFailure};
use crate::registry::Registry;

/// How long saving a provider waits for its issuer's discovery before saving anyway with
/// a warning: long enough for a healthy IdP, short enough for an admin at a prompt.
const ISSUER_PROBE: Duration = Duration::from_secs(3);

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
        Ok(self.saved(&provider).await)
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
        Ok(self.saved(&updated).await)
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
                detail: naming_urls_tried(error.to_string(), &verified_urls(&provider)),
            }),
        }
    }

    /// The answer to a create or update: the provider, with a warning when its issuer
    /// does not answer discovery (where gateways find the keys that check its tokens).
    /// The provider is saved either way: the IdP may be down for a while, or not reachable
    /// from here yet. Only admin calls get here, and the issuer passed the URL policy
    /// (`validate::issuer`), so this probe goes nowhere an admin could not already send
    /// registry-svc with VerifyProvider.
    async fn saved(&self, provider: &Provider) -> pb::Provider {
        let mut answer = provider_to_proto(provider);
        let probe = self.0.idp.discovery.probe(&provider.issuer, ISSUER_PROBE);
        if let Err(failure) = probe.await {
            answer.warnings.push(issuer_warning(provider, &failure));
        }
        answer
    }
}

/// The warning for an issuer whose discovery failed. The name and issuer are quoted
/// whole, not `dcr_common::text::echo`ed: they passed validation (bounded, one line), and
/// a cut one would be no command or address the admin can use.
fn issuer_warning(provider: &Provider, failure: &ProbeFailure) -> String {
    let issuer = &provider.issuer;
    let verify = format!("run `dcrctl providers verify {}`", provider.name);
    match failure {
        ProbeFailure::NoAnswer(cause) => format!(
            "the issuer {issuer} did not answer ({cause}); the provider was saved, but tokens \
             cannot be checked until it does: {verify}"
        ),
        ProbeFailure::BadAnswer(cause) => format!(
            "the issuer {issuer} answered, but not with its OpenID discovery document \
             ({cause}); the provider was saved, but tokens cannot be checked until it \
             publishes one at {issuer}/.well-known/openid-configuration: {verify}"
        ),
    }
}

/// The URLs VerifyProvider talks to, as configured (discovered endpoints are found
/// through the issuer), so that a failure says what was tried, as a success does.
fn verified_urls(provider: &Provider) -> Vec<String> {
    match &provider.config {
        ProviderConfig::HttpBridge { dcr_base_url, .. } => vec![dcr_base_url.to_string()],
        ProviderConfig::Rfc7591 {
            registration_endpoint: Some(endpoint),
            ..
        } => vec![endpoint.to_string()],
        // The org's management API, as the Okta adapter derives it from the issuer.
        ProviderConfig::Okta {
            management_client_id,
            ..
        } => {
            let issuer = provider.issuer.trim_end_matches('/');
            let org = issuer.find("/oauth2/").map_or(issuer, |at| &issuer[..at]);
            match management_client_id {
                // A service app gets its tokens at the org authorization server first.
                Some(_) => vec![format!("{org}/oauth2/v1/token"), org.to_owned()],
                None => vec![org.to_owned()],
            }
        }
        ProviderConfig::AzureAd { graph_base_url, .. } => vec![
            provider.issuer.clone(),
            graph_base_url
                .as_ref()
                .map_or_else(|| idp::DEFAULT_GRAPH.to_owned(), ToString::to_string),
        ],
        ProviderConfig::Rfc7591 { .. }
        | ProviderConfig::Auth0 { .. }
        | ProviderConfig::Curity { .. } => vec![provider.issuer.clone()],
    }
}

/// `detail`, followed by the URLs it does not already name.
fn naming_urls_tried(detail: String, urls: &[String]) -> String {
    let unnamed: Vec<String> = urls
        .iter()
        .filter(|url| !detail.contains(url.as_str()))
        .cloned()
        .collect();
    if unnamed.is_empty() {
        detail
    } else {
        format!("{detail} (tried {})", unnamed.join(" and "))
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

    async fn get_drift_report(
        &self,
        request: Request<pb::GetDriftReportRequest>,
    ) -> Result<Response<pb::DriftReport>, Status> {
        let caller = caller(&request)?;
        let report = super::drift::get_drift_report(&self.0, &caller, request.get_ref()).await?;
        Ok(Response::new(report))
    }

    async fn forget_application(
        &self,
        request: Request<pb::ForgetApplicationRequest>,
    ) -> Result<Response<pb::ForgetApplicationResponse>, Status> {
        let caller = caller(&request)?;
        let id = request.get_ref().application_id.clone();
        let result = async {
            let uuid = super::convert::parse_id("application_id", &id)?;
            let client_id = self.0.forget_application(uuid).await?;
            Ok(pb::ForgetApplicationResponse { client_id })
        }
        .await;
        audit(
            &self.0,
            &caller,
            "ForgetApplication",
            "application",
            &id,
            &result,
        )
        .await;
        Ok(Response::new(result?))
    }
}
