//! A provider form, posted, as the registry's request: the provider it describes, and on
//! an edit the update mask naming only what changed. Secrets are sent only when typed
//! (empty keeps the stored value) or when their "remove" box is checked.

use std::collections::{BTreeMap, HashMap};

use dcr_proto::providers::{FieldMut, FieldRef, TypeSchema};
use dcr_proto::registry::v1 as pb;
use pb::provider::Config;

use crate::errors::PageError;
use crate::pages::admin::manage::{Posted, invalid};

/// The name of the checkbox that removes a stored secret.
pub fn clear_box(field: &str) -> String {
    format!("clear_{field}")
}

/// Labels as the form shows them: one `key=value` a line, sorted.
pub fn labels_text(labels: &HashMap<String, String>) -> String {
    let sorted: BTreeMap<_, _> = labels.iter().collect();
    sorted
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parse_labels(text: &str) -> Result<HashMap<String, String>, PageError> {
    let mut labels = HashMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some((key, value)) = line.split_once('=') else {
            return Err(invalid("labels", "write one label a line, as key=value"));
        };
        labels.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    Ok(labels)
}

/// The type's config with the posted values: text as typed (the registry trims it;
/// a PEM key keeps its lines), flags by their checkbox.
pub fn posted_config(schema: &TypeSchema, posted: &Posted) -> Option<Config> {
    let mut config = Config::empty(schema.provider_type)?;
    for field in schema.fields {
        match config.field_mut(field.name) {
            Some(FieldMut::Text(slot)) => posted.get(field.name).clone_into(slot),
            Some(FieldMut::Flag(slot)) => *slot = posted.checked(field.name),
            None => {}
        }
    }
    Some(config)
}

/// What the portal itself checks before sending the form (the registry checks the rest).
pub fn check(posted: &Posted) -> Result<(), PageError> {
    parse_labels(posted.get("labels")).map(|_| ())
}

/// The provider the form describes (secrets as typed; labels as far as they parse:
/// `check` refuses the rest).
pub fn posted_provider(schema: &TypeSchema, posted: &Posted) -> pb::Provider {
    pb::Provider {
        name: posted.get("name").trim().to_owned(),
        display_name: posted.get("display_name").trim().to_owned(),
        issuer: posted.get("issuer").trim().to_owned(),
        labels: parse_labels(posted.get("labels")).unwrap_or_default(),
        active: posted.checked("active"),
        config: posted_config(schema, posted),
        ..Default::default()
    }
}

fn same_text(a: Option<FieldRef<'_>>, b: Option<FieldRef<'_>>) -> bool {
    match (a, b) {
        (Some(FieldRef::Text(a)), Some(FieldRef::Text(b))) => a.trim() == b.trim(),
        (a, b) => a == b,
    }
}

/// The update mask for `wanted` over `current`: the plain fields that differ, the config
/// fields that differ, and the secrets typed or to be removed. Empty: nothing changed.
pub fn changed_paths(
    schema: &TypeSchema,
    current: &pb::Provider,
    wanted: &pb::Provider,
    posted: &Posted,
) -> Vec<String> {
    let mut paths = Vec::new();
    if wanted.name != current.name {
        paths.push("name".to_owned());
    }
    if wanted.display_name != current.display_name {
        paths.push("display_name".to_owned());
    }
    if wanted.issuer != current.issuer {
        paths.push("issuer".to_owned());
    }
    if wanted.labels != current.labels {
        paths.push("labels".to_owned());
    }
    if wanted.active != current.active {
        paths.push("active".to_owned());
    }
    let (Some(now), Some(want)) = (&current.config, &wanted.config) else {
        return paths;
    };
    for field in schema.fields {
        let changed = if field.is_secret() {
            !posted.get(field.name).trim().is_empty() || posted.checked(&clear_box(field.name))
        } else {
            !same_text(now.field(field.name), want.field(field.name))
        };
        if changed {
            paths.push(format!("{}.{}", schema.name, field.name));
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn posted(pairs: &[(&str, &str)]) -> Posted {
        serde_json::from_value(serde_json::json!(pairs)).unwrap()
    }

    #[test]
    fn only_what_changed_is_in_the_mask() {
        let schema = pb::ProviderType::Okta.schema().unwrap();
        let current = pb::Provider {
            name: "okta-a".into(),
            display_name: "okta-a".into(),
            issuer: "https://org.okta.com/oauth2/default".into(),
            active: true,
            config: Some(Config::Okta(pb::OktaConfig::default())),
            ..Default::default()
        };
        let form = posted(&[
            ("name", "okta-a"),
            ("display_name", "Okta A"),
            ("issuer", "https://org.okta.com/oauth2/default "),
            ("active", "on"),
            ("dcr_token", ""),
            ("management_key_id", ""),
        ]);
        let wanted = posted_provider(schema, &form);
        assert_eq!(
            changed_paths(schema, &current, &wanted, &form),
            ["display_name"],
            "an empty secret is kept, a trimmed issuer is the same"
        );
        let form = posted(&[
            ("name", "okta-a"),
            ("dcr_token", "new"),
            ("clear_management_private_key", "on"),
        ]);
        let wanted = posted_provider(schema, &form);
        assert_eq!(
            changed_paths(schema, &current, &wanted, &form),
            [
                "display_name",
                "issuer",
                "active",
                "okta.dcr_token",
                "okta.management_private_key"
            ]
        );
    }

    #[test]
    fn labels_are_key_value_lines() {
        let labels = parse_labels("team=payments\n\n env = prod ").unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!(labels_text(&labels), "env=prod\nteam=payments");
        assert!(parse_labels("no equals sign").is_err());
    }
}
