//! How store and IdP failures reach API callers.

use dcr_common::error::ApiError;

use crate::idp::IdpError;
use crate::store::StoreError;

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
            IdpError::Unreachable(_) | IdpError::Ambiguous(_) => ApiError::Unavailable(message),
            IdpError::Unsupported(_)
            | IdpError::Rejected(_)
            | IdpError::Unauthorized(_)
            | IdpError::SecretNotRotated { .. }
            | IdpError::Conflict(_)
            | IdpError::NotFound => ApiError::FailedPrecondition(message),
        }
    }
}
