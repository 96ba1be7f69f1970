//! What a check decides, in domain terms: allow with a principal (and maybe a session
//! cookie), or deny for a reason. The dcr API (`grpc.rs`) and Envoy (`envoy.rs`) each
//! render a `Decision` in their own wire format.

use std::borrow::Cow;

use dcr_common::directory::AuthMethods;

/// Why a call is denied. `as_str` is the OAuth-style code on the wire
/// (`CheckResponse.reason`, the `error` of `WWW-Authenticate`, Envoy's body).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// No credential at all: the challenge alone, no error (RFC 6750 section 3.1).
    MissingCredentials,
    InvalidRequest,
    InvalidToken,
    InvalidClient,
    /// A credential kind the product's strategy does not accept.
    MethodNotAllowed,
    UnknownProduct,
    /// A route named its product by id and by name, and they differ.
    ProductMismatch,
    NotRegistered,
    RegistrationPending,
    InsufficientScope,
    /// Too many attempts that would reach the IdP: denied (fail closed), try later.
    RateLimited,
    /// What the decision needs is unreachable: denied (fail closed), try again.
    TemporarilyUnavailable,
}

impl DenyReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingCredentials => "missing_credentials",
            Self::InvalidRequest => "invalid_request",
            Self::InvalidToken => "invalid_token",
            Self::InvalidClient => "invalid_client",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnknownProduct => "unknown_product",
            Self::ProductMismatch => "product_mismatch",
            Self::NotRegistered => "not_registered",
            Self::RegistrationPending => "registration_pending",
            Self::InsufficientScope => "insufficient_scope",
            Self::RateLimited => "rate_limited",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// 401 when the credential is the problem (another one may pass), 403 when the caller
    /// is known but may not (RFC 6750 section 3.1), 429 and 503 to try later.
    pub fn http_status(self) -> u16 {
        match self {
            Self::MissingCredentials
            | Self::InvalidRequest
            | Self::InvalidToken
            | Self::InvalidClient
            | Self::MethodNotAllowed => 401,
            Self::UnknownProduct
            | Self::ProductMismatch
            | Self::NotRegistered
            | Self::RegistrationPending
            | Self::InsufficientScope => 403,
            Self::RateLimited => 429,
            Self::TemporarilyUnavailable => 503,
        }
    }
}

/// The `WWW-Authenticate` challenge for a strategy's methods (static: no allocation).
pub fn challenge(methods: AuthMethods) -> &'static str {
    if methods.client_credentials {
        BEARER_AND_BASIC
    } else {
        BEARER
    }
}

pub const BEARER: &str = "Bearer realm=\"dcr\"";
pub const BASIC: &str = "Basic realm=\"dcr\"";
const BEARER_AND_BASIC: &str = "Bearer realm=\"dcr\", Basic realm=\"dcr\"";

/// How the caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialType {
    ClientCredentials,
    Bearer,
    Session,
}

/// Who is calling, once the credential is verified and the application found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub application_id: String,
    pub developer_id: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub credential: CredentialType,
}

/// A deny, with what the caller is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub reason: DenyReason,
    pub description: Cow<'static, str>,
    /// The challenge of the product's strategy (empty when there is none to give).
    pub challenge: &'static str,
    /// For `insufficient_scope`: the scopes the call needs (RFC 6750 section 3).
    pub scope: Option<String>,
}

impl Denial {
    pub fn new(
        reason: DenyReason,
        description: impl Into<Cow<'static, str>>,
        challenge: &'static str,
    ) -> Self {
        Self {
            reason,
            description: description.into(),
            challenge,
            scope: None,
        }
    }

    pub fn unavailable(what: &str) -> Self {
        Self::new(
            DenyReason::TemporarilyUnavailable,
            format!("{what} is unavailable; try again"),
            "",
        )
    }

    pub fn rate_limited(what: &str, challenge: &'static str) -> Self {
        Self::new(
            DenyReason::RateLimited,
            format!("too many {what}; try again in a few seconds"),
            challenge,
        )
    }

    pub fn http_status(&self) -> u16 {
        self.reason.http_status()
    }

    /// The `WWW-Authenticate` value: none for an outage, the bare challenge when no
    /// credential came, else the challenge with the error (RFC 6750 section 3).
    pub fn www_authenticate(&self) -> String {
        match self.reason {
            DenyReason::TemporarilyUnavailable => String::new(),
            DenyReason::MissingCredentials => self.challenge.to_owned(),
            reason => {
                let mut value = format!(
                    "{}, error=\"{}\", error_description=\"{}\"",
                    self.challenge,
                    reason.as_str(),
                    self.description.replace('"', "'")
                );
                if let Some(scope) = &self.scope {
                    value.push_str(&format!(", scope=\"{scope}\""));
                }
                value
            }
        }
    }
}

/// The answer to a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        principal: Principal,
        /// A new session cookie, when the strategy accepts sessions and the call did not
        /// come with one.
        set_cookie: Option<String>,
    },
    Deny(Denial),
}

impl Decision {
    pub fn is_allow(&self) -> bool {
        matches!(self, Self::Allow { .. })
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::Allow { .. } => 200,
            Self::Deny(denial) => denial.http_status(),
        }
    }

    /// The deny reason's code, "" for an allow.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Allow { .. } => "",
            Self::Deny(denial) => denial.reason.as_str(),
        }
    }
}

impl From<Denial> for Decision {
    fn from(denial: Denial) -> Self {
        Self::Deny(denial)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_carry_the_error_except_for_no_credentials_and_outages() {
        let denial = Denial::new(
            DenyReason::InvalidToken,
            "the token has \"expired\"",
            BEARER,
        );
        assert_eq!(
            denial.www_authenticate(),
            "Bearer realm=\"dcr\", error=\"invalid_token\", error_description=\"the token has 'expired'\""
        );
        assert_eq!(denial.http_status(), 401);
        let none = Denial::new(DenyReason::MissingCredentials, "no credentials", BEARER);
        assert_eq!(none.www_authenticate(), BEARER);
        assert_eq!(Denial::unavailable("the registry").www_authenticate(), "");
        assert_eq!(Denial::unavailable("the registry").http_status(), 503);
        let mut scope = Denial::new(DenyReason::InsufficientScope, "lacks a scope", BEARER);
        scope.scope = Some("read write".into());
        assert!(scope.www_authenticate().ends_with(", scope=\"read write\""));
        assert_eq!(scope.http_status(), 403);
    }
}
