//! The dcr.yaml format (version 1), as typed serde structs. The same structs are what
//! `export` writes, so an exported file reads back unchanged.
//!
//! Every struct rejects unknown fields; serde_yaml then names the line and column. No
//! `flatten` and no internally tagged enums: both buffer the input and lose the location.
//! A provider's type is which one of its config blocks (`rfc7591:`, `okta:`, ...) is
//! present, as in the API's `oneof`; the blocks and their fields are
//! `dcr_proto::providers`' (the proto's names).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;

use dcr_proto::providers::{ConfigField, FieldKind, Presence, TYPES, TypeSchema};
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

/// A provider. Its config blocks are keyed by type name (`rfc7591:`, `okta:`, ...) and
/// hold the proto's config fields: both come from `dcr_proto::providers`, so a new
/// provider type needs nothing here. Read and written by hand (below) for that reason,
/// with what serde's derive does: unknown and duplicate fields refused where they are,
/// required ones named when missing.
#[derive(Debug, Clone, Default)]
pub struct ProviderFile {
    pub name: String,
    /// Omitted: the name (the API's default).
    pub display_name: Option<String>,
    pub issuer: String,
    /// Omitted: true. A file describes providers to use.
    pub active: bool,
    pub labels: BTreeMap<String, String>,
    /// The config blocks written, in the file's order; exactly one is valid.
    pub configs: Vec<ConfigBlock>,
}

impl ProviderFile {
    /// The config block, when there is exactly one.
    pub fn block(&self) -> Option<&ConfigBlock> {
        match self.configs.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The provider type's name, as its config block is called (exactly one block).
    pub fn type_name(&self) -> Option<&'static str> {
        self.block().map(|b| b.schema.name)
    }
}

/// One provider type's config block: the fields written, by their proto names.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigBlock {
    pub schema: &'static TypeSchema,
    pub values: BTreeMap<&'static str, FieldValue>,
}

/// A config field's value as written.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    /// Text and URL fields.
    Text(String),
    Flag(bool),
    /// Write-only fields: a reference, never the value.
    Secret(Secret),
}

impl ConfigBlock {
    pub fn new(schema: &'static TypeSchema) -> Self {
        Self {
            schema,
            values: BTreeMap::new(),
        }
    }

    /// A text or URL field; empty when not written.
    pub fn text(&self, field: &str) -> &str {
        match self.values.get(field) {
            Some(FieldValue::Text(text)) => text,
            _ => "",
        }
    }

    pub fn flag(&self, field: &str) -> bool {
        matches!(self.values.get(field), Some(FieldValue::Flag(true)))
    }

    pub fn secret(&self, field: &str) -> Option<&Secret> {
        match self.values.get(field) {
            Some(FieldValue::Secret(secret)) => Some(secret),
            _ => None,
        }
    }

    /// Drops the secret references (the API never returns secrets, so they are never
    /// compared).
    pub fn without_secrets(&self) -> Self {
        let mut block = self.clone();
        block
            .values
            .retain(|_, value| !matches!(value, FieldValue::Secret(_)));
        block
    }
}

/// The keys of a provider, for the message naming an unknown one.
fn provider_keys() -> &'static [&'static str] {
    static KEYS: OnceLock<Vec<&'static str>> = OnceLock::new();
    KEYS.get_or_init(|| {
        ["name", "display_name", "issuer", "active", "labels"]
            .into_iter()
            .chain(TYPES.iter().map(|t| t.name))
            .collect()
    })
}

impl Serialize for ProviderFile {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &self.name)?;
        if let Some(display_name) = &self.display_name {
            map.serialize_entry("display_name", display_name)?;
        }
        map.serialize_entry("issuer", &self.issuer)?;
        map.serialize_entry("active", &self.active)?;
        if !self.labels.is_empty() {
            map.serialize_entry("labels", &self.labels)?;
        }
        for block in &self.configs {
            map.serialize_entry(block.schema.name, block)?;
        }
        map.end()
    }
}

