//! Auth strategies (how gateways validate a provider's apps) and the API products that
//! use them.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AuthMethod {
    ClientCredentials,
    Bearer,
    Session,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientCredentials => "CLIENT_CREDENTIALS",
            Self::Bearer => "BEARER",
            Self::Session => "SESSION",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "CLIENT_CREDENTIALS" => Some(Self::ClientCredentials),
            "BEARER" => Some(Self::Bearer),
            "SESSION" => Some(Self::Session),
            _ => None,
        }
    }
}

/// The API's defaults (strategies.proto), shared with dcrctl.
pub use dcr_proto::strategies::{DEFAULT_SESSION_TTL, default_session_cookie};

#[derive(Debug, Clone, PartialEq)]
pub struct AuthStrategy {
    pub id: Uuid,
    pub name: String,
    pub provider_id: Uuid,
    pub credential_claims: Vec<String>,
    pub scopes: Vec<String>,
    pub audience: String,
    pub auth_methods: Vec<AuthMethod>,
    pub session_cookie_name: String,
    pub session_ttl: Duration,
    pub auto_approve: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiProduct {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub strategy_id: Uuid,
    pub audience: String,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}
