//! Persistence behind narrow traits, one per resource, implemented once in SQL
//! (`SqlStore`) over two backends, Postgres and SQLite, that differ only in a thin
//! `Dialect`; both must pass the same contract suite (`tests/api/store_contract.rs`).
//! Each method is one unit of work: it commits everything it writes (rows, the change
//! log entry) or nothing.

mod applications;
mod client_changes;
mod config;
mod credentials;
mod dialect;
mod directory;
mod drift;
mod in_use;
mod journal;
mod operations;
mod postgres;
mod registrations;
mod rows;
mod sql;
mod sqlite;

use chrono::{DateTime, Utc};
use dcr_common::directory::IssueRecords;
use dcr_common::oauth::ClientAuthMethod;
use uuid::Uuid;

use crate::domain::{
    ApiProduct, Application, AuthStrategy, Credential, IdpClientState, ListedRegistration, Owner,
    Provider, Registration, RegistrationStatus,
};

pub use drift::{DriftStore, PendingOperation};
pub use postgres::{PgStore, PostgresDb};
pub use sql::SqlStore;
pub use sqlite::{SqliteDb, SqliteStore};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} already exists")]
    AlreadyExists(String),
    #[error("{0} not found")]
    NotFound(String),
    /// The row is referenced by others (e.g. a provider used by a strategy).
    #[error("{0}")]
    InUse(String),
    /// The row is not in the state the write expected (someone else moved it).
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("sealed data could not be read: {0}")]
    Seal(#[from] dcr_common::seal::SealError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A page request: at most `size` items after the cursor (exclusive).
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub size: usize,
    pub after: Option<String>,
}

/// Which registrations `list_registrations` returns: every filter is optional, and all
/// that are set must match.
#[derive(Debug, Clone, Copy, Default)]
pub struct RegistrationFilter<'a> {
    /// Only these applications' (an empty list selects none).
    pub application_ids: Option<&'a [Uuid]>,
    pub product_id: Option<Uuid>,
    pub status: Option<RegistrationStatus>,
    /// Only those of applications this developer owns.
    pub developer_id: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
}

/// A pending or finished IdP side effect (invariant 1 of docs/design.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Create,
    Delete,
    /// One secret revoked at the IdP (`Operation::credential_id`), after dcr already
    /// refuses it.
    RevokeSecret,
    /// An application's access to a product ended at the IdP (`Operation::product_id`),
    /// after dcr already refuses it.
    RemoveAccess,
    /// A new secret replacing the active ones (`Operation::credential_id` is its id).
    RegenerateSecret,
    /// A new secret beside the active ones (`Operation::credential_id` is its id).
    AddSecret,
    /// New client metadata pushed to the IdP (which may rotate the adapter's state).
    UpdateClient,
}

impl OperationKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Delete => "delete",
            Self::RevokeSecret => "revoke_secret",
            Self::RemoveAccess => "remove_access",
            Self::RegenerateSecret => "regenerate_secret",
            Self::AddSecret => "add_secret",
            Self::UpdateClient => "update_client",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Create,
            Self::Delete,
            Self::RevokeSecret,
            Self::RemoveAccess,
            Self::RegenerateSecret,
            Self::AddSecret,
            Self::UpdateClient,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }
}

/// What the IdP answered, recorded the moment it answered, so that whoever finishes
/// the operation (the request, or the reconciler after a crash) commits the same thing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Journal {
    pub client_id: String,
    /// The adapter state the client has now (a rotated registration access token).
    pub idp_state: IdpClientState,
    /// A rotation's new credential: its hint, reference and fingerprint, never the secret.
    pub credential: Option<Credential>,
    /// A delete the IdP confirmed: finishing it needs no second IdP call.
    pub deleted: bool,
    /// A create: how the new client sends its secret to the token endpoint, where known.
    pub auth_method: Option<ClientAuthMethod>,
}

/// A change to an application's IdP client the IdP confirmed, committed together with
/// the end of its operation.
#[derive(Debug, Clone, Default)]
pub struct ClientChange {
    pub credential: Option<Credential>,
    /// The new credential replaces every active one (secret regeneration).
    pub replaces: bool,
    pub idp_state: Option<IdpClientState>,
    /// New name, description and redirect URIs (UpdateApplication).
    pub metadata: Option<Application>,
}

#[derive(Debug, Clone)]
pub struct Operation {
    pub id: Uuid,
    pub application_id: Uuid,
    pub provider_id: Uuid,
    pub kind: OperationKind,
    pub journal: Option<Journal>,
    /// How often the reconciler claimed it; also the fence of whoever holds it. The
    /// request that made the operation holds 0; each claim counts one more and takes it
    /// over, so the writes of a holder whose lease ran out (journal, completion) are
    /// refused with `Conflict` instead of racing the reconciler. Callers pass the value
    /// they hold as `fence`.
    pub attempts: i32,
    pub lease_until: DateTime<Utc>,
    /// The credential a `RevokeSecret` concerns, or the one a rotation makes.
    pub credential_id: Option<Uuid>,
    /// The product a `RemoveAccess` concerns.
    pub product_id: Option<Uuid>,
}

