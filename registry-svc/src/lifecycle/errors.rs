//! How workflows fail, in the domain's terms, and the one place that turns that into what
//! API callers see (`ApiError`, which `dcr_common::error` maps to a gRPC status).

use dcr_common::error::ApiError;

use crate::idp::IdpError;
use crate::store::StoreError;

/// What a workflow (create, rotate, revoke, delete, reconcile, report) can end in.
#[derive(Debug, thiserror::Error)]
pub enum WorkflowError {
    /// What the request names does not exist (or belongs to another developer).
    #[error("{0}")]
    NotFound(String),
    /// One field of the request is wrong.
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// The resource is not in a state that allows this; the message says what would.
    #[error("{0}")]
    Refused(String),
    /// What the request would create exists already.
    #[error("{0}")]
    Exists(String),
    /// The IdP's part has not happened, or is not known to have: dcr settles it later
    /// (the message says how); asking again later is safe.
    #[error("{0}")]
    Pending(String),
    #[error(transparent)]
    Idp(#[from] IdpError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A broken invariant or an unexpected failure: logged, never shown.
    #[error("internal error: {0}")]
    Internal(anyhow::Error),
}

impl WorkflowError {
    pub fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> Self {
        Self::Internal(error.into())
    }
}

impl From<WorkflowError> for ApiError {
    fn from(error: WorkflowError) -> Self {
        match error {
            WorkflowError::NotFound(what) => ApiError::NotFound(what),
            WorkflowError::Invalid { field, reason } => ApiError::invalid(field, reason),
            WorkflowError::Refused(why) => ApiError::FailedPrecondition(why),
            WorkflowError::Exists(what) => ApiError::AlreadyExists(what),
            WorkflowError::Pending(what) => ApiError::Unavailable(what),
            WorkflowError::Idp(error) => error.into(),
            WorkflowError::Store(error) => error.into(),
            WorkflowError::Internal(error) => ApiError::Internal(error),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::AlreadyExists(what) => {
                ApiError::AlreadyExists(format!("{what} already exists"))
            }
            StoreError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StoreError::InUse(what) | StoreError::Conflict(what) => {
                ApiError::FailedPrecondition(what)
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<IdpError> for ApiError {
    fn from(error: IdpError) -> Self {
        let message = error.to_string();
        match error {
            IdpError::Unreachable(_) | IdpError::Ambiguous(_) | IdpError::RateLimited(_) => {
                ApiError::Unavailable(message)
            }
            IdpError::Unsupported(_)
            | IdpError::Rejected(_)
            | IdpError::Unauthorized(_)
            | IdpError::SecretNotRotated { .. }
            | IdpError::Conflict(_)
            | IdpError::NotFound => ApiError::FailedPrecondition(message),
        }
    }
}

impl From<WorkflowError> for tonic::Status {
    fn from(error: WorkflowError) -> Self {
        ApiError::from(error).into()
    }
}
