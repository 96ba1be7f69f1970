//! Provider requests to domain and back. Config messages are flattened into a field map
//! (Konnect's field names), so create and masked update share one validator: an update
//! merges the request's fields into the stored ones, then validates the result whole.

use std::collections::{BTreeMap, HashSet};

use dcr_common::error::{ApiError, Violations};
use dcr_common::text::echo;
use dcr_proto::registry::v1 as pb;
use pb::provider::Config;
use serde_json::{Map, Value, json};

use super::convert::timestamp;
use crate::domain::validate::{self, UrlPolicy};
use crate::domain::{Provider, ProviderConfig, ProviderSecrets, ProviderType};

/// Write-only fields: sealed at rest, never returned.
pub const SECRET_FIELDS: &[&str] = &[
    "initial_client_secret",
    "dcr_token",
    "initial_access_token",
    "api_key",
    "introspection_client_secret",
];

fn type_of(config: &Config) -> ProviderType {
    match config {
        Config::Auth0(_) => ProviderType::Auth0,
        Config::Okta(_) => ProviderType::Okta,
        Config::Curity(_) => ProviderType::Curity,
        Config::AzureAd(_) => ProviderType::AzureAd,
        Config::Rfc7591(_) => ProviderType::Rfc7591,
        Config::HttpBridge(_) => ProviderType::HttpBridge,
    }
}

