//! Providers ("DCR configurations"): one IdP connection each.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dcr_common::oauth::ClientAuthMethod;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;
use uuid::Uuid;

/// The provider types, shared with the API and dcrctl: `dcr_proto::providers` says what
/// each type's config holds. `ProviderConfig` is never UNSPECIFIED.
pub use dcr_proto::registry::v1::ProviderType;

/// Non-secret, type-specific settings (stored as JSON; Konnect's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ProviderConfig {
    Auth0 {
        initial_client_id: String,
        initial_client_audience: Option<String>,
        use_developer_managed_scopes: bool,
        /// How the management client authenticates at `/oauth/token`; None: not set,
        /// which is Post (`auth0_default_auth_method`). Rows written before the setting
        /// existed lack the key and read as Basic, what dcr sent then, so a provider that
        /// worked keeps working; new rows always write the key (`null` when not set).
        #[serde(default = "auth0_stored_auth_method")]
        token_endpoint_auth_method: Option<ClientAuthMethod>,
    },
    /// With `management_client_id`, dcr calls Okta's management APIs as that OAuth 2.0
    /// service app (the secret `management_private_key` signs its client assertions);
    /// without, with the API token `dcr_token`. Rows written before service apps
    /// existed read as API-token providers, and those are still written the same way.
    Okta {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        management_client_id: Option<String>,
        /// The `kid` of the service app's public key in Okta.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        management_key_id: Option<String>,
    },
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

/// Auth0's dashboard gives machine-to-machine apps "Client Secret (Post)", and its
/// client credentials reference sends `client_id` and `client_secret` in the body
/// (https://auth0.com/docs/api/authentication/client-credential-flow/get-token).
pub fn auth0_default_auth_method() -> ClientAuthMethod {
    ClientAuthMethod::ClientSecretPost
}

fn auth0_stored_auth_method() -> Option<ClientAuthMethod> {
    Some(ClientAuthMethod::ClientSecretBasic)
}

impl ProviderConfig {
    pub fn provider_type(&self) -> ProviderType {
        match self {
            Self::Auth0 { .. } => ProviderType::Auth0,
            Self::Okta { .. } => ProviderType::Okta,
            Self::Curity { .. } => ProviderType::Curity,
            Self::AzureAd { .. } => ProviderType::AzureAd,
            Self::Rfc7591 { .. } => ProviderType::Rfc7591,
            Self::HttpBridge { .. } => ProviderType::HttpBridge,
        }
    }
}

/// The write-only fields of a provider (the proto's field names; which type has which
/// is `dcr_proto::providers::TYPES`). Sealed at rest as one JSON object of the fields that
/// are set; never returned, never logged (Debug prints names only).
#[derive(Clone, Default)]
pub struct ProviderSecrets {
    /// auth0, curity, azure_ad: the management client's secret.
    pub initial_client_secret: Option<SecretString>,
    /// okta: the API token.
    pub dcr_token: Option<SecretString>,
    /// okta: the service app's private key (PEM), which signs its client assertions.
    pub management_private_key: Option<SecretString>,
    /// rfc7591: the optional RFC 7591 initial access token.
    pub initial_access_token: Option<SecretString>,
    /// http_bridge: sent as `x-api-key`.
    pub api_key: Option<SecretString>,
    /// rfc7591, curity: the optional introspection client's secret.
    pub introspection_client_secret: Option<SecretString>,
}

impl std::fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl ProviderSecrets {
    /// Every field, by name, in the order of the names (the sealed JSON's order).
    fn fields(&self) -> [(&'static str, &Option<SecretString>); 6] {
        [
            ("api_key", &self.api_key),
            ("dcr_token", &self.dcr_token),
            ("initial_access_token", &self.initial_access_token),
            ("initial_client_secret", &self.initial_client_secret),
            (
                "introspection_client_secret",
                &self.introspection_client_secret,
            ),
            ("management_private_key", &self.management_private_key),
        ]
    }

    fn field_mut(&mut self, field: &str) -> Option<&mut Option<SecretString>> {
        Some(match field {
            "api_key" => &mut self.api_key,
            "dcr_token" => &mut self.dcr_token,
            "initial_access_token" => &mut self.initial_access_token,
            "initial_client_secret" => &mut self.initial_client_secret,
            "introspection_client_secret" => &mut self.introspection_client_secret,
            "management_private_key" => &mut self.management_private_key,
            _ => return None,
        })
    }

    /// A secret by its proto field name (for the sealed form, and tests).
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields()
            .into_iter()
            .find(|(name, _)| *name == field)
            .and_then(|(_, value)| value.as_ref())
            .map(|s| s.expose_secret())
    }

