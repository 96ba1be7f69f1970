//! Provider requests to domain and back, one config message to one `ProviderConfig`
//! (and its `ProviderSecrets`) directly. What each type's config holds, which fields are
//! secrets and which are required is `dcr_proto::providers`: presence and length are
//! checked from it, the rest per type. Create and masked update share one validator: an
//! update merges the request's fields into the stored config (as a message) by the
//! mask, then validates the result whole.

use std::collections::{BTreeMap, HashSet};

use dcr_common::error::{ApiError, Violations};
use dcr_common::text::echo;
use dcr_proto::providers::{FieldKind, FieldMut, FieldRef, Presence, type_names};
use dcr_proto::registry::v1 as pb;
use pb::provider::Config;
use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use super::convert::timestamp;
use crate::domain::validate::{self, UrlPolicy};
use crate::domain::{Provider, ProviderConfig, ProviderSecrets, ProviderType};
use dcr_common::oauth::ClientAuthMethod;

/// The longest text field (the URL policy bounds URLs).
const MAX_FIELD: usize = 4096;

fn text(config: &Config, name: &str) -> String {
    match config.field(name) {
        Some(FieldRef::Text(value)) => value.trim().to_owned(),
        _ => String::new(),
    }
}

/// `other`, and its both-or-neither partner if it has one: "a" or "a with b".
fn with_partner(config: &Config, other: &str) -> String {
    match config.schema().field(other).map(|f| f.presence) {
        Some(Presence::With(partner)) => format!("{other} with {partner}"),
        _ => other.to_owned(),
    }
}