/// Every field of a config message, by name.
fn request_fields(config: &Config) -> Map<String, Value> {
    let value = match config {
        Config::Auth0(c) => json!({
            "initial_client_id": c.initial_client_id, "initial_client_secret": c.initial_client_secret,
            "initial_client_audience": c.initial_client_audience,
            "use_developer_managed_scopes": c.use_developer_managed_scopes }),
        Config::Okta(c) => json!({ "dcr_token": c.dcr_token }),
        Config::Curity(c) => json!({
            "initial_client_id": c.initial_client_id, "initial_client_secret": c.initial_client_secret,
            "introspection_client_id": c.introspection_client_id,
            "introspection_client_secret": c.introspection_client_secret }),
        Config::AzureAd(c) => json!({
            "initial_client_id": c.initial_client_id, "initial_client_secret": c.initial_client_secret,
            "graph_base_url": c.graph_base_url }),
        Config::Rfc7591(c) => json!({
            "registration_endpoint": c.registration_endpoint, "initial_access_token": c.initial_access_token,
            "introspection_client_id": c.introspection_client_id,
            "introspection_client_secret": c.introspection_client_secret }),
        Config::HttpBridge(c) => json!({
            "dcr_base_url": c.dcr_base_url, "api_key": c.api_key,
            "disable_event_hooks": c.disable_event_hooks, "disable_refresh_secret": c.disable_refresh_secret,
            "allow_multiple_credentials": c.allow_multiple_credentials }),
    };
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The stored config and secrets as the same field map.
fn stored_fields(provider: &Provider) -> Map<String, Value> {
    let mut map = match serde_json::to_value(&provider.config) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    map.remove("type");
    for value in map.values_mut() {
        if value.is_null() {
            *value = json!("");
        }
    }
    for field in SECRET_FIELDS {
        if let Some(secret) = provider.secrets.get(field) {
            map.insert((*field).to_owned(), json!(secret));
        }
    }
    map
}

fn text_field(fields: &Map<String, Value>, name: &str) -> String {
    fields
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .to_owned()
}

fn flag_field(fields: &Map<String, Value>, name: &str) -> bool {
    fields.get(name).and_then(Value::as_bool).unwrap_or(false)
}

/// Validates a complete field map of one type into config and secrets.
fn parse_fields(
    kind: ProviderType,
    fields: &Map<String, Value>,
    policy: UrlPolicy,
    v: &mut Violations,
) -> (Option<ProviderConfig>, ProviderSecrets) {
    let prefix = format!("provider.{}", kind.as_str());
    let mut secrets = ProviderSecrets::default();
    let required = |v: &mut Violations, name: &str| -> String {
        let value = text_field(fields, name);
        if value.is_empty() {
            v.add(format!("{prefix}.{name}"), "is required");
        } else if value.len() > 4096 {
            v.add(
                format!("{prefix}.{name}"),
                "must be at most 4096 characters",
            );
        }
        value
    };
    for name in SECRET_FIELDS {
        let value = text_field(fields, name);
        if !value.is_empty() {
            secrets.set(name, value);
        }
    }
    let config = match kind {
        ProviderType::Auth0 => {
            let initial_client_id = required(v, "initial_client_id");
            required(v, "initial_client_secret");
            let audience = text_field(fields, "initial_client_audience");
            Some(ProviderConfig::Auth0 {
                initial_client_id,
                initial_client_audience: (!audience.is_empty()).then_some(audience),
                use_developer_managed_scopes: flag_field(fields, "use_developer_managed_scopes"),
            })
        }
        ProviderType::Okta => {
            required(v, "dcr_token");
            Some(ProviderConfig::Okta {})
        }
        ProviderType::Curity => {
            let initial_client_id = required(v, "initial_client_id");
            required(v, "initial_client_secret");
            Some(ProviderConfig::Curity {
                initial_client_id,
                introspection_client_id: introspection_client(fields, &prefix, v),
            })
        }
        ProviderType::AzureAd => {
            let initial_client_id = required(v, "initial_client_id");
            required(v, "initial_client_secret");
            let graph = text_field(fields, "graph_base_url");
            let graph_base_url = if graph.is_empty() {
                Some(None)
            } else {
                v.check(
                    &format!("{prefix}.graph_base_url"),
                    validate::idp_url(&graph, policy),
                )
                .map(Some)
            };
            graph_base_url.map(|graph_base_url| ProviderConfig::AzureAd {
                initial_client_id,
                graph_base_url,
            })
        }
        ProviderType::Rfc7591 => {
            let endpoint = text_field(fields, "registration_endpoint");
            let registration_endpoint = if endpoint.is_empty() {
                Some(None)
            } else {
                v.check(
                    &format!("{prefix}.registration_endpoint"),
                    validate::idp_url(&endpoint, policy),
                )
                .map(Some)
            };
            let introspection_client_id = introspection_client(fields, &prefix, v);
            registration_endpoint.map(|registration_endpoint| ProviderConfig::Rfc7591 {
                registration_endpoint,
                introspection_client_id,
            })
        }
        ProviderType::HttpBridge => {
            required(v, "api_key");
            let base = text_field(fields, "dcr_base_url");
            v.check(
                &format!("{prefix}.dcr_base_url"),
                validate::idp_url(&base, policy),
            )
            .map(|dcr_base_url| ProviderConfig::HttpBridge {
                dcr_base_url,
                disable_event_hooks: flag_field(fields, "disable_event_hooks"),
                disable_refresh_secret: flag_field(fields, "disable_refresh_secret"),
                allow_multiple_credentials: flag_field(fields, "allow_multiple_credentials"),
            })
        }
    };
    (config, secrets)
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
                "one of auth0, okta, curity, azure_ad, rfc7591, http_bridge is required",
            );
            (None, ProviderSecrets::default())
        }
        Some(config) => parse_fields(type_of(config), &request_fields(config), policy, &mut v),
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
    let paths: Option<HashSet<String>> = mask
        .filter(|m| !m.paths.is_empty())
        .map(|m| m.paths.into_iter().collect());
    if let Some(paths) = &paths {
        for path in paths {
            let config_path =
                path == kind.as_str() || path.starts_with(&format!("{}.", kind.as_str()));
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
    }
    let wants = |path: &str| paths.as_ref().is_none_or(|p| p.contains(path));
    if let Some(config) = &p.config
        && type_of(config) != kind
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
    if let Some(config) = p.config.as_ref().filter(|c| type_of(c) == kind) {
        let mut fields = stored_fields(&stored);
        let given = request_fields(config);
        let whole = paths.as_ref().is_none_or(|p| p.contains(kind.as_str()));
        for (name, value) in given {
            let named = paths
                .as_ref()
                .is_some_and(|p| p.contains(&format!("{}.{name}", kind.as_str())));
            let empty_secret =
                SECRET_FIELDS.contains(&name.as_str()) && value.as_str().is_some_and(str::is_empty);
            if named || (whole && !empty_secret) {
                if SECRET_FIELDS.contains(&name.as_str()) && !empty_secret {
                    resent.insert(name.clone());
                }
                fields.insert(name, value);
            }
        }
        let (config, secrets) = parse_fields(kind, &fields, policy, &mut v);
        if let Some(config) = config {
            stored.config = config;
            stored.secrets = secrets;
        }
    }
    secrets_follow_their_origins(&origins_before, &stored, &resent, &mut v);
    v.finish()?;
    stored.update_time = now;
    Ok(stored)
}

