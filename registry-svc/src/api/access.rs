//! Who may call what, for every registry method, in one place. A caller is either a
//! machine holding a static role token (admin automation, a portal backend acting for
//! the developer it names, dcr's own services) or a person signed in through the
//! identity provider, whose roles come from their groups. Each gRPC service is wrapped
//! in [`Guarded`], which authenticates the caller, checks the method's policy, and puts
//! the [`Caller`] in the request for the handler and the audit log.
//!
//! No token, or one that is neither a known static token nor a valid person's token:
//! UNAUTHENTICATED. A caller whose role the method does not allow: PERMISSION_DENIED,
//! naming the roles it needs. The identity provider's keys out of reach: UNAVAILABLE.

use std::sync::Arc;
use std::task::{Context, Poll};

use dcr_common::auth::{Authenticator, Caller, Role, portal_developer};
use dcr_common::clock::SharedClock;
use dcr_common::person::PersonRole;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http;
use tonic::metadata::MetadataMap;
use tonic::server::NamedService;

use crate::identity::{Identity, Refused, looks_like_jwt};

/// The people roles each registry method allows (machine roles are per service).
pub fn people_allowed(service: &str, method: &str) -> &'static [PersonRole] {
    use PersonRole::*;
    const READERS: &[PersonRole] = &[Admin, ProviderAdmin, Approver, Viewer];
    const CONFIG_READERS: &[PersonRole] = &[Admin, ProviderAdmin, Viewer];
    const CONFIG_WRITERS: &[PersonRole] = &[Admin, ProviderAdmin];
    const APPROVERS: &[PersonRole] = &[Admin, Approver];
    let reads = method.starts_with("Get") || method.starts_with("List");
    match service {
        "dcr.registry.v1.ProviderService" | "dcr.registry.v1.StrategyService" => match method {
            // Repairs and forgets change state: not for viewers.
            "GetDriftReport" | "VerifyProvider" => CONFIG_WRITERS,
            "ForgetApplication" => &[Admin],
            _ if reads => CONFIG_READERS,
            _ => CONFIG_WRITERS,
        },
        "dcr.registry.v1.ProductService" => match method {
            "ListRegistrations" => &[Admin, Approver, Viewer],
            "ApproveRegistration" | "RejectRegistration" => APPROVERS,
            _ if reads => READERS,
            _ => &[Admin],
        },
        "dcr.registry.v1.AuditService" => &[Admin, Approver, Viewer],
        // Who am I: anyone signed in.
        "dcr.registry.v1.IdentityService" => &[Admin, ProviderAdmin, Approver, Viewer, Developer],
        // Every signed-in person is a developer of their own applications (and acts as
        // one there, whatever else they may be).
        "dcr.registry.v1.ApplicationService" => &[Developer],
        // dcr's own services only.
        _ => &[],
    }
}

/// Authenticates callers of one service.
#[derive(Debug)]
pub struct Access {
    callers: Authenticator,
    identity: Option<Arc<Identity>>,
    clock: SharedClock,
}

impl Access {
    pub fn new(
        callers: Authenticator,
        identity: Option<Arc<Identity>>,
        clock: SharedClock,
    ) -> Self {
        Self {
            callers,
            identity,
            clock,
        }
    }

    /// Wraps a gRPC service whose machine callers are `machine`.
    pub fn guard<S>(self: &Arc<Self>, machine: &'static [Role], inner: S) -> Guarded<S> {
        Guarded {
            inner,
            access: self.clone(),
            machine,
        }
    }

