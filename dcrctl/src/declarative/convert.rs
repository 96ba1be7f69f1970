//! The file's types to the API's messages and back. Registry -> file is used by `export`
//! and to compare; file -> registry by `apply`, with the secrets it resolved.

use std::collections::BTreeMap;
use std::time::Duration;

use dcr_proto::providers::{FieldKind, FieldMut, FieldRef, Presence};
use dcr_proto::registry::v1 as pb;
use pb::provider::Config;

use super::file::{
    AuthMethod, ConfigBlock, FieldValue, ProductFile, ProviderFile, Secret, StrategyFile, Ttl,
};

/// The API's defaults for strategy fields the file may leave out (strategies.proto).
pub const DEFAULT_AUTH_METHODS: &[AuthMethod] =
    &[AuthMethod::ClientCredentials, AuthMethod::Bearer];
pub use dcr_proto::strategies::DEFAULT_SESSION_TTL;

/// The secret references of a provider's config blocks: (type, field, reference,
/// required). A secret paired with another field is required when that one is set; one
/// that is an alternative to another field, when that one is not.
pub fn secrets(p: &ProviderFile) -> Vec<(&'static str, &'static str, Option<&Secret>, bool)> {
    let mut out = Vec::new();
    for block in &p.configs {
        for field in block.schema.secrets() {
            let required = match field.presence {
                Presence::Required => true,
                Presence::Optional => false,
                Presence::With(other) => !block.text(other).is_empty(),
                Presence::Instead(other) => block.text(other).is_empty(),
            };
            out.push((
                block.schema.name,
                field.name,
                block.secret(field.name),
                required,
            ));
        }
    }
    out
}

/// A registry provider in the file's terms; `secret` names the reference written for each
/// secret field the provider may hold (export), or gives None (comparison).
pub fn provider_to_file(p: &pb::Provider, secret: &dyn Fn(&str) -> Option<Secret>) -> ProviderFile {
    let mut file = ProviderFile {
        name: p.name.clone(),
        display_name: Some(p.display_name.clone()),
        issuer: p.issuer.clone(),
        active: p.active,
        labels: p.labels.clone().into_iter().collect(),
        ..ProviderFile::default()
    };
    if let Some(config) = &p.config {
        let mut block = ConfigBlock::new(config.schema());
        for field in block.schema.fields {
            let value = match (field.kind, config.field(field.name)) {
                (FieldKind::Secret, _) => {
                    // A paired secret exists exactly with its partner (both or neither),
                    // an alternative exactly without the other.
                    let other_set =
                        |other| config.field(other).is_some_and(|v| v != FieldRef::Text(""));
                    let held = match field.presence {
                        Presence::With(other) => other_set(other),
                        Presence::Instead(other) => !other_set(other),
                        _ => true,
                    };
                    match held.then(|| secret(field.name)).flatten() {
                        Some(reference) => FieldValue::Secret(reference),
                        None => continue,
                    }
                }
                (_, Some(FieldRef::Text(text))) => FieldValue::Text(text.to_owned()),
                (_, Some(FieldRef::Flag(flag))) => FieldValue::Flag(flag),
                (_, None) => continue,
            };
            block.values.insert(field.name, value);
        }
        file.configs.push(block);
    }
    file
}

/// A provider of the file as the API's message, with its resolved secrets (by field).
pub fn provider_to_proto(
    p: &ProviderFile,
    secrets: &BTreeMap<&'static str, String>,
) -> pb::Provider {
    let config = p.block().and_then(|block| {
        let mut config = Config::empty(block.schema.provider_type)?;
        for field in block.schema.fields {
            match config.field_mut(field.name) {
                Some(FieldMut::Text(slot)) if field.is_secret() => {
                    *slot = secrets.get(field.name).cloned().unwrap_or_default();
                }
                Some(FieldMut::Text(slot)) => *slot = block.text(field.name).to_owned(),
                Some(FieldMut::Flag(slot)) => *slot = block.flag(field.name),
                None => {}
            }
        }
        Some(config)
    });
    pb::Provider {
        name: p.name.clone(),
        display_name: p.display_name.clone().unwrap_or_default(),
        issuer: p.issuer.clone(),
        config,
        labels: p.labels.clone().into_iter().collect(),
        active: p.active,
        ..pb::Provider::default()
    }
}

/// Seconds in the largest whole unit, as the file writes durations.
pub fn format_ttl(duration: Duration) -> Ttl {
    let s = duration.as_secs();
    let text = if s > 0 && s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    };
    Ttl(text)
}

fn method_from_proto(raw: i32) -> Option<AuthMethod> {
    match pb::AuthMethod::try_from(raw) {
        Ok(pb::AuthMethod::ClientCredentials) => Some(AuthMethod::ClientCredentials),
        Ok(pb::AuthMethod::Bearer) => Some(AuthMethod::Bearer),
        Ok(pb::AuthMethod::Session) => Some(AuthMethod::Session),
        _ => None,
    }
}

fn method_to_proto(method: AuthMethod) -> i32 {
    match method {
        AuthMethod::ClientCredentials => pb::AuthMethod::ClientCredentials as i32,
        AuthMethod::Bearer => pb::AuthMethod::Bearer as i32,
        AuthMethod::Session => pb::AuthMethod::Session as i32,
    }
}

pub fn strategy_to_file(s: &pb::AuthStrategy, provider: &str) -> StrategyFile {
    let ttl = s
        .session_ttl
        .as_ref()
        .map(|d| Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0)))
        .unwrap_or(DEFAULT_SESSION_TTL);
    let mut methods: Vec<AuthMethod> = s
        .auth_methods
        .iter()
        .filter_map(|m| method_from_proto(*m))
        .collect();
    methods.sort();
    methods.dedup();
    StrategyFile {
        name: s.name.clone(),
        provider: provider.to_owned(),
        credential_claims: Some(s.credential_claims.clone()),
        scopes: s.scopes.clone(),
        audience: s.audience.clone(),
        auth_methods: Some(methods),
        session_cookie_name: Some(s.session_cookie_name.clone()),
        session_ttl: Some(format_ttl(ttl)),
        auto_approve: s.auto_approve,
    }
}

/// A strategy of the file (checked and filled with defaults) as the API's message.
pub fn strategy_to_proto(s: &StrategyFile, ttl: Duration) -> pb::AuthStrategy {
    pb::AuthStrategy {
        name: s.name.clone(),
        credential_claims: s.credential_claims.clone().unwrap_or_default(),
        scopes: s.scopes.clone(),
        audience: s.audience.clone(),
        auth_methods: s
            .auth_methods
            .as_deref()
            .unwrap_or(DEFAULT_AUTH_METHODS)
            .iter()
            .map(|m| method_to_proto(*m))
            .collect(),
        session_cookie_name: s.session_cookie_name.clone().unwrap_or_default(),
        session_ttl: Some(prost_types::Duration {
            seconds: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        auto_approve: s.auto_approve,
        ..pb::AuthStrategy::default()
    }
}

pub fn product_to_file(p: &pb::ApiProduct, strategy: &str) -> ProductFile {
    ProductFile {
        name: p.name.clone(),
        description: p.description.clone(),
        strategy: strategy.to_owned(),
        audience: p.audience.clone(),
    }
}

pub fn product_to_proto(p: &ProductFile) -> pb::ApiProduct {
    pb::ApiProduct {
        name: p.name.clone(),
        description: p.description.clone(),
        audience: p.audience.clone(),
        ..pb::ApiProduct::default()
    }
}
