//! The gRPC edge: each service parses requests into domain types, calls the registry,
//! records the audit event, and converts the result back. Errors become `Status` in one
//! place (`dcr_common::error`).

mod access;
mod applications;
mod audit;
pub mod convert;
pub mod convert_provider;
mod directory;
mod drift;
mod identity;
mod products;
mod providers;
mod strategies;

use base64::Engine as _;
use std::sync::Arc;

use dcr_common::auth::{Authenticator, Caller, CallerTokens, Role};
use dcr_common::error::ApiError;
use dcr_common::server::ServiceSet;
use dcr_proto::registry::v1 as pb;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::identity::Identity;
use crate::registry::Registry;
use crate::store::{AuditEvent, PageRequest};

pub use access::people_allowed;
pub use applications::ApplicationApi;
pub use audit::AuditApi;
pub use directory::DirectoryApi;
pub use identity::IdentityApi;
pub use products::ProductApi;
pub use providers::ProviderApi;
pub use strategies::StrategyApi;

/// What page_size 0 means, and the largest page a list returns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageSizes {
    pub default: i32,
    pub max: i32,
}

/// The page sizes of every list but the directory's snapshots (api/directory.rs).
const PAGE_SIZES: PageSizes = PageSizes {
    default: 50,
    max: 500,
};

/// Every registry service, each behind its callers' authentication: the static machine
/// tokens, and people's tokens when an identity provider is configured.
pub fn services(
    registry: &Registry,
    tokens: &CallerTokens,
    identity: Option<Arc<Identity>>,
) -> ServiceSet {
    use pb::application_service_server::ApplicationServiceServer;
    use pb::audit_service_server::AuditServiceServer;
    use pb::directory_service_server::DirectoryServiceServer;
    use pb::identity_service_server::IdentityServiceServer;
    use pb::product_service_server::ProductServiceServer;
    use pb::provider_service_server::ProviderServiceServer;
    use pb::strategy_service_server::StrategyServiceServer;

    let access = Arc::new(access::Access::new(
        Authenticator::new(tokens),
        identity,
        registry.clock.clone(),
    ));
    const ADMIN: &[Role] = &[Role::Admin];
    let routes = Routes::new(access.guard(
        ADMIN,
        ProviderServiceServer::new(ProviderApi(registry.clone())),
    ))
    .add_service(access.guard(
        ADMIN,
        StrategyServiceServer::new(StrategyApi(registry.clone())),
    ))
    .add_service(access.guard(
        ADMIN,
        ProductServiceServer::new(ProductApi(registry.clone())),
    ))
    .add_service(access.guard(ADMIN, AuditServiceServer::new(AuditApi(registry.clone()))))
    .add_service(access.guard(
        &[Role::Portal],
        ApplicationServiceServer::new(ApplicationApi(registry.clone())),
    ))
    .add_service(access.guard(
        &[Role::Service],
        DirectoryServiceServer::new(DirectoryApi(registry.clone())),
    ))
    .add_service(access.guard(&Role::ALL, IdentityServiceServer::new(IdentityApi)));
    ServiceSet {
        routes,
        names: vec![
            ProviderServiceServer::<ProviderApi>::NAME,
            StrategyServiceServer::<StrategyApi>::NAME,
            ProductServiceServer::<ProductApi>::NAME,
            AuditServiceServer::<AuditApi>::NAME,
            ApplicationServiceServer::<ApplicationApi>::NAME,
            DirectoryServiceServer::<DirectoryApi>::NAME,
            IdentityServiceServer::<IdentityApi>::NAME,
        ],
        // Migrations ran before serving: ready at once.
        ready: None,
        tls: None,
    }
}

/// AIP-158 paging: page_size 0 means the default, larger ones are capped; page tokens
/// are opaque (base64url of the store's cursor).
pub(crate) fn page_request(page_size: i32, page_token: &str) -> Result<PageRequest, ApiError> {
    sized_page_request(page_size, page_token, PAGE_SIZES)
}

/// `page_request` for a list with its own page sizes.
pub(crate) fn sized_page_request(
    page_size: i32,
    page_token: &str,
    sizes: PageSizes,
) -> Result<PageRequest, ApiError> {
    if page_size < 0 {
        return Err(ApiError::invalid("page_size", "must not be negative"));
    }
    let size = if page_size == 0 {
        sizes.default
    } else {
        page_size.min(sizes.max)
    };
    let after = if page_token.is_empty() {
        None
    } else {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(page_token)
            .map_err(|_| ApiError::invalid("page_token", "is not a token this API returned"))?;
        Some(
            String::from_utf8(bytes)
                .map_err(|_| ApiError::invalid("page_token", "is not a token this API returned"))?,
        )
    };
    Ok(PageRequest {
        size: usize::try_from(size).unwrap_or(50),
        after,
    })
}

pub(crate) fn next_page_token(next: Option<String>) -> String {
    next.map(|cursor| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cursor))
        .unwrap_or_default()
}

/// Records one admin or portal change with its outcome. An audit write that fails is
/// logged loudly but does not undo a change that already committed.
pub(crate) async fn audit<T>(
    registry: &Registry,
    caller: &Caller,
    action: &str,
    resource_type: &str,
    resource_id: &str,
    outcome: &Result<T, ApiError>,
) {
    let event = AuditEvent {
        id: 0,
        time: registry.clock.now(),
        actor: caller.audit_name(),
        role: caller.audit_role(),
        actor_name: match caller {
            Caller::Person(person, _) => person.name.clone(),
            _ => None,
        },
        actor_email: match caller {
            Caller::Person(person, _) => person.email.clone(),
            _ => None,
        },
        action: action.to_owned(),
        resource_type: resource_type.to_owned(),
        resource_id: resource_id.to_owned(),
        outcome: match outcome {
            Ok(_) => "ok".to_owned(),
            Err(error) => format!("{:?}", error.code()),
        },
    };
    if let Err(error) = registry.store.record_audit(&event).await {
        tracing::error!(%error, action, resource_id, "could not record the audit event");
    }
}
