//! The dcr.yaml format (version 1), as typed serde structs. The same structs are what
//! `export` writes, so an exported file reads back unchanged.
//!
//! Every struct rejects unknown fields; serde_yaml then names the line and column. No
//! `flatten` and no internally tagged enums: both buffer the input and lose the location.
//! A provider's type is which one of its config blocks (`rfc7591:`, `okta:`, ...) is
//! present, as in the API's `oneof`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The format version; required, so a future format is never misread.
    pub version: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<ProviderFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub strategies: Vec<StrategyFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<ProductFile>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub name: String,
    /// Omitted: the name (the API's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub issuer: String,
    /// Omitted: true. A file describes providers to use.
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth0: Option<Auth0>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub okta: Option<Okta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub curity: Option<Curity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_ad: Option<AzureAd>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rfc7591: Option<Rfc7591>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_bridge: Option<HttpBridge>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Auth0 {
    pub initial_client_id: String,
    pub initial_client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub initial_client_audience: String,
    #[serde(default)]
    pub use_developer_managed_scopes: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Okta {
    pub dcr_token: Option<Secret>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Curity {
    pub initial_client_id: String,
    pub initial_client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub introspection_client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_client_secret: Option<Secret>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AzureAd {
    pub initial_client_id: String,
    pub initial_client_secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub graph_base_url: String,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rfc7591 {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registration_endpoint: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_access_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub introspection_client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_client_secret: Option<Secret>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpBridge {
    pub dcr_base_url: String,
    pub api_key: Option<Secret>,
    #[serde(default)]
    pub disable_event_hooks: bool,
    #[serde(default)]
    pub disable_refresh_secret: bool,
    #[serde(default)]
    pub allow_multiple_credentials: bool,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyFile {
    pub name: String,
    /// The provider's name (in this file or already in the registry).
    pub provider: String,
    /// Omitted: the registry's default for the provider's type, set on create and not
    /// compared afterwards (the one field the registry decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_claims: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// Omitted: CLIENT_CREDENTIALS and BEARER (the API's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_methods: Option<Vec<AuthMethod>>,
    /// Omitted: dcr_session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cookie_name: Option<String>,
    /// `90s`, `15m`, `1h`, `1d` or seconds; omitted: 1h. Kept as text until checked, so
    /// it can come from a `${VAR}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_ttl: Option<Ttl>,
    #[serde(default)]
    pub auto_approve: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthMethod {
    ClientCredentials,
    Bearer,
    Session,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProductFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The strategy's name (in this file or already in the registry).
    pub strategy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audience: String,
}

/// A session TTL as written: text (`1h`) or a number of seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ttl(pub String);

impl Serialize for Ttl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Ttl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TtlVisitor;
        impl Visitor<'_> for TtlVisitor {
            type Value = Ttl;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 90s, 15m, 1h, 1d, or a number of seconds")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Ttl, E> {
                Ok(Ttl(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Ttl, E> {
                Ok(Ttl(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Ttl, E> {
                Ok(Ttl(v.to_owned()))
            }
        }
        deserializer.deserialize_any(TtlVisitor)
    }
}

/// Where a write-only value comes from. Secrets are never written in the file itself:
/// a literal is parsed only so that it can be refused with a message saying what to
/// write instead, and its text is dropped on the spot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// `{env: NAME}`: an environment variable (or a variable the caller passed in).
    Env(String),
    /// `{file: PATH}`: a file's content, trailing newline removed; relative paths are
    /// relative to the dcr.yaml.
    File(PathBuf),
    /// A literal in the file: refused.
    Inline,
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            Secret::Env(name) => map.serialize_entry("env", name)?,
            Secret::File(path) => map.serialize_entry("file", path)?,
            // Never exported; a marker only, so that interpolation can pass it through.
            Secret::Inline => map.serialize_entry("inline", &true)?,
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SecretVisitor;
        impl<'de> Visitor<'de> for SecretVisitor {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a secret reference: {env: VARIABLE} or {file: PATH}")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Secret, E> {
                Ok(Secret::Inline)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
                Ok(Secret::Inline)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
                Ok(Secret::Inline)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Secret, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom(
                        "an empty secret reference: write {env: VARIABLE} or {file: PATH}",
                    ));
                };
                let secret = match key.as_str() {
                    "env" => Secret::Env(map.next_value()?),
                    "file" => Secret::File(map.next_value()?),
                    "inline" => {
                        map.next_value::<de::IgnoredAny>()?;
                        Secret::Inline
                    }
                    other => {
                        return Err(de::Error::custom(format!(
                            "unknown secret reference `{other}`: write {{env: VARIABLE}} or {{file: PATH}}"
                        )));
                    }
                };
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom(
                        "a secret reference has one key: {env: VARIABLE} or {file: PATH}",
                    ));
                }
                Ok(secret)
            }
        }
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Reads the YAML. Structural problems (unknown fields, wrong types) stop at the first,
/// with its line and column; everything else is checked afterwards, all at once.
pub fn parse(text: &str) -> Result<ConfigFile, String> {
    if text.trim().is_empty() {
        return Err("the file is empty; it starts with `version: 1`".into());
    }
    serde_yaml::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn unknown_fields_name_the_line() {
        let text = "version: 1\nproviders:\n  - name: a\n    issuer: https://idp\n    isuser: x\n";
        let error = parse(text).unwrap_err();
        assert!(error.contains("unknown field `isuser`"), "{error}");
        assert!(error.contains("line 5"), "{error}");
    }

    #[test]
    fn secrets_are_references() {
        let text = "version: 1\nproviders:\n  - name: a\n    issuer: https://idp\n    okta: {dcr_token: {env: OKTA}}\n  - name: b\n    issuer: https://idp\n    okta: {dcr_token: plain}\n";
        let file = parse(text).unwrap();
        assert_eq!(
            file.providers[0].okta.as_ref().unwrap().dcr_token,
            Some(Secret::Env("OKTA".into()))
        );
        assert_eq!(
            file.providers[1].okta.as_ref().unwrap().dcr_token,
            Some(Secret::Inline)
        );
        let error = parse("version: 1\nproviders:\n  - name: a\n    issuer: x\n    okta: {dcr_token: {vault: x}}\n").unwrap_err();
        assert!(
            error.contains("unknown secret reference `vault`"),
            "{error}"
        );
        assert!(error.contains("line 5"), "{error}");
    }

    #[test]
    fn auth_methods_are_checked_where_written() {
        let error = parse("version: 1\nstrategies:\n  - name: s\n    provider: p\n    auth_methods: [BEARER, COOKIE]\n").unwrap_err();
        assert!(error.contains("unknown variant `COOKIE`"), "{error}");
        assert!(error.contains("line 5"), "{error}");
    }
}
