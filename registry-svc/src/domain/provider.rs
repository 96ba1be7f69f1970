//! Providers ("DCR configurations"): one IdP connection each.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderType {
    Auth0,
    Okta,
    Curity,
    AzureAd,
    Rfc7591,
    HttpBridge,
}

impl ProviderType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auth0 => "auth0",
            Self::Okta => "okta",
            Self::Curity => "curity",
            Self::AzureAd => "azure_ad",
            Self::Rfc7591 => "rfc7591",
            Self::HttpBridge => "http_bridge",
        }
    }

    /// The token claims that carry the client id, when a strategy names none.
    pub fn default_credential_claims(self) -> Vec<String> {
        let claims: &[&str] = match self {
            Self::Auth0 => &["azp"],
            // Okta's access tokens carry the client as `cid`; `client_id` first keeps
            // docs/design.md's default, `cid` is what Okta JWTs actually have.
            Self::Okta => &["client_id", "cid"],
            Self::Curity => &["sub"],
            Self::AzureAd => &["appid", "azp"],
            Self::Rfc7591 | Self::HttpBridge => &["client_id"],
        };
        claims.iter().map(|c| (*c).to_owned()).collect()
    }
}

impl std::str::FromStr for ProviderType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "auth0" => Self::Auth0,
            "okta" => Self::Okta,
            "curity" => Self::Curity,
            "azure_ad" => Self::AzureAd,
            "rfc7591" => Self::Rfc7591,
            "http_bridge" => Self::HttpBridge,
            other => return Err(format!("unknown provider type {other:?}")),
        })
    }
}

/// Non-secret, type-specific settings (stored as JSON; Konnect's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProviderConfig {
    Auth0 {
        initial_client_id: String,
        initial_client_audience: Option<String>,
        use_developer_managed_scopes: bool,
    },
    Okta {},
    Curity {
        initial_client_id: String,
        /// The client that may call Curity's RFC 7662 introspection endpoint.
        #[serde(default)]
        introspection_client_id: Option<String>,
    },
    AzureAd {
        initial_client_id: String,
        /// Microsoft Graph; None: `https://graph.microsoft.com`.
        #[serde(default)]
        graph_base_url: Option<Url>,
    },
    Rfc7591 {
        registration_endpoint: Option<Url>,
        /// The client that may call the IdP's RFC 7662 introspection endpoint.
        #[serde(default)]
        introspection_client_id: Option<String>,
    },
    HttpBridge {
        dcr_base_url: Url,
        disable_event_hooks: bool,
        disable_refresh_secret: bool,
        allow_multiple_credentials: bool,
    },
}

impl ProviderConfig {
    pub fn provider_type(&self) -> ProviderType {
        match self {
            Self::Auth0 { .. } => ProviderType::Auth0,
            Self::Okta {} => ProviderType::Okta,
            Self::Curity { .. } => ProviderType::Curity,
            Self::AzureAd { .. } => ProviderType::AzureAd,
            Self::Rfc7591 { .. } => ProviderType::Rfc7591,
            Self::HttpBridge { .. } => ProviderType::HttpBridge,
        }
    }
}

/// The write-only fields of a provider, by their proto field name
/// (`initial_client_secret`, `dcr_token`, `initial_access_token`, `api_key`).
/// Sealed at rest; never returned, never logged (Debug prints names only).
#[derive(Clone, Default)]
pub struct ProviderSecrets(BTreeMap<String, SecretString>);

impl std::fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl ProviderSecrets {
    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(|s| s.expose_secret())
    }

    pub fn set(&mut self, field: &str, value: String) {
        self.0.insert(field.to_owned(), SecretString::from(value));
    }

    /// The names of the fields that hold a secret.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// Values of `other` replace these; fields `other` lacks are kept.
    pub fn merge(&mut self, other: ProviderSecrets) {
        self.0.extend(other.0);
    }

    pub fn to_json(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let plain: BTreeMap<&str, &str> = self
            .0
            .iter()
            .map(|(k, v)| (k.as_str(), v.expose_secret()))
            .collect();
        zeroize::Zeroizing::new(serde_json::to_vec(&plain).unwrap_or_default())
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let plain: BTreeMap<String, String> = serde_json::from_slice(bytes)?;
        Ok(Self(
            plain
                .into_iter()
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
        ))
    }
}

#[derive(Debug, Clone)]
pub struct Provider {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    /// Exactly as the admin gave it (tokens' `iss` must match it to the character).
    pub issuer: String,
    pub config: ProviderConfig,
    pub secrets: ProviderSecrets,
    pub labels: BTreeMap<String, String>,
    pub active: bool,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

impl Provider {
    pub fn provider_type(&self) -> ProviderType {
        self.config.provider_type()
    }

    /// The origins (scheme, host, port) this provider's secrets are sent to: its issuer
    /// and every endpoint it is configured with. An update that adds an origin must send
    /// the secrets again, or an admin could point a URL at a host they control and read a
    /// write-only secret back (with VerifyProvider, say).
    pub fn secret_origins(&self) -> std::collections::BTreeSet<String> {
        let mut urls: Vec<Option<Url>> = vec![Url::parse(&self.issuer).ok()];
        match &self.config {
            ProviderConfig::AzureAd { graph_base_url, .. } => urls.push(graph_base_url.clone()),
            ProviderConfig::Rfc7591 {
                registration_endpoint,
                ..
            } => urls.push(registration_endpoint.clone()),
            ProviderConfig::HttpBridge { dcr_base_url, .. } => {
                urls.push(Some(dcr_base_url.clone()))
            }
            ProviderConfig::Auth0 { .. }
            | ProviderConfig::Okta {}
            | ProviderConfig::Curity { .. } => {}
        }
        urls.into_iter()
            .flatten()
            .map(|url| url.origin().ascii_serialization())
            .collect()
    }
}
