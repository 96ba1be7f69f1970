//! The provider types, defined once: for each type, its `ProviderType` value, its case of
//! `Provider.config` (whose name is the type's name: in the API's JSON, in update-mask
//! paths, in dcr.yaml, on dcrctl's command line), its config fields, which of them are
//! secrets (write-only: sealed at rest, never returned) and which are required.
//!
//! registry-svc validates and converts requests with it, dcrctl reads and writes dcr.yaml
//! and builds requests with it, so a new provider type is one entry of
//! `provider_types!` below (plus its message in `providers.proto`, its domain config and
//! its IdP adapter in registry-svc). A test checks the table against the proto's
//! descriptors, so the two cannot drift apart.

use crate::registry::v1::provider::Config;
use crate::registry::v1::{
    Auth0Config, AzureAdConfig, CurityConfig, HttpBridgeConfig, OktaConfig, ProviderType,
    Rfc7591Config,
};

/// What a config field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// Text, stored and returned.
    Text,
    /// An absolute URL (https, or http where the registry's URL policy allows it).
    Url,
    /// A boolean switch.
    Flag,
    /// Text that is write-only: sealed at rest, never returned, never logged.
    Secret,
}

/// Whether a config field must be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Required,
    Optional,
    /// Both or neither: given exactly when the named field of the same config is.
    With(&'static str),
    /// One or the other: given exactly when the named field of the same config is not
    /// (Okta's `dcr_token` or a service app's `management_client_id`). The named field
    /// is never a secret, so whoever reads a provider back (secrets are never returned)
    /// can tell which of the two it holds.
    Instead(&'static str),
}

/// One field of a provider type's config message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigField {
    /// The proto field name (also the dcr.yaml key and the update-mask path's last part).
    pub name: &'static str,
    pub kind: FieldKind,
    pub presence: Presence,
}

impl ConfigField {
    pub fn is_secret(&self) -> bool {
        self.kind == FieldKind::Secret
    }
}

/// One provider type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeSchema {
    pub provider_type: ProviderType,
    /// The `Provider.config` case: `auth0`, `azure_ad`, ...
    pub name: &'static str,
    /// The config message's full name, e.g. `dcr.registry.v1.Auth0Config`.
    pub message: &'static str,
    /// Its fields, in the message's order.
    pub fields: &'static [ConfigField],
    /// The token claims that carry the client id, when an auth strategy names none.
    pub default_credential_claims: &'static [&'static str],
}

impl TypeSchema {
    pub fn field(&self, name: &str) -> Option<&'static ConfigField> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn secrets(&self) -> impl Iterator<Item = &'static ConfigField> {
        self.fields.iter().filter(|f| f.is_secret())
    }
}

/// A config field's value, read from a config message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRef<'a> {
    /// Text, URL and secret fields.
    Text(&'a str),
    Flag(bool),
}

impl<'a> From<&'a String> for FieldRef<'a> {
    fn from(value: &'a String) -> Self {
        Self::Text(value)
    }
}

impl From<&bool> for FieldRef<'_> {
    fn from(value: &bool) -> Self {
        Self::Flag(*value)
    }
}

/// A config field to write, in a config message.
#[derive(Debug)]
pub enum FieldMut<'a> {
    Text(&'a mut String),
    Flag(&'a mut bool),
}

impl<'a> From<&'a mut String> for FieldMut<'a> {
    fn from(value: &'a mut String) -> Self {
        Self::Text(value)
    }
}

impl<'a> From<&'a mut bool> for FieldMut<'a> {
    fn from(value: &'a mut bool) -> Self {
        Self::Flag(value)
    }
}

/// The table and the field accessors of every type, from one declaration per type.
macro_rules! provider_types {
    ($(
        $variant:ident = $name:literal ($message:ident), claims [$($claim:literal),*] {
            $($field:ident: $kind:ident, $presence:expr;)*
        }
    )*) => {
        /// Every provider type, in the order of `Provider.config`.
        pub const TYPES: &[TypeSchema] = &[$(
            TypeSchema {
                provider_type: ProviderType::$variant,
                name: $name,
                message: concat!("dcr.registry.v1.", stringify!($message)),
                fields: &[$(ConfigField {
                    name: stringify!($field),
                    kind: FieldKind::$kind,
                    presence: $presence,
                }),*],
                default_credential_claims: &[$($claim),*],
            },
        )*];

        impl Config {
            /// The type this config is of.
            pub fn provider_type(&self) -> ProviderType {
                match self {
                    $(Config::$variant(_) => ProviderType::$variant,)*
                }
            }

            /// An empty config of a type (None for UNSPECIFIED).
            pub fn empty(provider_type: ProviderType) -> Option<Self> {
                match provider_type {
                    $(ProviderType::$variant => Some(Config::$variant($message::default())),)*
                    ProviderType::Unspecified => None,
                }
            }

            /// A field by its proto name; None when the type has no such field.
            pub fn field(&self, name: &str) -> Option<FieldRef<'_>> {
                match self {
                    $(Config::$variant(c) => match name {
                        $(stringify!($field) => Some(FieldRef::from(&c.$field)),)*
                        _ => None,
                    },)*
                }
            }

            /// A field to write, by its proto name.
            pub fn field_mut(&mut self, name: &str) -> Option<FieldMut<'_>> {
                match self {
                    $(Config::$variant(c) => match name {
                        $(stringify!($field) => Some(FieldMut::from(&mut c.$field)),)*
                        _ => None,
                    },)*
                }
            }
        }
    };
}

