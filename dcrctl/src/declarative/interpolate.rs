//! `${VAR}` and `${VAR:-default}` in string values, as docker compose does, so one file
//! serves several environments. Expansion happens after the YAML is parsed, on string
//! values only, so a value can never change the file's structure.
//!
//! - `${VAR}`: the variable; unset is an error naming it (set but empty is empty).
//! - `${VAR:-default}`: the default when the variable is unset or empty.
//! - `${VAR-default}`: the default when the variable is unset.
//! - `$$`: a literal `$`. Any other `$` is an error, so a `$VAR` meant as a variable is
//!   never passed on as text.

use std::collections::BTreeMap;

/// Where variables come from: the ones the caller passed, then the process environment.
#[derive(Clone, Default)]
pub struct Variables {
    overrides: BTreeMap<String, String>,
}

/// Names only: values may be secrets (`{env: ...}` reads them here too).
impl std::fmt::Debug for Variables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.overrides.keys()).finish()
    }
}

impl Variables {
    pub fn new(overrides: BTreeMap<String, String>) -> Self {
        Self { overrides }
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.overrides
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }
}

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Expands one string value.
pub fn expand(text: &str, vars: &Variables) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some(body_and_tail) = after.strip_prefix('{') else {
            return Err(format!(
                "{text:?} has a `$` that starts no variable: write ${{VAR}} for a variable, $$ for a literal $"
            ));
        };
        let Some(end) = body_and_tail.find('}') else {
            return Err(format!("{text:?} has a `${{` without its closing `}}`"));
        };
        let body = &body_and_tail[..end];
        rest = &body_and_tail[end + 1..];
        let (name, default) = match body.find([':', '-']) {
            None => (body, None),
            Some(j) => {
                let (name, op) = body.split_at(j);
                if let Some(default) = op.strip_prefix(":-") {
                    (name, Some((default, true)))
                } else if let Some(default) = op.strip_prefix('-') {
                    (name, Some((default, false)))
                } else {
                    return Err(format!(
                        "${{{body}}}: only ${{VAR}}, ${{VAR:-default}} and ${{VAR-default}} are understood"
                    ));
                }
            }
        };
        if !is_name(name) {
            return Err(format!("${{{body}}}: {name:?} is not a variable name"));
        }
        let value = match (vars.get(name), default) {
            (Some(value), Some((default, true))) if value.is_empty() => default.to_owned(),
            (Some(value), _) => value,
            (None, Some((default, _))) => default.to_owned(),
            (None, None) => {
                return Err(format!(
                    "variable {name} is not set (and ${{{name}}} has no default; ${{{name}:-value}} gives one)"
                ));
            }
        };
        out.push_str(&value);
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands every string in a JSON tree (the parsed file), collecting every problem with
/// where it is (`providers[0].issuer`).
pub fn expand_tree(
    value: &mut serde_json::Value,
    path: &str,
    vars: &Variables,
    problems: &mut Vec<String>,
) {
    match value {
        serde_json::Value::String(text) => match expand(text, vars) {
            Ok(expanded) => *text = expanded,
            Err(problem) => problems.push(format!("{path}: {problem}")),
        },
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                expand_tree(item, &format!("{path}[{i}]"), vars, problems);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                expand_tree(item, &path, vars, problems);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn vars() -> Variables {
        Variables::new(BTreeMap::from([
            ("DCR_T_URL".to_owned(), "http://idp:3000".to_owned()),
            ("DCR_T_EMPTY".to_owned(), String::new()),
        ]))
    }

    #[test]
    fn expands_like_compose() {
        let v = vars();
        assert_eq!(
            expand("${DCR_T_URL}/reg", &v).unwrap(),
            "http://idp:3000/reg"
        );
        assert_eq!(
            expand("${DCR_T_UNSET_X:-https://d}", &v).unwrap(),
            "https://d"
        );
        assert_eq!(expand("${DCR_T_EMPTY:-d}", &v).unwrap(), "d");
        assert_eq!(expand("${DCR_T_EMPTY-d}", &v).unwrap(), "");
        assert_eq!(expand("${DCR_T_UNSET_X-d}", &v).unwrap(), "d");
        assert_eq!(expand("cost: $$5", &v).unwrap(), "cost: $5");
        assert_eq!(expand("plain", &v).unwrap(), "plain");
    }

    #[test]
    fn problems_name_the_variable() {
        let v = vars();
        let error = expand("${DCR_T_UNSET_X}", &v).unwrap_err();
        assert!(error.contains("DCR_T_UNSET_X is not set"), "{error}");
        assert!(expand("$HOME", &v).unwrap_err().contains("$$"));
        assert!(expand("${DCR_T_URL", &v).unwrap_err().contains("closing"));
        assert!(
            expand("${1X}", &v)
                .unwrap_err()
                .contains("not a variable name")
        );
        assert!(expand("${X:?no}", &v).unwrap_err().contains("only"));
    }
}
