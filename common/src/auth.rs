//! Caller authentication for gRPC: `authorization: Bearer <token>` metadata, compared in
//! constant time against every machine caller's token (DCR_ADMIN_TOKEN, DCR_PORTAL_TOKEN,
//! DCR_GATEWAY_TOKEN, DCR_SERVICE_TOKEN), then checked against the roles a method allows.
//!
//! No token or an unknown one: `UNAUTHENTICATED`. A known token of a role the method does
//! not allow: `PERMISSION_DENIED`, naming the role it needs. Each role's token must differ
//! from every other's, so a token always names exactly one role. Portal calls also name
//! the developer they act for in `x-dcr-developer-id`. The authenticated caller is put in
//! the request extensions.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;
use tonic::codegen::http;
use tonic::{Request, Status};

use crate::config::{self, ConfigError};
use crate::person::{Person, PersonRole};

pub const DEVELOPER_HEADER: &str = "x-dcr-developer-id";
const MAX_DEVELOPER_ID_LEN: usize = 128;

/// Who is calling, as proven by a [`Guard`] (or registry-svc's access layer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The admin token.
    Admin,
    /// The portal token, acting for the developer it names.
    Developer(String),
    Gateway,
    Service,
    /// A person signed in through the identity provider, and the role this call uses.
    Person(Person, PersonRole),
}

impl Caller {
    /// Who the audit log says acted: `token:admin`, `developer:<id>` (named by the portal
    /// token), `person:<issuer>#<subject>`.
    pub fn audit_name(&self) -> String {
        match self {
            Self::Admin => "token:admin".to_owned(),
            Self::Developer(id) => format!("developer:{id}"),
            Self::Gateway => "token:gateway".to_owned(),
            Self::Service => "token:service".to_owned(),
            Self::Person(person, _) => person.audit_name(),
        }
    }

    /// The role the call was made with, for the audit log: a person's role, or the
    /// machine token (`token:portal`).
    pub fn audit_role(&self) -> String {
        match self {
            Self::Admin => "token:admin".to_owned(),
            Self::Developer(_) => "token:portal".to_owned(),
            Self::Gateway => "token:gateway".to_owned(),
            Self::Service => "token:service".to_owned(),
            Self::Person(_, role) => role.name().to_owned(),
        }
    }

    /// The developer whose applications this call may touch.
    pub fn developer_id(&self) -> Option<&str> {
        match self {
            Self::Developer(id) => Some(id),
            Self::Person(person, PersonRole::Developer) => Some(&person.developer_id),
            _ => None,
        }
    }
}

/// A machine caller's role, each with its own static token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Admin automation: providers, strategies, products, registrations, audit.
    Admin,
    /// A portal backend acting for one developer: applications and credentials.
    Portal,
    /// An API gateway: authz-svc's Check (dcr API and Envoy ext_authz), nothing else.
    Gateway,
    /// dcr's own services: the directory, the change stream, introspection credentials.
    Service,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Admin, Role::Portal, Role::Gateway, Role::Service];

    /// The environment variable that holds this role's token.
    pub fn variable(self) -> &'static str {
        match self {
            Role::Admin => "DCR_ADMIN_TOKEN",
            Role::Portal => "DCR_PORTAL_TOKEN",
            Role::Gateway => "DCR_GATEWAY_TOKEN",
            Role::Service => "DCR_SERVICE_TOKEN",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Portal => "portal",
            Role::Gateway => "gateway",
            Role::Service => "service",
        }
    }
}

/// The machine callers' static tokens a service knows. A service must know the tokens
/// of the roles it serves; it may know the others too, so that their holders get
/// `PERMISSION_DENIED` (a clear "wrong token for this method") instead of
/// `UNAUTHENTICATED`.
#[derive(Clone, Default)]
pub struct CallerTokens {
    pub admin: Option<SecretString>,
    pub portal: Option<SecretString>,
    pub gateway: Option<SecretString>,
    pub service: Option<SecretString>,
}

