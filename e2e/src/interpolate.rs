//! Compose's variable substitution in string values: `$VAR`, `${VAR}`, `${VAR:-default}`
//! (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` / `${VAR?message}`
//! (required), and `$$` for a literal `$`. Values come from the map given, like the shell
//! environment compose reads.

use std::collections::BTreeMap;

use anyhow::{Context as _, bail};

pub type Vars = BTreeMap<String, String>;

/// `value` with every variable substituted, or an error naming the first required
/// variable that is missing (compose's message for it).
pub fn interpolate(value: &str, vars: &Vars) -> anyhow::Result<String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .with_context(|| format!("unclosed ${{ in {value:?}"))?;
            out.push_str(&expression(&braced[..end], vars)?);
            rest = &braced[end + 1..];
        } else {
            let len = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            if len == 0 {
                bail!("invalid interpolation in {value:?}: a lone $ (write $$)");
            }
            out.push_str(vars.get(&after[..len]).map(String::as_str).unwrap_or(""));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The inside of `${...}`.
fn expression(inner: &str, vars: &Vars) -> anyhow::Result<String> {
    let name_len = inner
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, op) = inner.split_at(name_len);
    let value = vars.get(name);
    let set_nonempty = value.is_some_and(|v| !v.is_empty());
    let or_value = |fallback: &str| -> anyhow::Result<String> {
        Ok(value.cloned().unwrap_or(interpolate(fallback, vars)?))
    };
    Ok(match op {
        "" => value.cloned().unwrap_or_default(),
        _ if op.starts_with(":-") => match set_nonempty {
            true => value.cloned().unwrap_or_default(),
            false => interpolate(&op[2..], vars)?,
        },
        _ if op.starts_with(":?") => match set_nonempty {
            true => value.cloned().unwrap_or_default(),
            false => bail!("required variable {name} is missing a value: {}", &op[2..]),
        },
        _ if op.starts_with('-') => or_value(&op[1..])?,
        _ if op.starts_with('?') => match value {
            Some(v) => v.clone(),
            None => bail!("required variable {name} is missing a value: {}", &op[1..]),
        },
        _ => bail!("invalid interpolation ${{{inner}}}"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn substitutes_like_compose() {
        let vars = Vars::from([("A".into(), "x".into()), ("EMPTY".into(), String::new())]);
        let i = |s: &str| interpolate(s, &vars).unwrap();
        assert_eq!(i("pre-${A}-$A/post"), "pre-x-x/post");
        assert_eq!(i("${B:-d}|${EMPTY:-d}|${EMPTY-d}|${B-d}"), "d|d||d");
        assert_eq!(i("$${A} costs $$5"), "${A} costs $5");
        assert_eq!(i("${A:?need A}"), "x");
        let missing = interpolate("${B:?set B (base64)}", &vars).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "required variable B is missing a value: set B (base64)"
        );
        assert!(interpolate("${EMPTY:?e}", &vars).is_err());
        assert!(interpolate("a $ b", &vars).is_err());
    }
}