/// What a gateway needs to know about an IdP client.
#[derive(Debug, Clone)]
pub struct ResolvedClient {
    pub application: Application,
    pub strategy: AuthStrategy,
    pub provider_id: Uuid,
    pub provider_type: String,
    pub issuer: String,
    pub approved_product_ids: Vec<Uuid>,
    pub pending_product_ids: Vec<Uuid>,
    pub active_credential_ids: Vec<Uuid>,
    /// The newest revoke time among the app's credentials.
    pub revoked_before: Option<DateTime<Utc>>,
    /// The fingerprints of the newest revoked secrets (at most `REVOKED_SHOWN`).
    pub revoked_fingerprints: Vec<dcr_common::fingerprint::SecretFingerprint>,
    /// How the client sends its secret to the token endpoint, as the IdP created it.
    pub auth_method: Option<ClientAuthMethod>,
    /// Which of its tokens count only with token-svc's record.
    pub issue_records: IssueRecords,
}

/// A client that may call a product now: its application ACTIVE, its registration for
/// the product APPROVED.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovedClient {
    pub product_id: Uuid,
    pub client_id: String,
    pub application_id: Uuid,
    /// As in `ResolvedClient`: the newest revoke time among the app's credentials.
    pub revoked_before: Option<DateTime<Utc>>,
    /// As in `ResolvedClient`.
    pub issue_records: IssueRecords,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub kind: &'static str,
    pub action: String,
    pub resource_id: String,
    pub application_id: String,
    pub client_id: String,
    pub time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: i64,
    pub time: DateTime<Utc>,
    pub actor: String,
    /// The role the call used: a person's role, or `token:<role>` for a machine token.
    pub role: String,
    pub actor_name: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: String,
    pub outcome: String,
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub role: Option<String>,
    pub action: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
}

#[async_trait::async_trait]
pub trait ConfigStore: Send + Sync {
    async fn insert_provider(&self, provider: &Provider) -> StoreResult<()>;
    async fn get_provider(&self, id: Uuid) -> StoreResult<Option<Provider>>;
    async fn list_providers(&self, page: &PageRequest) -> StoreResult<Page<Provider>>;
    async fn update_provider(&self, provider: &Provider) -> StoreResult<()>;
    /// `InUse` while a strategy uses it.
    async fn delete_provider(&self, id: Uuid) -> StoreResult<()>;

    async fn insert_strategy(&self, strategy: &AuthStrategy) -> StoreResult<()>;
    async fn get_strategy(&self, id: Uuid) -> StoreResult<Option<AuthStrategy>>;
    async fn list_strategies(&self, page: &PageRequest) -> StoreResult<Page<AuthStrategy>>;
    async fn update_strategy(&self, strategy: &AuthStrategy) -> StoreResult<()>;
    /// `InUse` while a product or an application uses it.
    async fn delete_strategy(&self, id: Uuid) -> StoreResult<()>;

    async fn insert_product(&self, product: &ApiProduct) -> StoreResult<()>;
    async fn get_product(&self, id: Uuid) -> StoreResult<Option<ApiProduct>>;
    /// Product names are unique.
    async fn get_product_by_name(&self, name: &str) -> StoreResult<Option<ApiProduct>>;
    async fn list_products(&self, page: &PageRequest) -> StoreResult<Page<ApiProduct>>;
    async fn update_product(&self, product: &ApiProduct) -> StoreResult<()>;
    /// `InUse` while registrations to it exist.
    async fn delete_product(&self, id: Uuid) -> StoreResult<()>;
}

