//! Applications (a developer's app, linked to one IdP client), their credentials and
//! their registrations to products.

use chrono::{DateTime, Utc};
use dcr_common::fingerprint::SecretFingerprint;
use url::Url;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppState {
    Provisioning,
    Active,
    Deleting,
    Failed,
}

impl AppState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "PROVISIONING",
            Self::Active => "ACTIVE",
            Self::Deleting => "DELETING",
            Self::Failed => "FAILED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PROVISIONING" => Some(Self::Provisioning),
            "ACTIVE" => Some(Self::Active),
            "DELETING" => Some(Self::Deleting),
            "FAILED" => Some(Self::Failed),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    pub id: Uuid,
    pub owner: super::Owner,
    pub name: String,
    pub description: String,
    pub strategy_id: Uuid,
    pub client_id: Option<String>,
    pub redirect_uris: Vec<Url>,
    pub state: AppState,
    pub failure_reason: String,
    /// What an operator should look at about the IdP client ('' when nothing): dcr
    /// could not confirm a change there (see `lifecycle::reconcile`).
    pub attention: String,
    pub request_id: Option<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// What an IdP adapter needs to manage a client later (e.g. the RFC 7592 registration
/// access token and client URI). Opaque to everything but the adapter; sealed at rest.
#[derive(Clone, Default, PartialEq)]
pub struct IdpClientState(pub serde_json::Value);

impl std::fmt::Debug for IdpClientState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdpClientState(..)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Credential {
    pub id: Uuid,
    pub application_id: Uuid,
    pub secret_hint: String,
    /// The IdP's id for this secret, where it has one.
    pub idp_ref: String,
    pub create_time: DateTime<Utc>,
    pub expire_time: Option<DateTime<Utc>>,
    pub revoke_time: Option<DateTime<Utc>>,
    /// The secret's fingerprint (none for credentials made before dcr kept them).
    pub fingerprint: Option<SecretFingerprint>,
}

impl Credential {
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoke_time.is_none() && self.expire_time.is_none_or(|t| t > now)
    }
}

/// The last 4 characters of a secret, for people to tell credentials apart.
pub fn secret_hint(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationStatus {
    Pending,
    Approved,
    Rejected,
}

impl RegistrationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Approved => "APPROVED",
            Self::Rejected => "REJECTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PENDING" => Some(Self::Pending),
            "APPROVED" => Some(Self::Approved),
            "REJECTED" => Some(Self::Rejected),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub id: Uuid,
    pub application_id: Uuid,
    pub product_id: Uuid,
    pub status: RegistrationStatus,
    /// The developer's chosen scopes (a subset of the strategy's); empty: the strategy's.
    pub scopes: Vec<String>,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

/// A registration with what approvers need to know of its application, read with it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedRegistration {
    pub registration: Registration,
    pub application_name: String,
    pub owner: super::Owner,
}