/// Stored secrets are kept across an update only while every URL they go to keeps an
/// origin they already went to; otherwise the update must send them again.
fn secrets_follow_their_origins(
    before: &std::collections::BTreeSet<String>,
    updated: &Provider,
    resent: &HashSet<String>,
    v: &mut Violations,
) {
    let after = updated.secret_origins();
    let Some(new_origin) = after.difference(before).next() else {
        return;
    };
    let kept: Vec<&str> = updated
        .secrets
        .names()
        .filter(|name| !resent.contains(*name))
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

/// The optional introspection client (rfc7591, curity): its id and secret come together
/// or not at all.
fn introspection_client(
    fields: &Map<String, Value>,
    prefix: &str,
    v: &mut Violations,
) -> Option<String> {
    let id = text_field(fields, "introspection_client_id");
    let has_secret = !text_field(fields, "introspection_client_secret").is_empty();
    if id.is_empty() == has_secret {
        let missing = if has_secret {
            "introspection_client_id"
        } else {
            "introspection_client_secret"
        };
        v.add(
            format!("{prefix}.{missing}"),
            "is required with the other introspection field (give both or neither)",
        );
    }
    if id.len() > 4096 {
        v.add(
            format!("{prefix}.introspection_client_id"),
            "must be at most 4096 characters",
        );
    }
    (!id.is_empty()).then_some(id)
}

/// The provider as returned by the API: write-only fields are always empty.
pub fn provider_to_proto(p: &Provider) -> pb::Provider {
    let config = match &p.config {
        ProviderConfig::Auth0 {
            initial_client_id,
            initial_client_audience,
            use_developer_managed_scopes,
        } => Config::Auth0(pb::Auth0Config {
            initial_client_id: initial_client_id.clone(),
            initial_client_secret: String::new(),
            initial_client_audience: initial_client_audience.clone().unwrap_or_default(),
            use_developer_managed_scopes: *use_developer_managed_scopes,
        }),
        ProviderConfig::Okta {} => Config::Okta(pb::OktaConfig {
            dcr_token: String::new(),
        }),
        ProviderConfig::Curity {
            initial_client_id,
            introspection_client_id,
        } => Config::Curity(pb::CurityConfig {
            initial_client_id: initial_client_id.clone(),
            initial_client_secret: String::new(),
            introspection_client_id: introspection_client_id.clone().unwrap_or_default(),
            introspection_client_secret: String::new(),
        }),
        ProviderConfig::AzureAd {
            initial_client_id,
            graph_base_url,
        } => Config::AzureAd(pb::AzureAdConfig {
            initial_client_id: initial_client_id.clone(),
            initial_client_secret: String::new(),
            graph_base_url: graph_base_url
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default(),
        }),
        ProviderConfig::Rfc7591 {
            registration_endpoint,
            introspection_client_id,
        } => Config::Rfc7591(pb::Rfc7591Config {
            registration_endpoint: registration_endpoint
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_default(),
            initial_access_token: String::new(),
            introspection_client_id: introspection_client_id.clone().unwrap_or_default(),
            introspection_client_secret: String::new(),
        }),
        ProviderConfig::HttpBridge {
            dcr_base_url,
            disable_event_hooks,
            disable_refresh_secret,
            allow_multiple_credentials,
        } => Config::HttpBridge(pb::HttpBridgeConfig {
            dcr_base_url: dcr_base_url.to_string(),
            api_key: String::new(),
            disable_event_hooks: *disable_event_hooks,
            disable_refresh_secret: *disable_refresh_secret,
            allow_multiple_credentials: *allow_multiple_credentials,
        }),
    };
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
    }
}