    async fn authenticate(
        &self,
        path: &str,
        metadata: &MetadataMap,
        machine: &'static [Role],
    ) -> Result<Caller, Status> {
        let presented = metadata
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
        if let Some(role) = self.callers.identify(presented) {
            return machine_caller(role, machine, metadata);
        }
        let Some(identity) = self.identity.as_ref().filter(|_| looks_like_jwt(presented)) else {
            return Err(Status::unauthenticated("invalid bearer token"));
        };
        let person = identity
            .person(presented, self.clock.now())
            .await
            .map_err(|refused| match refused {
                Refused::Invalid(why) => {
                    Status::unauthenticated(format!("invalid bearer token: {why}"))
                }
                Refused::Unavailable(why) => Status::unavailable(why),
            })?;
        let (service, method) = split_path(path);
        let allowed = people_allowed(service, method);
        match person.role_for(allowed) {
            Some(role) => Ok(Caller::Person(person, role)),
            None => Err(Status::permission_denied(needs(
                &person.roles,
                allowed,
                method,
            ))),
        }
    }
}

fn machine_caller(
    role: Role,
    machine: &'static [Role],
    metadata: &MetadataMap,
) -> Result<Caller, Status> {
    if !machine.contains(&role) {
        let needed: Vec<_> = machine.iter().map(|r| r.name()).collect();
        return Err(Status::permission_denied(format!(
            "the {} token may not call this method; it needs the {} token",
            role.name(),
            needed.join(" or ")
        )));
    }
    Ok(match role {
        Role::Admin => Caller::Admin,
        Role::Gateway => Caller::Gateway,
        Role::Service => Caller::Service,
        Role::Portal => Caller::Developer(portal_developer(metadata)?),
    })
}

/// "CreateProvider needs the admin or provider-admin role; you have developer, viewer".
fn needs(held: &[PersonRole], allowed: &[PersonRole], method: &str) -> String {
    let names = |roles: &[PersonRole]| {
        roles
            .iter()
            .map(|r| r.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if allowed.is_empty() {
        return format!("{method} is for dcr's own services, not for people");
    }
    format!(
        "{method} needs the {} role; you have {}",
        names(allowed).replace(", ", " or "),
        names(held)
    )
}

/// "/dcr.registry.v1.ProviderService/CreateProvider" -> (service, method).
fn split_path(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}

type GuardedFuture<E> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<http::Response<Body>, E>> + Send>>;

/// A gRPC service behind [`Access`].
#[derive(Debug)]
pub struct Guarded<S> {
    inner: S,
    access: Arc<Access>,
    machine: &'static [Role],
}

impl<S: Clone> Clone for Guarded<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            access: self.access.clone(),
            machine: self.machine,
        }
    }
}

impl<S: NamedService> NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> tower::Service<http::Request<Body>> for Guarded<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = GuardedFuture<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> GuardedFuture<S::Error> {
        // The ready service answers this call; its clone waits for the next one.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let access = self.access.clone();
        let machine = self.machine;
        Box::pin(async move {
            let metadata = MetadataMap::from_headers(request.headers().clone());
            let path = request.uri().path().to_owned();
            match access.authenticate(&path, &metadata, machine).await {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_person_is_a_developer_and_only_services_read_the_directory() {
        let apps = people_allowed("dcr.registry.v1.ApplicationService", "CreateApplication");
        assert_eq!(apps, [PersonRole::Developer]);
        for method in [
            "ResolveClient",
            "ListDirectoryProducts",
            "ListApprovedClients",
            "RecordIssuedToken",
            "FindIssuedToken",
        ] {
            assert!(people_allowed("dcr.registry.v1.DirectoryService", method).is_empty());
        }
        let create = people_allowed("dcr.registry.v1.ProviderService", "CreateProvider");
        assert_eq!(create, [PersonRole::Admin, PersonRole::ProviderAdmin]);
        let approve = people_allowed("dcr.registry.v1.ProductService", "ApproveRegistration");
        assert_eq!(approve, [PersonRole::Admin, PersonRole::Approver]);
    }

    #[test]
    fn a_refusal_names_the_roles_needed_and_held() {
        let message = needs(
            &[PersonRole::Viewer, PersonRole::Developer],
            &[PersonRole::Admin, PersonRole::ProviderAdmin],
            "CreateProvider",
        );
        assert_eq!(
            message,
            "CreateProvider needs the admin or provider-admin role; you have viewer, developer"
        );
    }
}
