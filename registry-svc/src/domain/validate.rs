//! Field rules shared by the request parsers. Each returns the parsed value or a
//! description of what is wrong, for a field violation.

use std::collections::BTreeMap;

use url::Url;

pub use dcr_common::url_policy::{UrlPolicy, idp_url};

pub const MAX_NAME: usize = 255;
pub const MAX_DESCRIPTION: usize = 4096;
pub const MAX_URL: usize = dcr_common::url_policy::MAX_URL;
pub const MAX_REDIRECT_URIS: usize = 32;
pub const MAX_LABELS: usize = 64;

pub fn name(value: &str) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    text(trimmed, MAX_NAME)
}

pub fn text(value: &str, max: usize) -> Result<String, String> {
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("must not contain control characters".into());
    }
    Ok(value.to_owned())
}

/// An OpenID issuer: an IdP URL without query.
pub fn issuer(value: &str, policy: UrlPolicy) -> Result<Url, String> {
    let url = idp_url(value, policy)?;
    if url.query().is_some() {
        return Err("must not have a query".into());
    }
    Ok(url)
}

/// A redirect URI per RFC 7591 section 2 / RFC 6749 section 3.1.2: absolute, no fragment.
/// Custom schemes are allowed (native apps); http is left to the IdP's policy.
pub fn redirect_uri(value: &str) -> Result<Url, String> {
    if value.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = Url::parse(value).map_err(|e| format!("is not an absolute URI ({e})"))?;
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    Ok(url)
}

/// Label keys: 1-63 characters of [a-z0-9_-], starting with a letter; values at most 63
/// characters of [a-z0-9_-] (the rules of Kubernetes-style labels, Konnect's too).
pub fn labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    if labels.len() > MAX_LABELS {
        return Err(format!("at most {MAX_LABELS} labels"));
    }
    let charset = |s: &str| {
        s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    for (key, value) in labels {
        let starts_with_letter = key.chars().next().is_some_and(|c| c.is_ascii_lowercase());
        if key.is_empty() || key.len() > 63 || !charset(key) || !starts_with_letter {
            return Err(format!(
                "label key {key:?} must be 1-63 of [a-z0-9_-], starting with a letter"
            ));
        }
        if value.len() > 63 || !charset(value) {
            return Err(format!(
                "label {key:?}: value must be at most 63 of [a-z0-9_-]"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: UrlPolicy = UrlPolicy {
        allow_http_loopback: false,
        allow_http_hosts: &[],
    };
    const LOCAL: UrlPolicy = UrlPolicy {
        allow_http_loopback: true,
        allow_http_hosts: &[],
    };

    #[test]
    fn issuers_need_https_unless_loopback_is_allowed() {
        assert!(issuer("https://idp.example.com/", STRICT).is_ok());
        assert!(issuer("http://idp.example.com/", LOCAL).is_err());
        assert!(issuer("http://127.0.0.1:8080", STRICT).is_err());
        assert!(issuer("http://127.0.0.1:8080", LOCAL).is_ok());
        assert!(issuer("http://localhost:8080", LOCAL).is_ok());
        assert!(issuer("https://idp.example.com/#x", STRICT).is_err());
        assert!(issuer("https://idp.example.com/?a=b", STRICT).is_err());
        assert!(issuer("idp.example.com", STRICT).is_err());
    }

    #[test]
    fn redirect_uris_are_absolute_without_fragment() {
        assert!(redirect_uri("https://app.example.com/cb").is_ok());
        assert!(redirect_uri("com.example.app:/cb").is_ok());
        assert!(redirect_uri("/cb").is_err());
        assert!(redirect_uri("https://app.example.com/cb#frag").is_err());
    }

    #[test]
    fn labels_follow_the_charset() {
        let ok = BTreeMap::from([("team".to_owned(), "payments-1".to_owned())]);
        assert!(labels(&ok).is_ok());
        let bad = BTreeMap::from([("Team".to_owned(), "x".to_owned())]);
        assert!(labels(&bad).is_err());
    }
}