    /// Sets a secret by its proto field name; a name that is no secret field is ignored.
    pub fn set(&mut self, field: &str, value: String) {
        if let Some(slot) = self.field_mut(field) {
            *slot = Some(SecretString::from(value));
        }
    }

    /// The names of the fields that hold a secret.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.fields()
            .into_iter()
            .filter(|(_, value)| value.is_some())
            .map(|(name, _)| name)
    }

    /// The sealed form: `{"api_key": "..."}`, the fields that are set.
    pub fn to_json(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let plain: BTreeMap<&str, &str> = self
            .fields()
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_ref()?.expose_secret())))
            .collect();
        zeroize::Zeroizing::new(serde_json::to_vec(&plain).unwrap_or_default())
    }

    /// Reads the sealed form. Names that are no secret field are dropped.
    pub fn from_json(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        let plain: BTreeMap<String, String> = serde_json::from_slice(bytes)?;
        let mut secrets = Self::default();
        for (name, value) in plain {
            secrets.set(&name, value);
        }
        Ok(secrets)
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
            | ProviderConfig::Okta { .. }
            | ProviderConfig::Curity { .. } => {}
        }
        urls.into_iter()
            .flatten()
            .map(|url| url.origin().ascii_serialization())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// Rows written before the typed secrets read back, and are written the same way.
    #[test]
    fn the_stored_forms_are_unchanged() {
        for stored in [
            r#"{"type":"auth0","initial_client_id":"c","initial_client_audience":null,"use_developer_managed_scopes":true,"token_endpoint_auth_method":"client_secret_basic"}"#,
            r#"{"type":"auth0","initial_client_id":"c","initial_client_audience":null,"use_developer_managed_scopes":true,"token_endpoint_auth_method":null}"#,
            r#"{"type":"okta"}"#,
            r#"{"type":"okta","management_client_id":"0oa1"}"#,
            r#"{"type":"okta","management_client_id":"0oa1","management_key_id":"k1"}"#,
            r#"{"type":"curity","initial_client_id":"c","introspection_client_id":"i"}"#,
            r#"{"type":"azure_ad","initial_client_id":"c","graph_base_url":"https://graph.microsoft.us/"}"#,
            r#"{"type":"rfc7591","registration_endpoint":null,"introspection_client_id":null}"#,
            r#"{"type":"http_bridge","dcr_base_url":"https://bridge/","disable_event_hooks":false,"disable_refresh_secret":true,"allow_multiple_credentials":false}"#,
        ] {
            let config: ProviderConfig = serde_json::from_str(stored).unwrap();
            assert_eq!(serde_json::to_string(&config).unwrap(), stored);
        }
        // An Auth0 row from before the auth method existed: Basic, what dcr sent then.
        let auth0: ProviderConfig = serde_json::from_str(
            r#"{"type":"auth0","initial_client_id":"c","initial_client_audience":null,"use_developer_managed_scopes":false}"#,
        )
        .unwrap();
        assert!(matches!(
            auth0,
            ProviderConfig::Auth0 {
                token_endpoint_auth_method: Some(ClientAuthMethod::ClientSecretBasic),
                ..
            }
        ));
        let old: ProviderConfig =
            serde_json::from_str(r#"{"type":"curity","initial_client_id":"c"}"#).unwrap();
        assert_eq!(
            old,
            ProviderConfig::Curity {
                initial_client_id: "c".into(),
                introspection_client_id: None
            }
        );
        let sealed = br#"{"api_key":"k","initial_client_secret":"s"}"#;
        let secrets = ProviderSecrets::from_json(sealed).unwrap();
        assert_eq!(secrets.api_key.as_ref().unwrap().expose_secret(), "k");
        assert_eq!(secrets.get("initial_client_secret"), Some("s"));
        assert_eq!(
            secrets.names().collect::<Vec<_>>(),
            ["api_key", "initial_client_secret"]
        );
        assert_eq!(secrets.to_json().as_slice(), sealed);
        assert_eq!(
            format!("{secrets:?}"),
            r#"{"api_key", "initial_client_secret"}"#
        );
    }
}
