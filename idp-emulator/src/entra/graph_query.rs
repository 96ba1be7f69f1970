//! The OData query subset Graph's `applications` and `servicePrincipals` lists honour
//! here: `$filter` clauses joined by `and` (`prop eq 'v'`, `startswith(prop,'v')`,
//! `coll/any(x:x eq 'v')`), `$top`, `$skiptoken`, `$select`.

/// One `$filter` clause.
#[derive(Debug, PartialEq)]
pub(crate) enum Clause {
    /// `prop eq 'value'`
    Eq(String, String),
    /// `startswith(prop,'value')`
    StartsWith(String, String),
    /// `coll/any(x:x eq 'value')`
    Any(String, String),
}

/// Parses a quoted OData string literal (`'it''s'`), returning it and the rest.
fn literal(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start().strip_prefix('\'')?;
    let mut out = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().map(|(_, n)| *n) == Some('\'') {
                out.push('\'');
                chars.next();
            } else {
                return Some((out, &s[i + 1..]));
            }
        } else {
            out.push(c);
        }
    }
    None
}

fn clause(s: &str) -> Option<Clause> {
    let s = s.trim();
    if let Some(rest) = s.strip_prefix("startswith(") {
        let (prop, rest) = rest.split_once(',')?;
        let (value, rest) = literal(rest)?;
        return (rest.trim() == ")").then(|| Clause::StartsWith(prop.trim().to_string(), value));
    }
    if let Some((coll, rest)) = s.split_once("/any(") {
        let (var, rest) = rest.split_once(':')?;
        let rest = rest
            .trim_start()
            .strip_prefix(var.trim())?
            .trim_start()
            .strip_prefix("eq")?;
        let (value, rest) = literal(rest)?;
        return (rest.trim() == ")").then(|| Clause::Any(coll.trim().to_string(), value));
    }
    let (prop, rest) = s.split_once(" eq ")?;
    let (value, rest) = literal(rest)?;
    rest.trim()
        .is_empty()
        .then(|| Clause::Eq(prop.trim().to_string(), value))
}

/// Parses a whole `$filter`; `Err` names the clause it could not read.
pub(crate) fn parse_filter(filter: &str) -> Result<Vec<Clause>, String> {
    if filter.len() > 2048 {
        return Err(filter.chars().take(64).collect());
    }
    filter
        .split(" and ")
        .map(|part| clause(part).ok_or_else(|| part.trim().to_string()))
        .collect()
}

/// `$skiptoken` is opaque to callers; here it carries the offset of the next page.
pub(crate) fn skiptoken(offset: usize) -> String {
    format!("X{offset:08x}")
}

pub(crate) fn parse_skiptoken(token: &str) -> Option<usize> {
    usize::from_str_radix(token.strip_prefix('X')?, 16).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn parses_the_supported_clauses() {
        assert_eq!(
            parse_filter(
                "appId eq 'a''b' and tags/any(t:t eq 'dcr:app=1') and startswith(displayName,'x')"
            )
            .unwrap(),
            vec![
                Clause::Eq("appId".into(), "a'b".into()),
                Clause::Any("tags".into(), "dcr:app=1".into()),
                Clause::StartsWith("displayName".into(), "x".into()),
            ]
        );
        assert!(parse_filter("appId ne 'x'").is_err());
        assert!(parse_filter("appId eq 'x").is_err());
        assert_eq!(parse_skiptoken(&skiptoken(300)), Some(300));
    }
}
