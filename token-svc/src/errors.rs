//! Token errors, named after RFC 6749 section 5.2 (and RFC 8707), and their two
//! renderings: gRPC status (with ErrorInfo) and the OAuth JSON error response.
//! Raw IdP bodies never pass through: only the OAuth error code survives.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub const ERROR_DOMAIN: &str = "dcr.token";

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// RFC 6749 5.2 `invalid_client`: unknown client, wrong secret, inactive app. One answer
    /// for all of them, so callers cannot probe which client ids exist.
    #[error("client authentication failed")]
    InvalidClient,
    /// RFC 6749 5.2 `invalid_request`.
    #[error("{0}")]
    InvalidRequest(String),
    /// RFC 6749 5.2 `invalid_scope`.
    #[error("the requested scope is invalid, unknown, or exceeds what the client may ask for")]
    InvalidScope,
    /// RFC 8707 section 2 `invalid_target`.
    #[error("the requested audience or resource is invalid")]
    InvalidTarget,
    /// RFC 6749 5.2 `unauthorized_client`.
    #[error("the client is not allowed to use the client_credentials grant")]
    UnauthorizedClient,
    /// RFC 6749 5.2 `unsupported_grant_type`.
    #[error("only the client_credentials grant is supported")]
    UnsupportedGrantType,
    /// The caller lacks the internal service token.
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    FailedPrecondition(String),
    /// The IdP or the registry is down or answered with an error of its own.
    #[error("{0}")]
    Unavailable(String),
    #[error("the identity provider did not answer in time")]
    Timeout,
    /// Too many requests that would reach the IdP, from this source or for this client:
    /// HTTP 429 with Retry-After, gRPC RESOURCE_EXHAUSTED with RetryInfo.
    #[error("too many token requests; retry in {} s", retry_after.as_secs())]
    RateLimited { retry_after: std::time::Duration },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl TokenError {
    /// The OAuth `error` code of this error.
    pub fn oauth_code(&self) -> &'static str {
        match self {
            Self::InvalidClient | Self::Unauthenticated(_) => "invalid_client",
            Self::InvalidRequest(_) | Self::NotFound(_) | Self::FailedPrecondition(_) => {
                "invalid_request"
            }
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::Unavailable(_) | Self::Timeout | Self::RateLimited { .. } => {
                "temporarily_unavailable"
            }
            Self::Internal(_) => "server_error",
        }
    }

    /// Maps an IdP's OAuth error code to ours; anything unexpected is the IdP's problem.
    pub fn from_idp(code: &str) -> Self {
        match code {
            "invalid_client" | "invalid_grant" => Self::InvalidClient,
            "invalid_scope" => Self::InvalidScope,
            "invalid_target" => Self::InvalidTarget,
            "unauthorized_client" => Self::UnauthorizedClient,
            "invalid_request" => {
                Self::InvalidRequest("the identity provider refused the request".into())
            }
            other => Self::Unavailable(format!("the identity provider answered {other:?}")),
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            Self::InvalidClient | Self::Unauthenticated(_) => 401,
            Self::Unavailable(_) | Self::Timeout => 503,
            Self::RateLimited { .. } => 429,
            Self::Internal(_) => 500,
            _ => 400,
        }
    }

    fn grpc_code(&self) -> Code {
        match self {
            Self::InvalidClient | Self::Unauthenticated(_) => Code::Unauthenticated,
            Self::InvalidRequest(_)
            | Self::InvalidScope
            | Self::InvalidTarget
            | Self::UnsupportedGrantType => Code::InvalidArgument,
            Self::UnauthorizedClient => Code::PermissionDenied,
            Self::NotFound(_) => Code::NotFound,
            Self::FailedPrecondition(_) => Code::FailedPrecondition,
            Self::Unavailable(_) => Code::Unavailable,
            Self::Timeout => Code::DeadlineExceeded,
            Self::RateLimited { .. } => Code::ResourceExhausted,
            Self::Internal(_) => Code::Internal,
        }
    }

    /// The client-facing description; internal details go to the log under an id.
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(source) => dcr_common::error::internal_message(source),
            other => other.to_string(),
        }
    }
}

impl From<TokenError> for Status {
    fn from(error: TokenError) -> Self {
        let code = error.grpc_code();
        let reason = error.oauth_code();
        let message = error.public_message();
        let mut details = ErrorDetails::with_error_info(reason, ERROR_DOMAIN, []);
        if let TokenError::RateLimited { retry_after } = error {
            details.set_retry_info(Some(retry_after));
        }
        Status::with_error_details(code, message, details)
    }
}