impl std::fmt::Debug for CallerTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let known: Vec<_> = Role::ALL
            .into_iter()
            .filter(|r| self.get(*r).is_some())
            .map(Role::name)
            .collect();
        f.debug_struct("CallerTokens")
            .field("known", &known)
            .finish_non_exhaustive()
    }
}

impl CallerTokens {
    /// Reads every role's variable; those of `required` must be set. Every token is at
    /// least 16 characters and differs from every other role's.
    pub fn from_env(required: &[Role]) -> Result<Self, ConfigError> {
        let mut tokens = Self::default();
        for role in Role::ALL {
            let value = match config::optional(role.variable()) {
                Some(value) => Some(config::check_token(role.variable(), value)?),
                None if required.contains(&role) => {
                    return Err(ConfigError::new(role.variable(), "is required but not set"));
                }
                None => None,
            };
            *tokens.slot(role) = value;
        }
        tokens.check_distinct()?;
        Ok(tokens)
    }

    pub fn get(&self, role: Role) -> Option<&SecretString> {
        match role {
            Role::Admin => self.admin.as_ref(),
            Role::Portal => self.portal.as_ref(),
            Role::Gateway => self.gateway.as_ref(),
            Role::Service => self.service.as_ref(),
        }
    }

    fn slot(&mut self, role: Role) -> &mut Option<SecretString> {
        match role {
            Role::Admin => &mut self.admin,
            Role::Portal => &mut self.portal,
            Role::Gateway => &mut self.gateway,
            Role::Service => &mut self.service,
        }
    }

    /// The role's token, which `from_env` was told is required.
    pub fn require(&self, role: Role) -> Result<&SecretString, ConfigError> {
        self.get(role)
            .ok_or_else(|| ConfigError::new(role.variable(), "is required but not set"))
    }