#[async_trait::async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Persists a PROVISIONING application and its pending create operation together.
    /// `AlreadyExists` when the developer has a live app of that name or that request id.
    async fn insert_application_intent(&self, app: &Application, op: &Operation)
    -> StoreResult<()>;
    async fn get_application(&self, id: Uuid) -> StoreResult<Option<Application>>;
    async fn find_application_by_request(
        &self,
        owner: &Owner,
        request_id: &str,
    ) -> StoreResult<Option<Application>>;
    async fn list_applications(
        &self,
        developer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Application>>;
    async fn get_idp_state(&self, application_id: Uuid) -> StoreResult<Option<IdpClientState>>;
    /// Records what the IdP answered to a create (before the final commit). `Conflict`
    /// when the caller no longer holds the operation (see `Operation::attempts`).
    async fn record_journal(&self, op_id: Uuid, fence: i32, journal: &Journal) -> StoreResult<()>;
    /// ACTIVE with its client and first credential; finishes the operation. `Conflict`
    /// when the operation is no longer pending (the reconciler took it over).
    async fn complete_create(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        journal: &Journal,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// FAILED with a reason, client unlinked; finishes the operation.
    async fn fail_application(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Removes an application whose create was refused by the IdP (nothing exists there).
    async fn discard_application(&self, op_id: Uuid, app_id: Uuid) -> StoreResult<()>;
    /// Records the intent to change an ACTIVE application's IdP client (a rotation, an
    /// update). `Conflict` while another such change of the application is pending.
    async fn begin_client_change(&self, op: &Operation, now: DateTime<Utc>) -> StoreResult<()>;
    /// Commits what the IdP confirmed and finishes the operation, in one unit of work.
    /// `Conflict` when the caller no longer holds the operation.
    async fn complete_client_change(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        change: &ClientChange,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Says what an operator should look at about the application's IdP client.
    async fn set_attention(
        &self,
        app_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Moves the app to DELETING with a pending delete operation. `NotFound`/`Conflict`.
    async fn begin_delete(
        &self,
        app_id: Uuid,
        op: &Operation,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Removes the application, its credentials and registrations; finishes the operation.
    async fn complete_delete(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn list_credentials(&self, application_id: Uuid) -> StoreResult<Vec<Credential>>;
    /// Revokes a credential (a second revoke keeps the first time), and records `intent`
    /// (the pending IdP revocation) in the same unit of work.
    async fn revoke_credential(
        &self,
        application_id: Uuid,
        credential_id: Uuid,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<Credential>;

    async fn insert_registration(&self, registration: &Registration) -> StoreResult<()>;
    async fn get_registration(&self, id: Uuid) -> StoreResult<Option<Registration>>;
    /// Sets the status, and records `intent` (access to end at the IdP) in the same unit
    /// of work.
    async fn set_registration_status(
        &self,
        id: Uuid,
        status: RegistrationStatus,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<Registration>;
    /// Deletes the registration, recording `intent` in the same unit of work.
    async fn delete_registration(
        &self,
        id: Uuid,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// The registrations `filter` selects, each with its application's name and owner.
    async fn list_registrations(
        &self,
        filter: &RegistrationFilter<'_>,
        page: &PageRequest,
    ) -> StoreResult<Page<ListedRegistration>>;
    /// Every application id of a developer (for filtering their registrations).
    async fn application_ids_of(&self, developer_id: &str) -> StoreResult<Vec<Uuid>>;
}

#[async_trait::async_trait]
pub trait OperationStore: Send + Sync {
    /// Claims up to `limit` pending operations whose lease ran out, extending their lease
    /// to `lease_until`; replicas never claim the same one.
    async fn claim_stale_operations(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>>;
    async fn record_operation_error(&self, op_id: Uuid, error: &str) -> StoreResult<()>;
    /// Marks an operation done; `Conflict` when it no longer was pending (the reconciler
    /// or a delete took it over).
    async fn complete_operation(
        &self,
        op_id: Uuid,
        fence: i32,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;
    async fn pending_operations(&self) -> StoreResult<Vec<Operation>>;
}

#[async_trait::async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn resolve_client(
        &self,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ResolvedClient>>;
    /// One page of every product's approved clients, in (product id, client id) order.
    async fn list_approved_clients(&self, page: &PageRequest) -> StoreResult<Page<ApprovedClient>>;
    async fn changes_after(&self, seq: i64, limit: i64) -> StoreResult<Vec<Change>>;
    /// The newest committed seq (0 when there is none).
    async fn latest_seq(&self) -> StoreResult<i64>;
    /// Ticks whenever a change may have been committed (by any replica).
    fn change_signal(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Records that token-svc hands out the token with `digest` to `client_id`, until
    /// `expire_time` (a second record of the same token changes nothing).
    async fn record_issued_token(
        &self,
        client_id: &str,
        digest: &[u8; 32],
        expire_time: DateTime<Utc>,
    ) -> StoreResult<()>;
    /// Whether a record of that token is there and its token has not expired.
    async fn issued_token_found(
        &self,
        client_id: &str,
        digest: &[u8; 32],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Deletes the records of expired tokens; how many there were.
    async fn forget_expired_tokens(&self, now: DateTime<Utc>) -> StoreResult<u64>;
}

#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    async fn record_audit(&self, event: &AuditEvent) -> StoreResult<()>;
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<AuditEvent>>;
}

/// Everything the registry needs from persistence.
pub trait Store:
    ConfigStore + ApplicationStore + OperationStore + DirectoryStore + AuditStore + DriftStore
{
}

impl<T> Store for T where
    T: ConfigStore + ApplicationStore + OperationStore + DirectoryStore + AuditStore + DriftStore
{
}