/// Required fields, the both-or-neither pairs, the one-or-the-other alternatives and
/// lengths, as the schema says. URLs are the URL policy's to check.
fn check_presence(config: &Config, prefix: &str, v: &mut Violations) {
    for field in config.schema().fields {
        if matches!(field.kind, FieldKind::Flag | FieldKind::Url) {
            continue;
        }
        let value = text(config, field.name);
        match field.presence {
            // Optional: nothing to require, but its length is bounded like the rest.
            Presence::Optional => {}
            Presence::Required if value.is_empty() => {
                v.add(format!("{prefix}.{}", field.name), "is required");
            }
            // Reported once, at the field that is missing.
            Presence::With(other) if value.is_empty() && !text(config, other).is_empty() => {
                v.add(
                    format!("{prefix}.{}", field.name),
                    format!("is required with {other} (give both or neither)"),
                );
            }
            Presence::Instead(other) => match (value.is_empty(), text(config, other).is_empty()) {
                (true, true) => v.add(
                    format!("{prefix}.{}", field.name),
                    format!(
                        "one of {} or {} is required",
                        field.name,
                        with_partner(config, other)
                    ),
                ),
                (false, false) => v.add(
                    format!("{prefix}.{}", field.name),
                    format!(
                        "give {} or {}, not both (to change from one to the other in an \
                         update, name this field in update_mask with an empty value)",
                        field.name,
                        with_partner(config, other)
                    ),
                ),
                _ => {}
            },
            _ => {}
        }
        if value.len() > MAX_FIELD {
            v.add(
                format!("{prefix}.{}", field.name),
                format!("must be at most {MAX_FIELD} characters"),
            );
        }
    }
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

fn secret(value: &str) -> Option<SecretString> {
    non_empty(value).map(SecretString::from)
}

/// An optional URL field: empty is None; otherwise it must pass the URL policy.
fn optional_url(
    value: &str,
    field: &str,
    policy: UrlPolicy,
    v: &mut Violations,
) -> Option<Option<Url>> {
    match non_empty(value) {
        None => Some(None),
        Some(url) => v.check(field, validate::idp_url(&url, policy)).map(Some),
    }
}

/// A management client's token endpoint auth method; empty is None (Auth0's default,
/// Post), kept as given so the API returns what the admin set.
fn auth_method(value: &str, field: &str, v: &mut Violations) -> Option<Option<ClientAuthMethod>> {
    match non_empty(value) {
        None => Some(None),
        Some(name) => {
            let method = ClientAuthMethod::parse(&name);
            if method.is_none() {
                v.add(
                    field,
                    format!(
                        "must be client_secret_post or client_secret_basic, not \"{}\"",
                        echo(&name)
                    ),
                );
            }
            method.map(Some)
        }
    }
}

/// An Okta service app's client id and key id, its private key checked (it must sign as
/// RS256 or ES256). Which of API token and service app is given is `check_presence`'s.
fn okta_service_app(
    c: &pb::OktaConfig,
    at: &dyn Fn(&str) -> String,
    v: &mut Violations,
) -> Option<(Option<String>, Option<String>)> {
    let client_id = non_empty(&c.management_client_id);
    let key_id = non_empty(&c.management_key_id);
    if key_id.is_some() && client_id.is_none() {
        v.add(
            at("management_key_id"),
            "is the KID of the service app's key: set it only with management_client_id",
        );
    }
    if let Some(key) = non_empty(&c.management_private_key)
        && let Err(why) = crate::idp::AssertionKey::from_pem(&key)
    {
        v.add(at("management_private_key"), why);
        return None;
    }
    Some((client_id, key_id))
}

/// Validates a complete config message into the domain's config and secrets.
fn parse_config(
    config: &Config,
    policy: UrlPolicy,
    v: &mut Violations,
) -> (Option<ProviderConfig>, ProviderSecrets) {
    let prefix = format!("provider.{}", config.provider_type().as_str());
    check_presence(config, &prefix, v);
    let at = |field: &str| format!("{prefix}.{field}");
    match config {
        Config::Auth0(c) => (
            auth_method(
                &c.token_endpoint_auth_method,
                &at("token_endpoint_auth_method"),
                v,
            )
            .map(|token_endpoint_auth_method| ProviderConfig::Auth0 {
                initial_client_id: c.initial_client_id.trim().to_owned(),
                initial_client_audience: non_empty(&c.initial_client_audience),
                use_developer_managed_scopes: c.use_developer_managed_scopes,
                token_endpoint_auth_method,
            }),
            ProviderSecrets {
                initial_client_secret: secret(&c.initial_client_secret),
                ..ProviderSecrets::default()
            },
        ),
        Config::Okta(c) => (
            okta_service_app(c, &at, v).map(|(management_client_id, management_key_id)| {
                ProviderConfig::Okta {
                    management_client_id,
                    management_key_id,
                }
            }),
            ProviderSecrets {
                dcr_token: secret(&c.dcr_token),
                management_private_key: secret(&c.management_private_key),
                ..ProviderSecrets::default()
            },
        ),
        Config::Curity(c) => (
            Some(ProviderConfig::Curity {
                initial_client_id: c.initial_client_id.trim().to_owned(),
                introspection_client_id: non_empty(&c.introspection_client_id),
            }),
            ProviderSecrets {
                initial_client_secret: secret(&c.initial_client_secret),
                introspection_client_secret: secret(&c.introspection_client_secret),
                ..ProviderSecrets::default()
            },
        ),
        Config::AzureAd(c) => (
            optional_url(&c.graph_base_url, &at("graph_base_url"), policy, v).map(
                |graph_base_url| ProviderConfig::AzureAd {
                    initial_client_id: c.initial_client_id.trim().to_owned(),
                    graph_base_url,
                },
            ),
            ProviderSecrets {
                initial_client_secret: secret(&c.initial_client_secret),
                ..ProviderSecrets::default()
            },
        ),
        Config::Rfc7591(c) => (
            optional_url(
                &c.registration_endpoint,
                &at("registration_endpoint"),
                policy,
                v,
            )
            .map(|registration_endpoint| ProviderConfig::Rfc7591 {
                registration_endpoint,
                introspection_client_id: non_empty(&c.introspection_client_id),
            }),
            ProviderSecrets {
                initial_access_token: secret(&c.initial_access_token),
                introspection_client_secret: secret(&c.introspection_client_secret),
                ..ProviderSecrets::default()
            },
        ),
        Config::HttpBridge(c) => (
            v.check(
                &at("dcr_base_url"),
                validate::idp_url(c.dcr_base_url.trim(), policy),
            )
            .map(|dcr_base_url| ProviderConfig::HttpBridge {
                dcr_base_url,
                disable_event_hooks: c.disable_event_hooks,
                disable_refresh_secret: c.disable_refresh_secret,
                allow_multiple_credentials: c.allow_multiple_credentials,
            }),
            ProviderSecrets {
                api_key: secret(&c.api_key),
                ..ProviderSecrets::default()
            },
        ),
    }
}

/// The domain's config as its message. With `secrets`, their values are in it (only to
/// merge an update into); without, write-only fields are empty, as the API returns them.
fn config_to_proto(config: &ProviderConfig, secrets: Option<&ProviderSecrets>) -> Config {
    let reveal = |pick: fn(&ProviderSecrets) -> &Option<SecretString>| -> String {
        secrets
            .and_then(|s| pick(s).as_ref())
            .map(|s| s.expose_secret().to_owned())
            .unwrap_or_default()
    };
    let url = |u: &Option<Url>| u.as_ref().map(Url::to_string).unwrap_or_default();
    match config {
        ProviderConfig::Auth0 {
            initial_client_id,
            initial_client_audience,
            use_developer_managed_scopes,
            token_endpoint_auth_method,
        } => Config::Auth0(pb::Auth0Config {
            initial_client_id: initial_client_id.clone(),
            initial_client_secret: reveal(|s| &s.initial_client_secret),
            initial_client_audience: initial_client_audience.clone().unwrap_or_default(),
            use_developer_managed_scopes: *use_developer_managed_scopes,
            token_endpoint_auth_method: token_endpoint_auth_method
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
        }),
        ProviderConfig::Okta {
            management_client_id,
            management_key_id,
        } => Config::Okta(pb::OktaConfig {
            dcr_token: reveal(|s| &s.dcr_token),
            management_client_id: management_client_id.clone().unwrap_or_default(),
            management_private_key: reveal(|s| &s.management_private_key),
            management_key_id: management_key_id.clone().unwrap_or_default(),
        }),
        ProviderConfig::Curity {
            initial_client_id,
            introspection_client_id,
        } => Config::Curity(pb::CurityConfig {
            initial_client_id: initial_client_id.clone(),
            initial_client_secret: reveal(|s| &s.initial_client_secret),
            introspection_client_id: introspection_client_id.clone().unwrap_or_default(),
            introspection_client_secret: reveal(|s| &s.introspection_client_secret),
        }),
        ProviderConfig::AzureAd {
            initial_client_id,
            graph_base_url,
        } => Config::AzureAd(pb::AzureAdConfig {
            initial_client_id: initial_client_id.clone(),
            initial_client_secret: reveal(|s| &s.initial_client_secret),
            graph_base_url: url(graph_base_url),
        }),
        ProviderConfig::Rfc7591 {
            registration_endpoint,
            introspection_client_id,
        } => Config::Rfc7591(pb::Rfc7591Config {
            registration_endpoint: url(registration_endpoint),
            initial_access_token: reveal(|s| &s.initial_access_token),
            introspection_client_id: introspection_client_id.clone().unwrap_or_default(),
            introspection_client_secret: reveal(|s| &s.introspection_client_secret),
        }),
        ProviderConfig::HttpBridge {
            dcr_base_url,
            disable_event_hooks,
            disable_refresh_secret,
            allow_multiple_credentials,
        } => Config::HttpBridge(pb::HttpBridgeConfig {
            dcr_base_url: dcr_base_url.to_string(),
            api_key: reveal(|s| &s.api_key),
            disable_event_hooks: *disable_event_hooks,
            disable_refresh_secret: *disable_refresh_secret,
            allow_multiple_credentials: *allow_multiple_credentials,
        }),
    }
}

/// Copies one field from `from` to `to` (configs of the same type).
fn copy_field(from: &Config, to: &mut Config, name: &str) {
    match (from.field(name), to.field_mut(name)) {
        (Some(FieldRef::Text(value)), Some(FieldMut::Text(slot))) => *slot = value.to_owned(),
        (Some(FieldRef::Flag(value)), Some(FieldMut::Flag(slot))) => *slot = value,
        _ => {}
    }
}

fn parse_labels(
    labels: &std::collections::HashMap<String, String>,
    v: &mut Violations,
) -> BTreeMap<String, String> {
    let labels: BTreeMap<String, String> = labels.clone().into_iter().collect();
    v.check("provider.labels", validate::labels(&labels));
    labels
}

pub fn parse_new_provider(
    p: pb::Provider,
    policy: UrlPolicy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Provider, ApiError> {
    let mut v = Violations::new();
    let name = v.check("provider.name", validate::name(&p.name));
    let display_name = v.check(
        "provider.display_name",
        validate::one_line(p.display_name.trim(), validate::MAX_NAME),
    );
    let issuer = v
        .check("provider.issuer", validate::issuer(p.issuer.trim(), policy))
        .map(|_| p.issuer.trim().to_owned());
    let labels = parse_labels(&p.labels, &mut v);
    let (config, secrets) = match &p.config {
        None => {
            v.add(
                "provider.config",
                format!("one of {} is required", type_names()),
            );
            (None, ProviderSecrets::default())
        }
        Some(config) => parse_config(config, policy, &mut v),
    };
    v.finish()?;
    let (Some(name), Some(display_name), Some(issuer), Some(config)) =
        (name, display_name, issuer, config)
    else {
        return Err(ApiError::internal(anyhow::anyhow!(
            "validated provider lacks a field"
        )));
    };
    Ok(Provider {
        id: uuid::Uuid::now_v7(),
        display_name: if display_name.is_empty() {
            name.clone()
        } else {
            display_name
        },
        name,
        issuer,
        config,
        secrets,
        labels,
        active: p.active,
        create_time: now,
        update_time: now,
    })
}

const PLAIN_PATHS: &[&str] = &["name", "display_name", "issuer", "labels", "active"];

/// Applies an update (AIP-134) to the stored provider. The type cannot change; write-only
/// fields left empty keep their stored values unless a mask path names them.
pub fn apply_provider_update(
    mut stored: Provider,
    p: pb::Provider,
    mask: Option<prost_types::FieldMask>,
    policy: UrlPolicy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Provider, ApiError> {
    let mut v = Violations::new();
    let kind = stored.provider_type();
    let origins_before = stored.secret_origins();
    let mut resent = HashSet::new();
    let paths = update_paths(mask, kind, &mut v);
    let wants = |path: &str| paths.as_ref().is_none_or(|p| p.contains(path));
    if let Some(config) = &p.config
        && config.provider_type() != kind
    {
        v.add(
            "provider.config",
            format!("the type cannot change (it is {})", kind.as_str()),
        );
    }
    if wants("name")
        && (paths.is_some() || !p.name.is_empty())
        && let Some(name) = v.check("provider.name", validate::name(&p.name))
    {
        stored.name = name;
    }
    if wants("display_name")
        && (paths.is_some() || !p.display_name.is_empty())
        && let Some(display) = v.check(
            "provider.display_name",
            validate::one_line(p.display_name.trim(), validate::MAX_NAME),
        )
    {
        stored.display_name = if display.is_empty() {
            stored.name.clone()
        } else {
            display
        };
    }
    if wants("issuer")
        && (paths.is_some() || !p.issuer.is_empty())
        && v.check("provider.issuer", validate::issuer(p.issuer.trim(), policy))
            .is_some()
    {
        stored.issuer = p.issuer.trim().to_owned();
    }
    if wants("labels") && (paths.is_some() || !p.labels.is_empty()) {
        stored.labels = parse_labels(&p.labels, &mut v);
    }
    if paths.as_ref().is_some_and(|p| p.contains("active"))
        || (paths.is_none() && p.active != stored.active)
    {
        stored.active = p.active;
    }
    if let Some(given) = p.config.as_ref().filter(|c| c.provider_type() == kind) {
        merge_config(
            &mut stored,
            given,
            paths.as_ref(),
            policy,
            &mut resent,
            &mut v,
        );
    }
    secrets_follow_their_origins(&origins_before, &stored, &resent, &mut v);
    v.finish()?;
    stored.update_time = now;
    Ok(stored)
}

/// The update mask's paths (None: every field), each checked against what may change.
fn update_paths(
    mask: Option<prost_types::FieldMask>,
    kind: ProviderType,
    v: &mut Violations,
) -> Option<HashSet<String>> {
    let paths: Option<HashSet<String>> = mask
        .filter(|m| !m.paths.is_empty())
        .map(|m| m.paths.into_iter().collect());
    for path in paths.iter().flatten() {
        let config_path = path == kind.as_str() || path.starts_with(&format!("{}.", kind.as_str()));
        if !PLAIN_PATHS.contains(&path.as_str()) && !config_path {
            v.add(
                "update_mask",
                format!(
                    "unknown or immutable path \"{}\" (the type is {})",
                    echo(path),
                    kind.as_str()
                ),
            );
        }
    }
    paths
}

/// Merges the given config fields into the stored ones: those the mask names, or all but
/// empty secrets when it names the whole config. Secrets sent again go into `resent`.
fn merge_config<'a>(
    stored: &mut Provider,
    given: &'a pb::provider::Config,
    paths: Option<&HashSet<String>>,
    policy: UrlPolicy,
    resent: &mut HashSet<&'a str>,
    v: &mut Violations,
) {
    let kind = stored.provider_type();
    let mut merged = config_to_proto(&stored.config, Some(&stored.secrets));
    let whole = paths.is_none_or(|p| p.contains(kind.as_str()));
    for field in given.schema().fields {
        let named = paths.is_some_and(|p| p.contains(&format!("{}.{}", kind.as_str(), field.name)));
        let empty_secret = field.is_secret() && given.field(field.name) == Some(FieldRef::Text(""));
        if named || (whole && !empty_secret) {
            if field.is_secret() && !empty_secret {
                resent.insert(field.name);
            }
            copy_field(given, &mut merged, field.name);
        }
    }
    let (config, secrets) = parse_config(&merged, policy, v);
    if let Some(config) = config {
        stored.config = config;
        stored.secrets = secrets;
    }
}

/// Stored secrets are kept across an update only while every URL they go to keeps an
/// origin they already went to; otherwise the update must send them again.
fn secrets_follow_their_origins(
    before: &std::collections::BTreeSet<String>,
    updated: &Provider,
    resent: &HashSet<&str>,
    v: &mut Violations,
) {
    let after = updated.secret_origins();
    let Some(new_origin) = after.difference(before).next() else {
        return;
    };
    let kept: Vec<&str> = updated
        .secrets
        .names()
        .filter(|name| !resent.contains(name))
        .collect();
    if !kept.is_empty() {
        v.add(
            "provider",
            format!(
                "this update sends the provider's secrets to a new origin ({new_origin}); \
                 send {} again in the same update (stored secrets only stay with the origins \
                 they were given for)",
                kept.join(", ")
            ),
        );
    }
}

/// The provider as returned by the API: write-only fields are always empty.
pub fn provider_to_proto(p: &Provider) -> pb::Provider {
    let mut config = config_to_proto(&p.config, None);
    config.clear_secrets();
    pb::Provider {
        id: p.id.to_string(),
        name: p.name.clone(),
        display_name: p.display_name.clone(),
        issuer: p.issuer.clone(),
        config: Some(config),
        labels: p.labels.clone().into_iter().collect(),
        active: p.active,
        create_time: Some(timestamp(p.create_time)),
        update_time: Some(timestamp(p.update_time)),
        // Only the answers of create and update carry warnings (api::providers).
        warnings: Vec::new(),
        provider_type: p.provider_type() as i32,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use dcr_proto::providers::{FieldKind, Presence, TYPES};

    use super::*;

    fn policy() -> UrlPolicy {
        UrlPolicy {
            allow_http_loopback: false,
            allow_http_hosts: &[],
        }
    }

    /// A config of the type with every field set that may be set together: text
    /// `<field>-value`, URLs under https://idp.example.com, flags true, keys real keys;
    /// of two alternatives (`Presence::Instead`), the one the other names.
    fn full(schema: &dcr_proto::providers::TypeSchema) -> Config {
        let mut config = Config::empty(schema.provider_type).unwrap();
        for field in schema.fields {
            if let Presence::Instead(_) = field.presence {
                continue;
            }
            match (config.field_mut(field.name).unwrap(), field.kind) {
                (FieldMut::Flag(flag), _) => *flag = true,
                (FieldMut::Text(text), FieldKind::Url) => {
                    *text = format!("https://idp.example.com/{}", field.name);
                }
                // A choice of two: the one that is not the default.
                (FieldMut::Text(text), _) if field.name == "token_endpoint_auth_method" => {
                    *text = "client_secret_basic".into();
                }
                (FieldMut::Text(text), _) if field.name == "management_private_key" => {
                    *text = crate::idp::test_keys::p256_pkcs8();
                }
                (FieldMut::Text(text), _) => *text = format!("{}-value", field.name),
            }
        }
        config
    }

    /// The text `config` holds in `field`, None when empty.
    fn given<'a>(config: &'a Config, field: &str) -> Option<&'a str> {
        match config.field(field) {
            Some(FieldRef::Text(text)) if !text.is_empty() => Some(text),
            _ => None,
        }
    }

    fn provider(config: Config) -> pb::Provider {
        pb::Provider {
            name: "p".into(),
            issuer: "https://idp.example.com".into(),
            config: Some(config),
            ..Default::default()
        }
    }

    /// Per type: proto -> domain -> proto keeps every non-secret field, returns every
    /// secret empty, keeps the secrets in the domain, and names the type.
    #[test]
    fn every_type_round_trips_without_its_secrets() {
        for schema in TYPES {
            let sent = full(schema);
            let parsed = parse_new_provider(provider(sent.clone()), policy(), chrono::Utc::now())
                .unwrap_or_else(|e| panic!("{}: {e:?}", schema.name));
            assert_eq!(parsed.provider_type(), schema.provider_type);
            let back = provider_to_proto(&parsed);
            assert_eq!(back.provider_type, schema.provider_type as i32);
            let config = back.config.expect("a config");
            for field in schema.fields {
                let got = config.field(field.name).unwrap();
                if field.is_secret() {
                    assert_eq!(got, FieldRef::Text(""), "{}.{}", schema.name, field.name);
                    let kept = parsed.secrets.get(field.name);
                    assert_eq!(kept, given(&sent, field.name).map(str::trim));
                } else {
                    assert_eq!(
                        Some(got),
                        sent.field(field.name),
                        "{}.{}",
                        schema.name,
                        field.name
                    );
                }
            }
            assert_eq!(
                parsed.secrets.names().count(),
                schema
                    .secrets()
                    .filter(|f| given(&sent, f.name).is_some())
                    .count(),
                "{}: only the type's own secrets",
                schema.name
            );
        }
    }

    /// Per type: an empty config names each required field (and each field that is
    /// required unless its alternative is given), and nothing else.
    #[test]
    fn required_fields_come_from_the_schema() {
        for schema in TYPES {
            let empty = Config::empty(schema.provider_type).unwrap();
            let mut want: Vec<String> = schema
                .fields
                .iter()
                .filter(|f| matches!(f.presence, Presence::Required | Presence::Instead(_)))
                .map(|f| format!("provider.{}.{}", schema.name, f.name))
                .collect();
            want.sort();
            let got = match parse_new_provider(provider(empty), policy(), chrono::Utc::now()) {
                Ok(_) => Vec::new(),
                Err(ApiError::InvalidArgument(violations)) => {
                    let mut got: Vec<String> = violations.into_iter().map(|v| v.field).collect();
                    got.sort();
                    got
                }
                Err(other) => panic!("{}: {other:?}", schema.name),
            };
            assert_eq!(got, want, "{}", schema.name);
        }
    }

    /// An update keeps stored secrets it does not send, and replaces those it does.
    #[test]
    fn an_update_merges_by_the_mask() {
        let stored = parse_new_provider(
            provider(full(pb::ProviderType::Curity.schema().unwrap())),
            policy(),
            chrono::Utc::now(),
        )
        .unwrap();
        let given = Config::Curity(pb::CurityConfig {
            initial_client_secret: "rotated".into(),
            ..Default::default()
        });
        let updated = apply_provider_update(
            stored,
            pb::Provider {
                config: Some(given),
                ..Default::default()
            },
            Some(prost_types::FieldMask {
                paths: vec!["curity.initial_client_secret".into()],
            }),
            policy(),
            chrono::Utc::now(),
        )
        .unwrap();
        assert_eq!(
            updated.secrets.get("initial_client_secret"),
            Some("rotated")
        );
        assert_eq!(
            updated.secrets.get("introspection_client_secret"),
            Some("introspection_client_secret-value")
        );
        assert_eq!(
            updated.config,
            ProviderConfig::Curity {
                initial_client_id: "initial_client_id-value".into(),
                introspection_client_id: Some("introspection_client_id-value".into()),
            }
        );
    }
}