/// The fields in the proto's order. Required text is always written, other text when
/// not empty; flags always; secrets when referenced.
impl Serialize for ConfigBlock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        for field in self.schema.fields {
            match field.kind {
                FieldKind::Flag => map.serialize_entry(field.name, &self.flag(field.name))?,
                FieldKind::Secret => {
                    if let Some(secret) = self.secret(field.name) {
                        map.serialize_entry(field.name, secret)?;
                    }
                }
                FieldKind::Text | FieldKind::Url => {
                    let text = self.text(field.name);
                    if field.presence == Presence::Required || !text.is_empty() {
                        map.serialize_entry(field.name, text)?;
                    }
                }
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for ProviderFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ProviderVisitor;
        impl<'de> Visitor<'de> for ProviderVisitor {
            type Value = ProviderFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("struct ProviderFile")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProviderFile, A::Error> {
                let (mut name, mut display_name, mut issuer, mut active, mut labels) =
                    (None, None, None, None, None);
                let mut configs: Vec<ConfigBlock> = Vec::new();
                fn once<T, E: de::Error>(
                    slot: &mut Option<T>,
                    key: &'static str,
                    value: T,
                ) -> Result<(), E> {
                    if slot.replace(value).is_some() {
                        return Err(E::duplicate_field(key));
                    }
                    Ok(())
                }
                while let Some(key) = map.next_key_seed(ProviderKey)? {
                    match key {
                        Key::Name => once(&mut name, "name", map.next_value::<String>()?)?,
                        Key::DisplayName => once(
                            &mut display_name,
                            "display_name",
                            map.next_value::<Option<String>>()?,
                        )?,
                        Key::Issuer => once(&mut issuer, "issuer", map.next_value::<String>()?)?,
                        Key::Active => once(&mut active, "active", map.next_value::<bool>()?)?,
                        Key::Labels => once(
                            &mut labels,
                            "labels",
                            map.next_value::<BTreeMap<String, String>>()?,
                        )?,
                        Key::Config(schema) => {
                            if configs.iter().any(|b| b.schema.name == schema.name) {
                                return Err(de::Error::duplicate_field(schema.name));
                            }
                            if let Some(block) = map.next_value_seed(BlockSeed(schema))? {
                                configs.push(block);
                            }
                        }
                    }
                }
                Ok(ProviderFile {
                    name: name.ok_or_else(|| de::Error::missing_field("name"))?,
                    display_name: display_name.flatten(),
                    issuer: issuer.ok_or_else(|| de::Error::missing_field("issuer"))?,
                    active: active.unwrap_or(true),
                    labels: labels.unwrap_or_default(),
                    configs,
                })
            }
        }
        deserializer.deserialize_map(ProviderVisitor)
    }
}

/// A provider's key. Unknown keys are refused while the key is read, so the error
/// points at it (as serde's derive does).
enum Key {
    Name,
    DisplayName,
    Issuer,
    Active,
    Labels,
    Config(&'static TypeSchema),
}

struct ProviderKey;

impl<'de> de::DeserializeSeed<'de> for ProviderKey {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for ProviderKey {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a provider field")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "name" => Key::Name,
            "display_name" => Key::DisplayName,
            "issuer" => Key::Issuer,
            "active" => Key::Active,
            "labels" => Key::Labels,
            other => match TYPES.iter().find(|t| t.name == other) {
                Some(schema) => Key::Config(schema),
                None => return Err(de::Error::unknown_field(other, provider_keys())),
            },
        })
    }
}