use Presence::{Instead, Optional, Required, With};

provider_types! {
    Auth0 = "auth0" (Auth0Config), claims ["azp"] {
        initial_client_id: Text, Required;
        initial_client_secret: Secret, Required;
        // Empty: "{issuer}api/v2/".
        initial_client_audience: Text, Optional;
        use_developer_managed_scopes: Flag, Optional;
        // Empty: client_secret_post.
        token_endpoint_auth_method: Text, Optional;
    }
    // Okta's access tokens carry the client as `cid`; `client_id` first keeps
    // docs/design.md's default, `cid` is what Okta JWTs actually have.
    Okta = "okta" (OktaConfig), claims ["client_id", "cid"] {
        // An API token (SSWS), or a service app (OAuth 2.0, private_key_jwt).
        dcr_token: Secret, Instead("management_client_id");
        management_client_id: Text, With("management_private_key");
        management_private_key: Secret, With("management_client_id");
        // Empty: no `kid` in the client assertion's header.
        management_key_id: Text, Optional;
    }
    Curity = "curity" (CurityConfig), claims ["sub"] {
        initial_client_id: Text, Required;
        initial_client_secret: Secret, Required;
        introspection_client_id: Text, With("introspection_client_secret");
        introspection_client_secret: Secret, With("introspection_client_id");
    }
    AzureAd = "azure_ad" (AzureAdConfig), claims ["appid", "azp"] {
        initial_client_id: Text, Required;
        initial_client_secret: Secret, Required;
        graph_base_url: Url, Optional;
    }
    Rfc7591 = "rfc7591" (Rfc7591Config), claims ["client_id"] {
        // Empty: from the issuer's discovery document.
        registration_endpoint: Url, Optional;
        initial_access_token: Secret, Optional;
        introspection_client_id: Text, With("introspection_client_secret");
        introspection_client_secret: Secret, With("introspection_client_id");
    }
    HttpBridge = "http_bridge" (HttpBridgeConfig), claims ["client_id"] {
        dcr_base_url: Url, Required;
        api_key: Secret, Required;
        disable_event_hooks: Flag, Optional;
        disable_refresh_secret: Flag, Optional;
        allow_multiple_credentials: Flag, Optional;
    }
}

/// Whether a config field of any type is write-only.
pub fn is_secret(field: &str) -> bool {
    TYPES
        .iter()
        .any(|t| t.field(field).is_some_and(ConfigField::is_secret))
}

/// The type names, for messages: "auth0, okta, curity, azure_ad, rfc7591, http_bridge".
pub fn type_names() -> String {
    TYPES.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

impl ProviderType {
    /// Every type but UNSPECIFIED.
    pub fn all() -> impl Iterator<Item = ProviderType> {
        TYPES.iter().map(|t| t.provider_type)
    }

    /// The type's entry in `TYPES` (None for UNSPECIFIED).
    pub fn schema(self) -> Option<&'static TypeSchema> {
        TYPES.iter().find(|t| t.provider_type == self)
    }

    /// The type's name, `auth0` ... `http_bridge` ("unspecified" for UNSPECIFIED).
    pub fn as_str(self) -> &'static str {
        self.schema().map_or("unspecified", |t| t.name)
    }

    /// The type of a name (`azure_ad`; `azure-ad` too).
    pub fn from_name(name: &str) -> Option<Self> {
        let name = name.replace('-', "_");
        TYPES
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.provider_type)
    }

    /// The token claims that carry the client id, when a strategy names none.
    pub fn default_credential_claims(self) -> Vec<String> {
        self.schema()
            .map(|t| t.default_credential_claims)
            .unwrap_or_default()
            .iter()
            .map(|c| (*c).to_owned())
            .collect()
    }
}

