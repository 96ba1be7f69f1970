//! The file as the state it asks for: read, expanded (`${VAR}`), checked and normalized
//! the way the registry stores values (trimmed text, parsed URLs, defaults filled in), so
//! comparing it with the registry shows real differences only. Every problem is collected
//! and reported together.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dcr_proto::providers::{self, FieldKind, Presence};

use super::convert::{self, DEFAULT_AUTH_METHODS, DEFAULT_SESSION_TTL};
use super::file::{
    self, AuthMethod, ConfigBlock, ConfigFile, FieldValue, ProductFile, ProviderFile, Secret,
    StrategyFile, Ttl,
};
use super::interpolate::{self, Variables};

pub const VERSION: u32 = 1;

/// The checked file, and where it was (relative `{file: ...}` secrets are read from there).
#[derive(Debug, Clone)]
pub struct Desired {
    pub config: ConfigFile,
    /// Each strategy's session TTL, parsed (same order as `config.strategies`).
    pub ttls: Vec<Duration>,
    pub base_dir: PathBuf,
    /// The file as given, for messages.
    pub path: String,
}

/// Problems found in the file, all of them.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {count} problem{s}:\n  - {list}", count = problems.len(), s = if problems.len() == 1 { "" } else { "s" }, list = problems.join("\n  - "))]
pub struct FileProblems {
    pub path: String,
    pub problems: Vec<String>,
}

pub fn load(path: &Path, vars: &Variables) -> Result<Desired, FileProblems> {
    let fail = |problems: Vec<String>| FileProblems {
        path: path.display().to_string(),
        problems,
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| fail(vec![format!("cannot read it: {e}")]))?;
    let parsed = file::parse(&text).map_err(|e| fail(vec![e]))?;
    let mut problems = Vec::new();
    let mut config = expand(parsed, vars, &mut problems);
    let ttls = check(&mut config, &mut problems);
    if !problems.is_empty() {
        return Err(fail(problems));
    }
    let base_dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Desired {
        config,
        ttls,
        base_dir,
        path: path.display().to_string(),
    })
}

/// `${VAR}` in every string value: through a JSON tree, so it reaches every field without
/// a line of code per field. Types are unchanged by it, so reading the tree back cannot
/// fail on anything the YAML parse accepted.
fn expand(parsed: ConfigFile, vars: &Variables, problems: &mut Vec<String>) -> ConfigFile {
    let mut tree = match serde_json::to_value(&parsed) {
        Ok(tree) => tree,
        Err(e) => {
            problems.push(format!("internal: cannot expand variables ({e})"));
            return parsed;
        }
    };
    interpolate::expand_tree(&mut tree, "", vars, problems);
    match serde_json::from_value(tree) {
        Ok(config) => config,
        Err(e) => {
            problems.push(format!("after expanding variables: {e}"));
            parsed
        }
    }
}

/// The registry's URL form (`http://host` is stored as `http://host/`), when it parses;
/// otherwise the text, for the registry to refuse with its own message.
fn url_form(text: &str) -> String {
    let text = text.trim();
    if text.is_empty() {
        return String::new();
    }
    url::Url::parse(text)
        .map(|u| u.to_string())
        .unwrap_or_else(|_| text.to_owned())
}

fn unique<'a>(kind: &str, names: impl Iterator<Item = &'a str>, problems: &mut Vec<String>) {
    let mut seen = HashSet::new();
    for name in names {
        if name.is_empty() {
            problems.push(format!("{kind}: an entry has no name"));
        } else if !seen.insert(name) {
            problems.push(format!(
                "{kind}: the name {name:?} is used twice (names are unique in the registry)"
            ));
        }
    }
}

fn check(c: &mut ConfigFile, problems: &mut Vec<String>) -> Vec<Duration> {
    check_version(c.version, problems);
    for p in &mut c.providers {
        check_provider(p, problems);
    }
    unique(
        "providers",
        c.providers.iter().map(|p| p.name.as_str()),
        problems,
    );

    let ttls = c
        .strategies
        .iter_mut()
        .map(|s| check_strategy(s, problems))
        .collect();
    unique(
        "strategies",
        c.strategies.iter().map(|s| s.name.as_str()),
        problems,
    );

    for p in &mut c.products {
        check_product(p, problems);
    }
    unique(
        "products",
        c.products.iter().map(|p| p.name.as_str()),
        problems,
    );
    ttls
}

fn check_version(version: Option<u32>, problems: &mut Vec<String>) {
    match version {
        Some(VERSION) => {}
        Some(other) => problems.push(format!(
            "version {other} is not one this dcrctl reads (it reads version {VERSION})"
        )),
        None => problems.push(format!("`version: {VERSION}` is required at the top")),
    }
}

fn check_provider(p: &mut ProviderFile, problems: &mut Vec<String>) {
    p.name = p.name.trim().to_owned();
    let at = format!("providers[{}]", p.name);
    p.issuer = p.issuer.trim().to_owned();
    let display = p.display_name.take().map(|d| d.trim().to_owned());
    p.display_name = Some(
        display
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| p.name.clone()),
    );
    check_one_type(p, &at, problems);
    check_secret_references(p, &at, problems);
    for block in &mut p.configs {
        normalize_block(block);
        check_paired_secrets(block, &at, problems);
    }
}

/// A provider is of one type: one config block, named by it.
fn check_one_type(p: &ProviderFile, at: &str, problems: &mut Vec<String>) {
    if p.configs.len() == 1 {
        return;
    }
    let found: Vec<&str> = p.configs.iter().map(|b| b.schema.name).collect();
    problems.push(format!(
        "{at}: exactly one of {} is needed (found {})",
        providers::type_names(),
        if found.is_empty() {
            "none".to_owned()
        } else {
            found.join(", ")
        }
    ));
}

