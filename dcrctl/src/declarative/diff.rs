//! The file against the registry: a plan for people and the calls that carry it out.
//!
//! Both sides are turned into the file's types and then into flat field maps
//! (`rfc7591.registration_endpoint`, `labels.env`), so one comparison serves every
//! resource. Secrets are write-only in the API and so are never compared: they are sent
//! when a provider is created, again with every update of that provider, and for every
//! provider when the caller asks (`Options::resend_secrets`).

use std::collections::{BTreeMap, BTreeSet};

use dcr_proto::registry::v1 as pb;
use serde::Serialize;
use serde_json::Value;

use super::convert;
use super::desired::{self, Desired};
use super::file::{ConfigBlock, ProviderFile, Secret};
use super::interpolate::Variables;
use super::plan::{Action, Entry, FieldChange, Kind, Plan, Unmanaged};
use super::state::{Current, name_of};

/// A call `apply` makes. Holds resolved secrets, so it has no Debug.
pub enum Op {
    CreateProvider {
        provider: pb::Provider,
    },
    UpdateProvider {
        provider: pb::Provider,
        mask: Vec<String>,
    },
    /// `provider` is a name: it may be created earlier in the same apply.
    CreateStrategy {
        provider: String,
        strategy: pb::AuthStrategy,
    },
    UpdateStrategy {
        strategy: pb::AuthStrategy,
        mask: Vec<String>,
    },
    CreateProduct {
        strategy: String,
        product: pb::ApiProduct,
    },
    UpdateProduct {
        strategy: String,
        product: pb::ApiProduct,
        mask: Vec<String>,
    },
    /// Only with `prune`; products first, then strategies, then providers.
    Delete {
        kind: Kind,
        id: String,
        name: String,
    },
}

impl Op {
    pub fn describe(&self) -> String {
        match self {
            Op::CreateProvider { provider } => format!("created provider {}", provider.name),
            Op::UpdateProvider { provider, .. } => format!("updated provider {}", provider.name),
            Op::CreateStrategy { strategy, .. } => format!("created strategy {}", strategy.name),
            Op::UpdateStrategy { strategy, .. } => format!("updated strategy {}", strategy.name),
            Op::CreateProduct { product, .. } => format!("created product {}", product.name),
            Op::UpdateProduct { product, .. } => format!("updated product {}", product.name),
            Op::Delete { kind, name, .. } => format!("deleted {} {name}", kind.as_str()),
        }
    }
}

pub struct Prepared {
    pub plan: Plan,
    pub ops: Vec<Op>,
}

/// A resource's fields as `path -> value`; nulls (absent optional values) left out.
fn flatten<T: Serialize>(item: &T) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, value: Value, out: &mut BTreeMap<String, Value>) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let path = if prefix.is_empty() {
                        key
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&path, value, out);
                }
            }
            Value::Null => {}
            other => {
                out.insert(prefix.to_owned(), other);
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Ok(value) = serde_json::to_value(item) {
        walk("", value, &mut out);
    }
    out
}

/// The fields that differ; `fields` of the wanted side drive it, plus any the other side
/// has that the wanted one dropped (a removed label).
fn compare(old: &BTreeMap<String, Value>, new: &BTreeMap<String, Value>) -> Vec<FieldChange> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| {
            let (o, n) = (
                old.get(key).cloned().unwrap_or(Value::Null),
                new.get(key).cloned().unwrap_or(Value::Null),
            );
            (o != n).then(|| FieldChange {
                field: key.clone(),
                old: o,
                new: n,
            })
        })
        .collect()
}

/// A provider without its secret references, plus its type, for comparing and showing.
fn provider_fields(p: &ProviderFile) -> BTreeMap<String, Value> {
    let mut p = p.clone();
    p.configs = p.configs.iter().map(ConfigBlock::without_secrets).collect();
    let mut fields = flatten(&p);
    fields.remove("name");
    if let Some(kind) = p.type_name() {
        fields.insert("type".into(), Value::String(kind.into()));
    }
    fields
}

fn secrets_shown(p: &ProviderFile) -> Vec<String> {
    convert::secrets(p)
        .into_iter()
        .filter_map(|(kind, field, secret, _)| {
            let from = match secret? {
                Secret::Env(name) => format!("env {name}"),
                Secret::File(path) => format!("file {}", path.display()),
                Secret::Inline => return None,
            };
            Some(format!("{kind}.{field} from {from}"))
        })
        .collect()
}

/// Top-level mask paths of changed fields (`labels.env` -> `labels`).
fn top_paths(changes: &[FieldChange]) -> BTreeSet<String> {
    changes
        .iter()
        .map(|c| c.field.split('.').next().unwrap_or_default().to_owned())
        .collect()
}

/// What to do beyond making the file's resources match.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extra {
    pub resend_secrets: bool,
    pub prune: bool,
}

