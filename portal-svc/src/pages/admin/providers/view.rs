//! The provider form's fields: the type's schema (which fields, which are secrets and
//! required) with the words of `fields`, and what an edit adds (keep or remove a stored
//! secret).

use dcr_proto::providers::{FieldKind, FieldRef, Presence, TypeSchema};
use dcr_proto::registry::v1 as pb;

use super::fields::{choices, field_text, type_text};
use super::request::{clear_box, labels_text};
use crate::pages::admin::field::{Choice, Field, Input, Section};
use crate::pages::admin::manage::Posted;

/// The form's fields for a provider of `schema` showing `shown` (whose secrets are never
/// read: the registry returns none, and a posted form's are not shown again).
pub(super) fn sections(
    schema: &TypeSchema,
    shown: &pb::Provider,
    posted: Option<&Posted>,
    editing: bool,
) -> Vec<Section> {
    let about = type_text(schema);
    let general = vec![
        Field::text(
            "name",
            "Name",
            "Unique: strategies, dcrctl and dcr.yaml name the provider by it.",
            &shown.name,
        )
        .required(true),
        Field::text(
            "display_name",
            "Display name",
            "How pages show it; empty: the name.",
            &shown.display_name,
        ),
        Field::new(
            "issuer",
            "Issuer",
            about.issuer_hint,
            Input::Text {
                kind: "url",
                value: shown.issuer.clone(),
            },
        )
        .required(true),
        Field::check(
            "active",
            "Active",
            "Developers can create apps with an active provider only.",
            shown.active,
        ),
        Field::new(
            "labels",
            "Labels",
            "One key=value a line, e.g. team=payments.",
            Input::Area {
                // As typed, when the form comes back: a line that is no label stays.
                value: posted.map_or_else(
                    || labels_text(&shown.labels),
                    |p| p.get("labels").to_owned(),
                ),
            },
        ),
    ];
    let mut config_fields = Vec::new();
    for field in schema.fields {
        let text = field_text(schema, field);
        let required = field.presence == Presence::Required;
        let value = match shown.config.as_ref().and_then(|c| c.field(field.name)) {
            Some(FieldRef::Text(value)) => value.to_owned(),
            Some(FieldRef::Flag(flag)) => flag.to_string(),
            None => String::new(),
        };
        let input = match field.kind {
            FieldKind::Flag => Input::Check {
                checked: value == "true",
            },
            // A private key is PEM: a password input would drop its line breaks.
            FieldKind::Secret => Input::Secret {
                multiline: field.name == "management_private_key",
                keep: editing,
            },
            FieldKind::Url => Input::Text { kind: "url", value },
            FieldKind::Text => match choices(field.name) {
                Some(options) => Input::Select {
                    options: options
                        .iter()
                        .map(|(v, label)| Choice::new(*v, *label, *v == value))
                        .collect(),
                },
                None => Input::Text {
                    kind: "text",
                    value,
                },
            },
        };
        let hint = if field.is_secret() && editing {
            format!(
                "{} Write-only: leave empty to keep the stored value.",
                text.hint
            )
        } else {
            text.hint.to_owned()
        };
        config_fields.push(
            Field::new(field.name, text.label, hint, input)
                .required(required && !(field.is_secret() && editing)),
        );
        // An optional secret can be removed (e.g. Okta's API token when moving to a
        // service app): empty alone would keep it.
        if field.is_secret() && editing && !required {
            let name = clear_box(field.name);
            config_fields.push(Field::check(
                &name,
                &format!("Remove the stored {}", in_sentence(text.label)),
                "",
                posted.is_some_and(|p| p.checked(&name)),
            ));
        }
    }
    vec![
        Section::new("", general),
        Section::new(&format!("{} settings", about.title), config_fields),
    ]
}

/// A label inside a sentence: "Service app private key" -> "service app private key",
/// while "API token" keeps its acronym.
fn in_sentence(label: &str) -> String {
    let mut chars = label.chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if !second.is_uppercase() => {
            first.to_lowercase().chain(label.chars().skip(1)).collect()
        }
        _ => label.to_owned(),
    }
}

/// What a posted form shows when it comes back: its values, never its secrets.
pub(super) fn shown_again(provider: &pb::Provider) -> pb::Provider {
    let mut shown = provider.clone();
    if let Some(config) = shown.config.as_mut() {
        config.clear_secrets();
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::in_sentence;

    #[test]
    fn labels_read_well_inside_a_sentence() {
        assert_eq!(
            in_sentence("Service app private key"),
            "service app private key"
        );
        assert_eq!(in_sentence("API token"), "API token");
    }
}
