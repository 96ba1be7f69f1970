//! A plan: per resource of the file, create / update (which fields, old -> new) /
//! unchanged, and the registry's resources the file does not mention. `apply` returns
//! the same shape for what it did. Secret values never appear in it: only which secret
//! fields are sent and where they were read from.

use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Provider,
    Strategy,
    Product,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Provider => "provider",
            Kind::Strategy => "strategy",
            Kind::Product => "product",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Create,
    Update,
    /// Only with `Options::prune`: in the registry, not in the file.
    Delete,
    Unchanged,
}

impl Action {
    /// As `apply` reports it: "created", "updated", "deleted", "unchanged".
    pub fn past_tense(self) -> &'static str {
        match self {
            Action::Create => "created",
            Action::Update => "updated",
            Action::Delete => "deleted",
            Action::Unchanged => "unchanged",
        }
    }
}

/// One field that differs. `old` is null for a create.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub kind: Kind,
    pub name: String,
    pub action: Action,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
    /// Secret fields sent with this change, each with where its value comes from
    /// (`rfc7591.initial_access_token from env OIDC_IAT`); never the value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secrets_sent: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Unmanaged {
    pub kind: Kind,
    pub name: String,
}

/// What `apply` would do (from `plan`) or did (from `apply`, then `applied` is true).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Plan {
    pub applied: bool,
    /// Every resource of the file, in the order they are applied.
    pub resources: Vec<Entry>,
    /// In the registry, not in the file: left alone (without `prune`; with it, they are
    /// `resources` to delete).
    pub not_managed: Vec<Unmanaged>,
}

fn show(value: &Value) -> String {
    match value {
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

impl Plan {
    /// True when applying would change nothing (resources the file does not mention are
    /// never changed).
    pub fn is_empty(&self) -> bool {
        self.resources.iter().all(|e| e.action == Action::Unchanged)
    }

    pub fn count(&self, action: Action) -> usize {
        self.resources.iter().filter(|e| e.action == action).count()
    }

    /// What the registry has and the file does not, for people (empty when there is
    /// none). Shown with every plan, also one without changes: a file that forgot a
    /// resource should say so before anyone runs `--prune`.
    pub fn render_not_managed(&self) -> String {
        if self.not_managed.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "not managed by this file (left alone; `apply --prune` would delete them):\n",
        );
        for item in &self.not_managed {
            out.push_str(&format!("    {} {}\n", item.kind.as_str(), item.name));
        }
        out
    }

    /// The plan for people.
    pub fn render(&self) -> String {
        let (create, update, delete) = if self.applied {
            ("created", "updated", "deleted")
        } else {
            ("create", "update", "delete")
        };
        let mut out = String::new();
        for entry in &self.resources {
            let verb = match entry.action {
                Action::Create => create,
                Action::Update => update,
                Action::Delete => delete,
                Action::Unchanged => "unchanged",
            };
            out.push_str(&format!("{} {}: {verb}\n", entry.kind.as_str(), entry.name));
            for change in &entry.fields {
                match entry.action {
                    Action::Create => {
                        out.push_str(&format!("    {}: {}\n", change.field, show(&change.new)))
                    }
                    _ => out.push_str(&format!(
                        "    {}: {} -> {}\n",
                        change.field,
                        show(&change.old),
                        show(&change.new)
                    )),
                }
            }
            for secret in &entry.secrets_sent {
                out.push_str(&format!("    {secret} (secret, sent)\n"));
            }
        }
        out.push_str(&self.render_not_managed());
        let (c, u, d, n, m) = (
            self.count(Action::Create),
            self.count(Action::Update),
            self.count(Action::Delete),
            self.count(Action::Unchanged),
            self.not_managed.len(),
        );
        out.push_str(&if self.applied {
            format!("{c} created, {u} updated, {d} deleted, {n} unchanged, {m} not managed")
        } else {
            format!("{c} to create, {u} to update, {d} to delete, {n} unchanged, {m} not managed")
        });
        out
    }
}