/// The plan and calls as they are worked out, and the problems found on the way.
struct Builder<'a> {
    desired: &'a Desired,
    current: &'a Current,
    vars: &'a Variables,
    extra: Extra,
    problems: Vec<String>,
    plan: Plan,
    ops: Vec<Op>,
}

fn changed_or_unchanged(fields: &[FieldChange], force: bool) -> Action {
    if fields.is_empty() && !force {
        Action::Unchanged
    } else {
        Action::Update
    }
}

/// A strategy's provider or a product's strategy must exist: in the file, or (without
/// prune, which would delete it) in the registry.
fn reference_problem(
    at: String,
    what: &str,
    name: &str,
    in_file: bool,
    in_registry: bool,
    prune: bool,
) -> Option<String> {
    match (in_file, in_registry, prune) {
        (true, _, _) | (false, true, false) => None,
        (false, true, true) => Some(format!(
            "{at}: the {what} {name:?} is only in the registry, and prune would delete it; add it to the file"
        )),
        (false, false, _) => Some(format!(
            "{at}: there is no {what} {name:?} in the file or the registry"
        )),
    }
}

impl Builder<'_> {
    fn entry(
        &mut self,
        kind: Kind,
        name: &str,
        action: Action,
        fields: Vec<FieldChange>,
        secrets_sent: Vec<String>,
    ) {
        self.plan.resources.push(Entry {
            kind,
            name: name.to_owned(),
            action,
            fields,
            secrets_sent,
        });
    }

    fn providers(&mut self) {
        let (desired, current) = (self.desired, self.current);
        for p in &desired.config.providers {
            let wanted = provider_fields(p);
            let existing = current.providers.iter().find(|c| c.name == p.name);
            let (action, fields) = match existing {
                None => (Action::Create, compare(&BTreeMap::new(), &wanted)),
                Some(existing) => {
                    let have = provider_fields(&convert::provider_to_file(existing, &|_| None));
                    let (was, now) = (have.get("type"), wanted.get("type"));
                    if was != now {
                        self.problems.push(format!(
                            "providers[{}]: it is {} in the registry and {} in the file; a provider's \
                             type cannot change (give the new one another name)",
                            p.name,
                            show_type(was),
                            show_type(now)
                        ));
                        continue;
                    }
                    let fields = compare(&have, &wanted);
                    (
                        changed_or_unchanged(&fields, self.extra.resend_secrets),
                        fields,
                    )
                }
            };
            if action == Action::Unchanged {
                self.entry(Kind::Provider, &p.name, action, fields, Vec::new());
                continue;
            }
            // Secrets are read only when they are sent.
            let secrets =
                desired::resolve_secrets(p, &desired.base_dir, self.vars, &mut self.problems);
            let mut provider = convert::provider_to_proto(p, &secrets);
            match existing {
                None => self.ops.push(Op::CreateProvider { provider }),
                Some(existing) => {
                    provider.id = existing.id.clone();
                    let mut mask: Vec<String> = top_paths(&fields)
                        .into_iter()
                        .filter(|path| {
                            ["display_name", "issuer", "labels", "active"].contains(&path.as_str())
                        })
                        .collect();
                    // The whole config block, secrets included: re-sent on every update.
                    if let Some(block) = p.block() {
                        let kind = block.schema.name;
                        mask.extend(
                            block
                                .schema
                                .fields
                                .iter()
                                .map(|f| format!("{kind}.{}", f.name)),
                        );
                    }
                    self.ops.push(Op::UpdateProvider { provider, mask });
                }
            }
            self.entry(Kind::Provider, &p.name, action, fields, secrets_shown(p));
        }
    }

    fn strategies(&mut self) {
        let (desired, current) = (self.desired, self.current);
        let provider_names = current.provider_names();
        for (s, ttl) in desired.config.strategies.iter().zip(&desired.ttls) {
            if let Some(problem) = reference_problem(
                format!("strategies[{}].provider", s.name),
                "provider",
                &s.provider,
                desired
                    .config
                    .providers
                    .iter()
                    .any(|p| p.name == s.provider),
                current.providers.iter().any(|p| p.name == s.provider),
                self.extra.prune,
            ) {
                self.problems.push(problem);
                continue;
            }
            let mut wanted = flatten(s);
            wanted.remove("name");
            let existing = current.strategies.iter().find(|c| c.name == s.name);
            let (action, fields) = match existing {
                None => (Action::Create, compare(&BTreeMap::new(), &wanted)),
                Some(existing) => {
                    let owner = name_of(&provider_names, &existing.provider_id);
                    if owner != s.provider {
                        self.problems.push(format!(
                            "strategies[{}].provider: it is {owner:?} in the registry and {:?} in the \
                             file; a strategy's provider cannot change (create a strategy with another name)",
                            s.name, s.provider
                        ));
                        continue;
                    }
                    let mut have = flatten(&convert::strategy_to_file(existing, &owner));
                    have.remove("name");
                    if s.credential_claims.is_none() {
                        // Left to the registry's default for the provider type.
                        have.remove("credential_claims");
                    }
                    if s.session_cookie_name.is_none() {
                        // Left to the registry, which named it on create (see file.rs).
                        have.remove("session_cookie_name");
                    }
                    let fields = compare(&have, &wanted);
                    (changed_or_unchanged(&fields, false), fields)
                }
            };
            let mut strategy = convert::strategy_to_proto(s, *ttl);
            match (action, existing) {
                (Action::Create, _) => self.ops.push(Op::CreateStrategy {
                    provider: s.provider.clone(),
                    strategy,
                }),
                (Action::Update, Some(existing)) => {
                    strategy.id = existing.id.clone();
                    let mask = top_paths(&fields).into_iter().collect();
                    self.ops.push(Op::UpdateStrategy { strategy, mask });
                }
                _ => {}
            }
            self.entry(Kind::Strategy, &s.name, action, fields, Vec::new());
        }
    }

    fn products(&mut self) {
        let (desired, current) = (self.desired, self.current);
        let strategy_names = current.strategy_names();
        for p in &desired.config.products {
            if let Some(problem) = reference_problem(
                format!("products[{}].strategy", p.name),
                "strategy",
                &p.strategy,
                desired
                    .config
                    .strategies
                    .iter()
                    .any(|s| s.name == p.strategy),
                current.strategies.iter().any(|s| s.name == p.strategy),
                self.extra.prune,
            ) {
                self.problems.push(problem);
                continue;
            }
            let mut wanted = flatten(p);
            wanted.remove("name");
            let existing = current.products.iter().find(|c| c.name == p.name);
            let (action, fields) = match existing {
                None => (Action::Create, compare(&BTreeMap::new(), &wanted)),
                Some(existing) => {
                    let strategy = name_of(&strategy_names, &existing.strategy_id);
                    let mut have = flatten(&convert::product_to_file(existing, &strategy));
                    have.remove("name");
                    let fields = compare(&have, &wanted);
                    (changed_or_unchanged(&fields, false), fields)
                }
            };
            let mut product = convert::product_to_proto(p);
            match (action, existing) {
                (Action::Create, _) => self.ops.push(Op::CreateProduct {
                    strategy: p.strategy.clone(),
                    product,
                }),
                (Action::Update, Some(existing)) => {
                    product.id = existing.id.clone();
                    let mask = top_paths(&fields)
                        .into_iter()
                        .map(|path| {
                            if path == "strategy" {
                                "strategy_id".into()
                            } else {
                                path
                            }
                        })
                        .collect();
                    self.ops.push(Op::UpdateProduct {
                        strategy: p.strategy.clone(),
                        product,
                        mask,
                    });
                }
                _ => {}
            }
            self.entry(Kind::Product, &p.name, action, fields, Vec::new());
        }
    }

    /// In the registry, not in the file: listed, or deleted with prune (dependents first,
    /// so the registry's in-use checks pass).
    fn not_in_file(&mut self) {
        let (file, current) = (&self.desired.config, self.current);
        let extras: Vec<(Kind, &String, &String)> = current
            .products
            .iter()
            .filter(|c| !file.products.iter().any(|p| p.name == c.name))
            .map(|c| (Kind::Product, &c.name, &c.id))
            .chain(
                current
                    .strategies
                    .iter()
                    .filter(|c| !file.strategies.iter().any(|s| s.name == c.name))
                    .map(|c| (Kind::Strategy, &c.name, &c.id)),
            )
            .chain(
                current
                    .providers
                    .iter()
                    .filter(|c| !file.providers.iter().any(|p| p.name == c.name))
                    .map(|c| (Kind::Provider, &c.name, &c.id)),
            )
            .collect();
        for (kind, name, id) in extras {
            if self.extra.prune {
                self.entry(kind, name, Action::Delete, Vec::new(), Vec::new());
                self.ops.push(Op::Delete {
                    kind,
                    id: id.clone(),
                    name: name.clone(),
                });
            } else {
                self.plan.not_managed.push(Unmanaged {
                    kind,
                    name: name.clone(),
                });
            }
        }
    }
}

/// The plan and its calls, in dependency order: providers, strategies, products, then
/// (with prune) deletions. Every problem found is reported together.
pub fn prepare(
    desired: &Desired,
    current: &Current,
    vars: &Variables,
    extra: Extra,
) -> Result<Prepared, desired::FileProblems> {
    let mut builder = Builder {
        desired,
        current,
        vars,
        extra,
        problems: Vec::new(),
        plan: Plan::default(),
        ops: Vec::new(),
    };
    builder.providers();
    builder.strategies();
    builder.products();
    builder.not_in_file();
    if !builder.problems.is_empty() {
        return Err(desired::FileProblems {
            path: desired.path.clone(),
            problems: builder.problems,
        });
    }
    Ok(Prepared {
        plan: builder.plan,
        ops: builder.ops,
    })
}

fn show_type(kind: Option<&Value>) -> String {
    kind.and_then(Value::as_str)
        .unwrap_or("of no known type")
        .to_owned()
}
