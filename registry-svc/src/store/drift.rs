//! What the drift report (`crate::lifecycle::drift`) reads beyond the other traits: a
//! provider's applications across developers, whether this registry ever recorded an
//! IdP operation for an application, and pending operations with their last error.
//! Read-only: the report's repairs go through the ordinary lifecycle writes.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::dialect::{Dialect, SqlRow as _};
use super::sql::SqlStore;
use super::{Operation, StoreResult, rows};
use crate::domain::Application;

/// A pending operation and what the reconciler last saw go wrong with it.
#[derive(Debug, Clone)]
pub struct PendingOperation {
    pub operation: Operation,
    /// Empty while no attempt failed.
    pub last_error: String,
    pub create_time: DateTime<Utc>,
}

#[async_trait::async_trait]
pub trait DriftStore: Send + Sync {
    /// Every application (any developer, any state) bound to a strategy of the provider.
    async fn applications_of_provider(&self, provider_id: Uuid) -> StoreResult<Vec<Application>>;
    /// True when this registry ever recorded an IdP operation for the application,
    /// deleted ones included (operation rows outlive their application): dcr itself made
    /// its client. A marked client whose application was never recorded was not made
    /// here (another installation on the same tenant, a restored backup, a hand copy).
    async fn application_recorded(&self, application_id: Uuid) -> StoreResult<bool>;
    /// Every pending operation, oldest first, with its last error.
    async fn pending_operation_details(&self) -> StoreResult<Vec<PendingOperation>>;
}

#[async_trait::async_trait]
impl<D: Dialect> DriftStore for SqlStore<D> {
    async fn applications_of_provider(&self, provider_id: Uuid) -> StoreResult<Vec<Application>> {
        self.db
            .fetch_all(
                "SELECT a.* FROM applications a JOIN auth_strategies s ON s.id = a.strategy_id
                 WHERE s.provider_id = $1 ORDER BY a.id",
                &[provider_id.into()],
            )
            .await?
            .iter()
            .map(rows::application)
            .collect()
    }

    async fn application_recorded(&self, application_id: Uuid) -> StoreResult<bool> {
        let row = self
            .db
            .fetch_optional(
                "SELECT id FROM idp_operations WHERE application_id = $1 LIMIT 1",
                &[application_id.into()],
            )
            .await?;
        Ok(row.is_some())
    }

    async fn pending_operation_details(&self) -> StoreResult<Vec<PendingOperation>> {
        self.db
            .fetch_all(
                "SELECT * FROM idp_operations WHERE state = 'pending' ORDER BY create_time, id",
                &[],
            )
            .await?
            .iter()
            .map(|r| {
                Ok(PendingOperation {
                    operation: self.operation(r)?,
                    last_error: r.text("last_error")?,
                    create_time: r.time("create_time")?,
                })
            })
            .collect()
    }
}