/// The file is meant to be committed: a secret stands in it only as a reference.
fn check_secret_references(p: &ProviderFile, at: &str, problems: &mut Vec<String>) {
    for (kind, field, secret, required) in convert::secrets(p) {
        match secret {
            Some(Secret::Inline) => problems.push(format!(
                "{at}.{kind}.{field}: secrets are not written in the file; reference one instead: \
                 `{field}: {{env: VARIABLE}}` or `{field}: {{file: /path/to/it}}`"
            )),
            None if required => problems.push(format!(
                "{at}.{kind}.{field} is required: `{field}: {{env: VARIABLE}}` or `{field}: {{file: /path/to/it}}`"
            )),
            _ => {}
        }
    }
}

/// As the registry stores them: text trimmed, URLs parsed.
fn normalize_block(block: &mut ConfigBlock) {
    for field in block.schema.fields {
        if let Some(FieldValue::Text(text)) = block.values.get_mut(field.name) {
            *text = match field.kind {
                FieldKind::Url => url_form(text),
                _ => text.trim().to_owned(),
            };
        }
    }
}

fn check_paired_secrets(block: &ConfigBlock, at: &str, problems: &mut Vec<String>) {
    for field in block.schema.secrets() {
        let given = block.secret(field.name).is_some();
        match field.presence {
            Presence::With(other) if given && block.text(other).is_empty() => {
                problems.push(format!(
                    "{at}.{}.{} needs {other} (both or neither)",
                    block.schema.name, field.name
                ));
            }
            Presence::Instead(other) if given && !block.text(other).is_empty() => {
                problems.push(format!(
                    "{at}.{}: give {} or {other}, not both",
                    block.schema.name, field.name
                ));
            }
            _ => {}
        }
    }
}

/// Normalizes the strategy and returns its session TTL (the default where it does not
/// parse, the problem recorded).
fn check_strategy(s: &mut StrategyFile, problems: &mut Vec<String>) -> Duration {
    s.name = s.name.trim().to_owned();
    s.provider = s.provider.trim().to_owned();
    s.audience = s.audience.trim().to_owned();
    let at = format!("strategies[{}]", s.name);
    // An empty list is the API's "use the default" too.
    s.credential_claims = s
        .credential_claims
        .take()
        .map(|claims| {
            claims
                .iter()
                .map(|c| c.trim().to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|claims| !claims.is_empty());
    s.auth_methods = Some(auth_methods(s.auth_methods.take()));
    // Empty is the API's "use the default" too: the registry's name for the strategy.
    s.session_cookie_name = s.session_cookie_name.take().filter(|name| !name.is_empty());
    let ttl = session_ttl(s.session_ttl.as_ref(), &at, problems);
    s.session_ttl = Some(convert::format_ttl(ttl));
    if s.provider.is_empty() {
        problems.push(format!("{at}.provider: name the strategy's provider"));
    }
    ttl
}

/// Sorted and without repeats, as the registry keeps them; none is the default.
fn auth_methods(given: Option<Vec<AuthMethod>>) -> Vec<AuthMethod> {
    let mut methods = given.unwrap_or_else(|| DEFAULT_AUTH_METHODS.to_vec());
    methods.sort();
    methods.dedup();
    if methods.is_empty() {
        methods = DEFAULT_AUTH_METHODS.to_vec();
    }
    methods
}

fn session_ttl(given: Option<&Ttl>, at: &str, problems: &mut Vec<String>) -> Duration {
    match given {
        None => DEFAULT_SESSION_TTL,
        Some(Ttl(text)) => match crate::commands::parse_duration(text) {
            Ok(ttl) => ttl,
            Err(problem) => {
                problems.push(format!("{at}.session_ttl: {problem}"));
                DEFAULT_SESSION_TTL
            }
        },
    }
}

fn check_product(p: &mut ProductFile, problems: &mut Vec<String>) {
    p.name = p.name.trim().to_owned();
    p.strategy = p.strategy.trim().to_owned();
    p.audience = p.audience.trim().to_owned();
    if p.strategy.is_empty() {
        problems.push(format!(
            "products[{}].strategy: name the product's strategy",
            p.name
        ));
    }
}

/// Reads the secrets of one provider, for sending. Missing or empty ones are problems
/// naming the variable or file.
pub fn resolve_secrets(
    provider: &file::ProviderFile,
    base_dir: &Path,
    vars: &Variables,
    problems: &mut Vec<String>,
) -> BTreeMap<&'static str, String> {
    let mut out = BTreeMap::new();
    for (kind, field, secret, _) in convert::secrets(provider) {
        let at = format!("providers[{}].{kind}.{field}", provider.name);
        let value = match secret {
            Some(Secret::Env(name)) => match vars.get(name) {
                Some(value) => value,
                None => {
                    problems.push(format!("{at}: environment variable {name} is not set"));
                    continue;
                }
            },
            Some(Secret::File(path)) => {
                let path = base_dir.join(path);
                match std::fs::read_to_string(&path) {
                    Ok(text) => text.trim_end_matches(['\n', '\r']).to_owned(),
                    Err(e) => {
                        problems.push(format!("{at}: cannot read {}: {e}", path.display()));
                        continue;
                    }
                }
            }
            Some(Secret::Inline) | None => continue,
        };
        if value.is_empty() {
            let source = match secret {
                Some(Secret::Env(name)) => format!("environment variable {name}"),
                Some(Secret::File(path)) => format!("file {}", base_dir.join(path).display()),
                _ => String::new(),
            };
            problems.push(format!("{at}: {source} is empty"));
            continue;
        }
        out.insert(field, value);
    }
    out
}