impl Config {
    /// The type's entry in `TYPES`.
    pub fn schema(&self) -> &'static TypeSchema {
        // Every case has an entry: `provider_types!` makes both.
        let kind = self.provider_type();
        TYPES
            .iter()
            .find(|t| t.provider_type == kind)
            .unwrap_or(&TYPES[0])
    }

    /// Empties every write-only field: what the API returns.
    pub fn clear_secrets(&mut self) {
        for field in self.schema().secrets() {
            if let Some(FieldMut::Text(value)) = self.field_mut(field.name) {
                value.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use prost::Message as _;
    use prost_types::field_descriptor_proto::Type;

    use super::*;

    fn descriptors() -> prost_types::FileDescriptorSet {
        prost_types::FileDescriptorSet::decode(crate::FILE_DESCRIPTOR_SET).unwrap()
    }

    fn message<'a>(
        set: &'a prost_types::FileDescriptorSet,
        full_name: &str,
    ) -> &'a prost_types::DescriptorProto {
        let name = full_name.strip_prefix("dcr.registry.v1.").unwrap();
        set.file
            .iter()
            .filter(|f| f.package() == "dcr.registry.v1")
            .flat_map(|f| &f.message_type)
            .find(|m| m.name() == name)
            .unwrap_or_else(|| panic!("no message {full_name}"))
    }

    /// The table says what the proto says: one entry per case of `Provider.config`, in
    /// its order, naming the case's message, with exactly that message's fields in order
    /// and of matching proto types; one `ProviderType` value per entry.
    #[test]
    fn the_table_matches_the_proto() {
        let set = descriptors();
        let provider = message(&set, "dcr.registry.v1.Provider");
        let cases: Vec<_> = provider
            .field
            .iter()
            .filter(|f| f.oneof_index.is_some())
            .collect();
        assert_eq!(cases.len(), TYPES.len());
        for (case, schema) in cases.iter().zip(TYPES) {
            assert_eq!(case.name(), schema.name);
            assert_eq!(case.type_name(), format!(".{}", schema.message));
            let config = message(&set, schema.message);
            let names: Vec<&str> = config.field.iter().map(|f| f.name()).collect();
            let table: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
            assert_eq!(names, table, "{}", schema.name);
            for (field, entry) in config.field.iter().zip(schema.fields) {
                let want = if entry.kind == FieldKind::Flag {
                    Type::Bool
                } else {
                    Type::String
                };
                assert_eq!(field.r#type(), want, "{}.{}", schema.name, entry.name);
                if let Presence::With(other) = entry.presence {
                    let partner = schema.field(other).expect("the partner exists");
                    assert_eq!(partner.presence, Presence::With(entry.name));
                }
                if let Presence::Instead(other) = entry.presence {
                    let other = schema.field(other).expect("the alternative exists");
                    assert!(!other.is_secret(), "{} is read back", other.name);
                }
            }
            let value = format!("PROVIDER_TYPE_{}", schema.name.to_uppercase());
            assert_eq!(schema.provider_type.as_str_name(), value);
        }
        let values: Vec<&str> = set
            .file
            .iter()
            .flat_map(|f| &f.enum_type)
            .find(|e| e.name() == "ProviderType")
            .unwrap()
            .value
            .iter()
            .map(|v| v.name())
            .collect();
        assert_eq!(
            values.len(),
            TYPES.len() + 1,
            "UNSPECIFIED and one per type"
        );
        assert_eq!(values[0], "PROVIDER_TYPE_UNSPECIFIED");
    }

    /// The accessors reach every field of the table, and only those.
    #[test]
    fn every_field_can_be_read_and_written() {
        for schema in TYPES {
            let mut config = Config::empty(schema.provider_type).unwrap();
            assert_eq!(config.provider_type(), schema.provider_type);
            assert_eq!(config.schema(), schema);
            for field in schema.fields {
                match config.field_mut(field.name).unwrap() {
                    FieldMut::Text(value) => *value = format!("{}-value", field.name),
                    FieldMut::Flag(value) => *value = true,
                }
            }
            for field in schema.fields {
                let text = format!("{}-value", field.name);
                let want = if field.kind == FieldKind::Flag {
                    FieldRef::Flag(true)
                } else {
                    FieldRef::Text(&text)
                };
                assert_eq!(config.field(field.name).unwrap(), want);
            }
            assert!(config.field("no_such_field").is_none());
            config.clear_secrets();
            for field in schema.fields {
                let value = config.field(field.name).unwrap();
                assert_eq!(
                    value == FieldRef::Text(""),
                    field.is_secret(),
                    "{}",
                    field.name
                );
            }
        }
    }

    #[test]
    fn names_and_secrets() {
        assert_eq!(
            type_names(),
            "auth0, okta, curity, azure_ad, rfc7591, http_bridge"
        );
        assert_eq!(
            ProviderType::from_name("azure-ad"),
            Some(ProviderType::AzureAd)
        );
        assert_eq!(ProviderType::from_name("nope"), None);
        assert_eq!(ProviderType::HttpBridge.as_str(), "http_bridge");
        assert_eq!(ProviderType::Unspecified.as_str(), "unspecified");
        for secret in [
            "initial_client_secret",
            "dcr_token",
            "initial_access_token",
            "api_key",
            "introspection_client_secret",
            "management_private_key",
        ] {
            assert!(is_secret(secret), "{secret}");
        }
        assert!(!is_secret("initial_client_id"));
        assert!(!is_secret("management_client_id"));
        assert_eq!(
            ProviderType::Okta.default_credential_claims(),
            ["client_id", "cid"]
        );
    }
}