/// A config block's key: one of its type's fields.
struct FieldKey(&'static TypeSchema);

impl<'de> de::DeserializeSeed<'de> for FieldKey {
    type Value = &'static ConfigField;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl Visitor<'_> for FieldKey {
    type Value = &'static ConfigField;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a field of the {} config", self.0.name)
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        self.0.field(key).ok_or_else(|| {
            let names: Vec<String> = self
                .0
                .fields
                .iter()
                .map(|f| format!("`{}`", f.name))
                .collect();
            E::custom(format!(
                "unknown field `{key}`, expected one of {}",
                names.join(", ")
            ))
        })
    }
}

/// Reads one type's config block (`null`: none).
struct BlockSeed(&'static TypeSchema);

impl<'de> de::DeserializeSeed<'de> for BlockSeed {
    type Value = Option<ConfigBlock>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for BlockSeed {
    type Value = Option<ConfigBlock>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "the {} config", self.0.name)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let schema = self.0;
        let mut block = ConfigBlock::new(schema);
        while let Some(field) = map.next_key_seed(FieldKey(schema))? {
            if block.values.contains_key(field.name) {
                return Err(de::Error::duplicate_field(field.name));
            }
            let value = match field.kind {
                FieldKind::Text | FieldKind::Url => FieldValue::Text(map.next_value()?),
                FieldKind::Flag => FieldValue::Flag(map.next_value()?),
                // `null` is no reference, as if the field were left out.
                FieldKind::Secret => match map.next_value::<Option<Secret>>()? {
                    Some(secret) => FieldValue::Secret(secret),
                    None => continue,
                },
            };
            block.values.insert(field.name, value);
        }
        for field in schema.fields {
            let text = matches!(field.kind, FieldKind::Text | FieldKind::Url);
            if text
                && field.presence == Presence::Required
                && !block.values.contains_key(field.name)
            {
                return Err(de::Error::missing_field(field.name));
            }
        }
        Ok(Some(block))
    }
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
    /// Omitted: the registry names it on create, `__Host-dcr-session-<strategy id>`, and
    /// it is not compared afterwards. A strategy made before that default keeps its
    /// `dcr_session`, and taking a name out of the file keeps it too: a new name logs
    /// every browser out, so only a name written here changes it.
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
            file.providers[0].block().unwrap().secret("dcr_token"),
            Some(&Secret::Env("OKTA".into()))
        );
        assert_eq!(
            file.providers[1].block().unwrap().secret("dcr_token"),
            Some(&Secret::Inline)
        );
        let error = parse("version: 1\nproviders:\n  - name: a\n    issuer: x\n    okta: {dcr_token: {vault: x}}\n").unwrap_err();
        assert!(
            error.contains("unknown secret reference `vault`"),
            "{error}"
        );
        assert!(error.contains("line 5"), "{error}");
    }

    #[test]
    fn config_blocks_follow_the_schema() {
        let error = parse("version: 1\nproviders:\n  - name: a\n    issuer: https://idp\n    http_bridge:\n      dcr_base_url: https://b\n      api_kye: {env: K}\n").unwrap_err();
        assert!(error.contains("unknown field `api_kye`"), "{error}");
        assert!(error.contains("line 7"), "{error}");
        let error = parse("version: 1\nproviders:\n  - name: a\n    issuer: https://idp\n    auth0: {initial_client_secret: {env: S}}\n").unwrap_err();
        assert!(
            error.contains("missing field `initial_client_id`"),
            "{error}"
        );
        let error = parse("version: 1\nproviders:\n  - name: a\n    issuer: https://idp\n    okta: {}\n    okta: {}\n").unwrap_err();
        assert!(error.contains("duplicate field `okta`"), "{error}");
        let none =
            parse("version: 1\nproviders:\n  - name: a\n    issuer: https://idp\n    okta:\n")
                .unwrap();
        assert!(none.providers[0].configs.is_empty());
    }

    /// Every type's block, with every field, reads back as written.
    #[test]
    fn every_type_reads_back_as_written() {
        for schema in TYPES {
            let mut block = ConfigBlock::new(schema);
            for field in schema.fields {
                let value = match field.kind {
                    FieldKind::Flag => FieldValue::Flag(true),
                    FieldKind::Secret => FieldValue::Secret(Secret::Env(field.name.to_uppercase())),
                    FieldKind::Text | FieldKind::Url => {
                        FieldValue::Text(format!("{}-v", field.name))
                    }
                };
                block.values.insert(field.name, value);
            }
            let file = ConfigFile {
                version: Some(1),
                providers: vec![ProviderFile {
                    name: "p".into(),
                    issuer: "https://idp".into(),
                    active: true,
                    configs: vec![block.clone()],
                    ..ProviderFile::default()
                }],
                ..ConfigFile::default()
            };
            let text = serde_yaml::to_string(&file).unwrap();
            let read = parse(&text).unwrap();
            assert_eq!(read.providers[0].block(), Some(&block), "{text}");
            assert_eq!(read.providers[0].type_name(), Some(schema.name));
        }
    }

    #[test]
    fn auth_methods_are_checked_where_written() {
        let error = parse("version: 1\nstrategies:\n  - name: s\n    provider: p\n    auth_methods: [BEARER, COOKIE]\n").unwrap_err();
        assert!(error.contains("unknown variant `COOKIE`"), "{error}");
        assert!(error.contains("line 5"), "{error}");
    }
}
