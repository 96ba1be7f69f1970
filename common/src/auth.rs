//! Caller authentication for gRPC: `authorization: Bearer <token>` metadata compared in
//! constant time against the token of the caller's role (DCR_ADMIN_TOKEN,
//! DCR_PORTAL_TOKEN, DCR_SERVICE_TOKEN). Portal calls also name the developer they act for
//! in `x-dcr-developer-id`. The authenticated caller is put in the request extensions.

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tonic::service::Interceptor;
use tonic::{Request, Status};

pub const DEVELOPER_HEADER: &str = "x-dcr-developer-id";
const MAX_DEVELOPER_ID_LEN: usize = 128;

/// Who is calling, as proven by the interceptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Developer(String),
    Service,
}

impl Caller {
    /// The name recorded in the audit log.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Admin => "admin".to_owned(),
            Self::Developer(id) => format!("developer:{id}"),
            Self::Service => "service".to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Portal,
    Service,
}

/// Checks one role's bearer token. Compares SHA-256 digests so neither the content nor
/// the length of the expected token leaks through timing.
#[derive(Clone)]
pub struct BearerAuth {
    role: Role,
    expected: [u8; 32],
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl BearerAuth {
    pub fn new(role: Role, token: &SecretString) -> Self {
        Self {
            role,
            expected: digest(token.expose_secret().as_bytes()),
        }
    }

    /// Checks one request; for services where only some methods need this role.
    pub fn authenticate<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        let presented = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
        if !bool::from(digest(presented.as_bytes()).ct_eq(&self.expected)) {
            return Err(Status::unauthenticated("invalid bearer token"));
        }
        match self.role {
            Role::Admin => Ok(Caller::Admin),
            Role::Service => Ok(Caller::Service),
            Role::Portal => {
                let developer = request
                    .metadata()
                    .get(DEVELOPER_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::trim)
                    .unwrap_or_default();
                if developer.is_empty() || developer.len() > MAX_DEVELOPER_ID_LEN {
                    return Err(Status::invalid_argument(format!(
                        "portal calls need the {DEVELOPER_HEADER} metadata (1 to {MAX_DEVELOPER_ID_LEN} characters)"
                    )));
                }
                Ok(Caller::Developer(developer.to_owned()))
            }
        }
    }
}

impl Interceptor for BearerAuth {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = self.authenticate(&request)?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The service token as outgoing gRPC metadata, parsed once: what one dcr service
/// presents when it calls another's internal API.
#[derive(Clone)]
pub struct ServiceCredentials(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl std::fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceCredentials(..)")
    }
}

impl ServiceCredentials {
    pub fn new(token: &SecretString) -> Result<Self, crate::config::ConfigError> {
        format!("Bearer {}", token.expose_secret())
            .parse()
            .map(Self)
            .map_err(|_| {
                crate::config::ConfigError::new("DCR_SERVICE_TOKEN", "must be printable ASCII")
            })
    }

    /// `message` as a request carrying the service token, the id of the request being
    /// served (if any), so the callee's logs tie to the caller's, and (with trace export
    /// on) the current trace context.
    pub fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        if let Some(id) = crate::request_id::current().and_then(|id| id.parse().ok()) {
            request.metadata_mut().insert(crate::request_id::HEADER, id);
        }
        crate::otel::inject_current(request.metadata_mut());
        request
    }
}

/// The caller the interceptor stored; a handler reached without one is a wiring bug,
/// and it fails closed.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("unauthenticated"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn request(token: Option<&str>, developer: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        if let Some(developer) = developer {
            request
                .metadata_mut()
                .insert(DEVELOPER_HEADER, developer.parse().unwrap());
        }
        request
    }

    #[test]
    fn accepts_only_the_roles_token() {
        let mut auth = BearerAuth::new(Role::Admin, &SecretString::from("admin-token-0123456789"));
        assert!(
            auth.call(request(Some("admin-token-0123456789"), None))
                .is_ok()
        );
        let denied = auth
            .call(request(Some("admin-token-012345678"), None))
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::Unauthenticated);
        assert!(auth.call(request(None, None)).is_err());
    }

    #[test]
    fn portal_calls_name_their_developer() {
        let mut auth =
            BearerAuth::new(Role::Portal, &SecretString::from("portal-token-0123456789"));
        let ok = auth
            .call(request(Some("portal-token-0123456789"), Some("dev-1")))
            .unwrap();
        assert_eq!(caller(&ok).unwrap(), Caller::Developer("dev-1".into()));
        let missing = auth
            .call(request(Some("portal-token-0123456789"), None))
            .unwrap_err();
        assert_eq!(missing.code(), tonic::Code::InvalidArgument);
    }
}