    /// Two roles sharing one token would let each caller act as the other.
    pub fn check_distinct(&self) -> Result<(), ConfigError> {
        for (i, a) in Role::ALL.into_iter().enumerate() {
            for b in Role::ALL.into_iter().skip(i + 1) {
                if let (Some(x), Some(y)) = (self.get(a), self.get(b))
                    && x.expose_secret() == y.expose_secret()
                {
                    return Err(ConfigError::new(
                        b.variable(),
                        format!(
                            "must differ from {}: each caller role needs its own token",
                            a.variable()
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// Caller tokens up to this length are compared as they are, padded to this length;
/// longer ones (config does not forbid them, but nobody uses them) by SHA-256 digest.
const PADDED_TOKEN: usize = 256;
const PADDED_WORDS: usize = PADDED_TOKEN / 8;

/// A token of at most `PADDED_TOKEN` bytes, zero-padded, with its length: two of these
/// compare in constant time, whatever either length, by XOR-ing every word (no branch on
/// the contents). Hashing the presented token on every call (SHA-256) cost several times
/// more than this comparison of all known tokens.
struct Padded {
    /// `u64::MAX` (no token's length) for a known token too long to pad: never equal.
    len: u64,
    words: [u64; PADDED_WORDS],
}

impl Padded {
    /// None when `token` is longer than `PADDED_TOKEN`. The branch depends only on the
    /// presented length and a public constant.
    fn new(token: &[u8]) -> Option<Self> {
        if token.len() > PADDED_TOKEN {
            return None;
        }
        let mut words = [0u64; PADDED_WORDS];
        for (word, chunk) in words.iter_mut().zip(token.chunks(8)) {
            let mut bytes = [0u8; 8];
            bytes[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_le_bytes(bytes);
        }
        Some(Self {
            len: token.len() as u64,
            words,
        })
    }

    fn too_long() -> Self {
        Self {
            len: u64::MAX,
            words: [0; PADDED_WORDS],
        }
    }

    /// Equal lengths and equal words, in constant time: every word is looked at.
    fn ct_eq(&self, other: &Self) -> subtle::Choice {
        let mut difference = self.len ^ other.len;
        for (a, b) in self.words.iter().zip(other.words.iter()) {
            difference |= a ^ b;
        }
        difference.ct_eq(&0)
    }
}

impl Drop for Padded {
    /// Known tokens are secrets, and a presented one may be somebody's.
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.words);
    }
}

/// A known caller token, in both forms `identify` compares.
struct KnownToken {
    role: Role,
    padded: Padded,
    digest: [u8; 32],
}

/// Tells which role a presented token belongs to. Compares against every known token,
/// always all of them, in constant time, so neither content, length nor role leaks
/// through timing: tokens of up to `PADDED_TOKEN` bytes padded to that length (the time
/// depends only on whether the presented token is longer, which its sender knows),
/// longer ones by SHA-256 digest.
#[derive(Clone)]
pub struct Authenticator {
    known: Arc<[KnownToken]>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let roles: Vec<_> = self.known.iter().map(|k| k.role.name()).collect();
        f.debug_struct("Authenticator")
            .field("roles", &roles)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(tokens: &CallerTokens) -> Self {
        let known = Role::ALL
            .into_iter()
            .filter_map(|role| {
                tokens.get(role).map(|t| {
                    let bytes = t.expose_secret().as_bytes();
                    KnownToken {
                        role,
                        padded: Padded::new(bytes).unwrap_or_else(Padded::too_long),
                        digest: digest(bytes),
                    }
                })
            })
            .collect();
        Self { known }
    }

    /// An interceptor that lets through the callers of `allowed`.
    pub fn guard(&self, allowed: &'static [Role]) -> Guard {
        Guard {
            authenticator: self.clone(),
            allowed,
        }
    }

    /// The role whose static token `presented` is, if any.
    pub fn identify(&self, presented: &str) -> Option<Role> {
        let mut found = None;
        match Padded::new(presented.as_bytes()) {
            Some(presented) => {
                for known in self.known.iter() {
                    if bool::from(presented.ct_eq(&known.padded)) {
                        found = Some(known.role);
                    }
                }
            }
            None => {
                let presented = digest(presented.as_bytes());
                for known in self.known.iter() {
                    if bool::from(presented.ct_eq(&known.digest)) {
                        found = Some(known.role);
                    }
                }
            }
        }
        found
    }
}

/// The roles one service (or method) allows: in front of whole services
/// ([`Guard::wrap`]), or called with [`Guard::authenticate`] from methods whose roles
/// differ.
#[derive(Clone, Debug)]
pub struct Guard {
    authenticator: Authenticator,
    allowed: &'static [Role],
}

impl Guard {
    /// The caller of a request handled by a method whose roles differ from the service's.
    pub fn authenticate<T>(&self, request: &Request<T>) -> Result<Caller, Status> {
        self.caller(request.metadata().as_ref())
    }

    /// Puts this guard in front of a whole gRPC service: a call reaches it only from one
    /// of the allowed roles, with its [`Caller`] in the request extensions.
    pub fn wrap<S>(&self, inner: S) -> Guarded<S> {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }

    fn caller(&self, headers: &http::HeaderMap) -> Result<Caller, Status> {
        let presented = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| Status::unauthenticated("missing bearer token"))?;
        let role = self
            .authenticator
            .identify(presented)
            .ok_or_else(|| Status::unauthenticated("invalid bearer token"))?;
        if !self.allowed.contains(&role) {
            let needed: Vec<_> = self.allowed.iter().map(|r| r.name()).collect();
            return Err(Status::permission_denied(format!(
                "the {} token may not call this method; it needs the {} token",
                role.name(),
                needed.join(" or ")
            )));
        }
        match role {
            Role::Admin => Ok(Caller::Admin),
            Role::Gateway => Ok(Caller::Gateway),
            Role::Service => Ok(Caller::Service),
            Role::Portal => Ok(Caller::Developer(developer(headers)?)),
        }
    }
}

/// The developer a portal call names in `x-dcr-developer-id`.
pub fn portal_developer(metadata: &tonic::metadata::MetadataMap) -> Result<String, Status> {
    developer(metadata.as_ref())
}

fn developer(headers: &http::HeaderMap) -> Result<String, Status> {
    let developer = headers
        .get(DEVELOPER_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if developer.is_empty() || developer.len() > MAX_DEVELOPER_ID_LEN {
        return Err(Status::invalid_argument(format!(
            "portal calls need the {DEVELOPER_HEADER} metadata (1 to {MAX_DEVELOPER_ID_LEN} characters)"
        )));
    }
    Ok(developer.to_owned())
}

/// A gRPC service behind a [`Guard`] ([`Guard::wrap`]). It checks the `http::Request`
/// as it comes: tonic's `Interceptor` would turn every request into a `tonic::Request`
/// and back, a cost each warm `Check` paid (docs/benchmarks.md).
#[derive(Clone, Debug)]
pub struct Guarded<S> {
    inner: S,
    guard: Guard,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for Guarded<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Guarded<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    /// A refusal is boxed: the future of every allowed call stays as small as the
    /// service's own.
    type Future = futures::future::Either<
        S::Future,
        std::pin::Pin<Box<std::future::Ready<Result<http::Response<tonic::body::Body>, S::Error>>>>,
    >;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        match self.guard.caller(request.headers()) {
            Ok(caller) => {
                request.extensions_mut().insert(caller);
                futures::future::Either::Left(self.inner.call(request))
            }
            Err(status) => {
                futures::future::Either::Right(Box::pin(std::future::ready(Ok(status.into_http()))))
            }
        }
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
    pub fn new(token: &SecretString) -> Result<Self, ConfigError> {
        let mut value: tonic::metadata::MetadataValue<tonic::metadata::Ascii> =
            format!("Bearer {}", token.expose_secret())
                .parse()
                .map_err(|_| ConfigError::new("DCR_SERVICE_TOKEN", "must be printable ASCII"))?;
        // Kept out of HPACK tables, and `Debug` prints "Sensitive".
        value.set_sensitive(true);
        Ok(Self(value))
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

    const ADMIN: &str = "admin-token-0123456789";
    const PORTAL: &str = "portal-token-0123456789";
    const GATEWAY: &str = "gateway-token-0123456789";

    fn tokens() -> CallerTokens {
        CallerTokens {
            admin: Some(ADMIN.into()),
            portal: Some(PORTAL.into()),
            gateway: Some(GATEWAY.into()),
            service: None,
        }
    }

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
    fn unknown_tokens_are_unauthenticated_and_other_roles_denied() {
        let guard = Authenticator::new(&tokens()).guard(&[Role::Admin]);
        assert!(guard.authenticate(&request(Some(ADMIN), None)).is_ok());
        for wrong in [Some("admin-token-012345678"), None] {
            let denied = guard.authenticate(&request(wrong, None)).unwrap_err();
            assert_eq!(denied.code(), tonic::Code::Unauthenticated);
        }
        let denied = guard
            .authenticate(&request(Some(GATEWAY), None))
            .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(
            denied.message().contains("needs the admin token"),
            "{}",
            denied.message()
        );
    }

    #[test]
    fn tokens_are_told_apart_by_every_byte_and_their_length_at_any_length() {
        let long = "x".repeat(PADDED_TOKEN + 40);
        let at_limit = "y".repeat(PADDED_TOKEN);
        let tokens = CallerTokens {
            admin: Some(ADMIN.into()),
            portal: Some(long.clone().into()),
            gateway: Some(at_limit.clone().into()),
            service: None,
        };
        let auth = Authenticator::new(&tokens);
        assert_eq!(auth.identify(ADMIN), Some(Role::Admin));
        assert_eq!(auth.identify(&long), Some(Role::Portal));
        assert_eq!(auth.identify(&at_limit), Some(Role::Gateway));
        // A prefix, an extension (with zero bytes: padding must not make them equal), one
        // byte changed anywhere: nobody's.
        let mut extended = ADMIN.to_owned();
        extended.push('\0');
        for wrong in [
            &ADMIN[..ADMIN.len() - 1],
            extended.as_str(),
            &long[..long.len() - 1],
            &at_limit[..PADDED_TOKEN - 1],
            "",
        ] {
            assert_eq!(auth.identify(wrong), None, "{wrong:?}");
        }
        for at in 0..ADMIN.len() {
            let mut changed = ADMIN.as_bytes().to_vec();
            changed[at] ^= 1;
            let changed = String::from_utf8(changed).unwrap();
            assert_eq!(auth.identify(&changed), None, "{changed:?}");
        }
        let mut long_changed = long.into_bytes();
        long_changed[PADDED_TOKEN + 10] = b'z';
        assert_eq!(
            auth.identify(&String::from_utf8(long_changed).unwrap()),
            None
        );
    }

    #[test]
    fn portal_calls_name_their_developer() {
        let guard = Authenticator::new(&tokens()).guard(&[Role::Portal]);
        let ok = guard.authenticate(&request(Some(PORTAL), Some("dev-1")));
        assert_eq!(ok.unwrap(), Caller::Developer("dev-1".into()));
        let missing = guard
            .authenticate(&request(Some(PORTAL), None))
            .unwrap_err();
        assert_eq!(missing.code(), tonic::Code::InvalidArgument);
    }

    /// A wrapped service sees only its roles' calls, each with its caller; any other call
    /// is answered with the refusal's gRPC status and never reaches it.
    #[tokio::test]
    async fn a_wrapped_service_is_called_only_for_its_roles() {
        use tower::{Service as _, ServiceExt as _};
        let reached = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reached.clone();
        let inner = tower::service_fn(move |request: http::Request<()>| {
            seen.lock()
                .unwrap()
                .push(request.extensions().get::<Caller>().cloned());
            std::future::ready(Ok::<_, std::convert::Infallible>(http::Response::new(
                tonic::body::Body::empty(),
            )))
        });
        let mut service = Authenticator::new(&tokens())
            .guard(&[Role::Gateway])
            .wrap(inner);
        let call = |token: Option<&str>| {
            let mut request = http::Request::new(());
            if let Some(token) = token {
                request.headers_mut().insert(
                    http::header::AUTHORIZATION,
                    format!("Bearer {token}").parse().unwrap(),
                );
            }
            request
        };
        let status = |answer: &http::Response<tonic::body::Body>| {
            tonic::Status::from_header_map(answer.headers()).map(|s| s.code())
        };
        let allowed = service
            .ready()
            .await
            .unwrap()
            .call(call(Some(GATEWAY)))
            .await;
        assert_eq!(status(&allowed.unwrap()), None);
        let other_role = service.ready().await.unwrap().call(call(Some(ADMIN))).await;
        assert_eq!(
            status(&other_role.unwrap()),
            Some(tonic::Code::PermissionDenied)
        );
        let unknown = service
            .ready()
            .await
            .unwrap()
            .call(call(Some("nope")))
            .await;
        assert_eq!(
            status(&unknown.unwrap()),
            Some(tonic::Code::Unauthenticated)
        );
        let missing = service.ready().await.unwrap().call(call(None)).await;
        assert_eq!(
            status(&missing.unwrap()),
            Some(tonic::Code::Unauthenticated)
        );
        assert_eq!(*reached.lock().unwrap(), vec![Some(Caller::Gateway)]);
    }

    #[test]
    fn roles_may_not_share_a_token() {
        let mut shared = tokens();
        shared.service = Some(GATEWAY.into());
        let error = shared.check_distinct().unwrap_err();
        assert_eq!(error.var, "DCR_SERVICE_TOKEN");
        assert!(
            error.reason.contains("DCR_GATEWAY_TOKEN"),
            "{}",
            error.reason
        );
    }
}
