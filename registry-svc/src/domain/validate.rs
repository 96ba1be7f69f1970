//! Field rules shared by the request parsers. Each returns the parsed value or a
//! description of what is wrong, for a field violation.

use std::collections::BTreeMap;

use dcr_common::text::echo;
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
    one_line(trimmed, MAX_NAME)
}

/// Text shown on one line: names, display names. No control characters at all, since a
/// tab or newline in a name breaks every table and log line that shows it.
pub fn one_line(value: &str, max: usize) -> Result<String, String> {
    if value.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if value.chars().any(char::is_control) {
        return Err(
            "must not contain control characters such as tabs or newlines (it is \
             shown on one line)"
                .into(),
        );
    }
    Ok(value.to_owned())
}

/// Free text such as descriptions: newlines and tabs are kept, other control characters
/// refused.
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

/// An audience (strategies, products): empty (none), or an absolute URI per RFC 3986
/// section 4.3, since IdPs take it as an RFC 8707 resource or an `aud` value. Kept exactly
/// as given (tokens' `aud` must match it to the character), only checked.
pub fn audience(value: &str) -> Result<String, String> {
    const HINT: &str = "must be an absolute URI such as https://api.example.com or api://default";
    let value = value.trim();
    if value.is_empty() {
        return Ok(String::new());
    }
    if value.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    // A URI has no whitespace (RFC 3986 section 2); the URL parser would accept some.
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{HINT} (it contains spaces or control characters)"));
    }
    // Url::parse wants a scheme, so it refuses relative references; URNs
    // (urn:example:api) parse as absolute URIs without a host, as they should.
    match Url::parse(value) {
        Ok(_) => Ok(value.to_owned()),
        Err(e) => Err(format!("{HINT} ({e})")),
    }
}

/// An OpenID issuer: an IdP URL without query.
pub fn issuer(value: &str, policy: UrlPolicy) -> Result<Url, String> {
    // Stored as given (tokens' `iss` must match it), so the URL parser's quiet removal of
    // tabs and newlines must not apply: refuse them.
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters such as tabs or newlines".into());
    }
    let url = idp_url(value, policy)?;
    if url.query().is_some() {
        return Err("must not have a query".into());
    }
    Ok(url)
}

/// A redirect URI per RFC 7591 section 2 / RFC 6749 section 3.1.2: absolute, no fragment.
/// Custom schemes are allowed (native apps, RFC 8252 section 7.1), and https; plain http
/// only to loopback (RFC 8252 section 7.3), where nothing crosses a network.
pub fn redirect_uri(value: &str) -> Result<Url, String> {
    if value.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = Url::parse(value).map_err(|e| format!("is not an absolute URI ({e})"))?;
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    if url.scheme() == "http" && !is_loopback(&url) {
        return Err("must use https: plain http is only for loopback redirects \
             (127.0.0.1, [::1] or localhost; RFC 8252 section 7.3)"
            .into());
    }
    Ok(url)
}

/// A loopback IP literal (RFC 8252 section 7.3), or `localhost`: section 8.3 calls it
/// NOT RECOMMENDED (it can resolve elsewhere), but native apps and dev setups use it
/// widely, and it names this machine as much as 127.0.0.1 does.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        None => false,
    }
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
                "label key \"{}\" must be 1-63 of [a-z0-9_-], starting with a letter",
                echo(key)
            ));
        }
        if value.len() > 63 || !charset(value) {
            return Err(format!(
                "label \"{}\": value must be at most 63 of [a-z0-9_-]",
                echo(key)
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
        assert!(issuer("https://idp.exa\tmple.com", STRICT).is_err());
    }

    #[test]
    fn redirect_uris_are_absolute_without_fragment() {
        assert!(redirect_uri("https://app.example.com/cb").is_ok());
        assert!(redirect_uri("com.example.app:/cb").is_ok());
        assert!(redirect_uri("/cb").is_err());
        assert!(redirect_uri("https://app.example.com/cb#frag").is_err());
    }

    #[test]
    fn plain_http_redirects_are_for_loopback_only() {
        assert!(redirect_uri("http://127.0.0.1:8400/cb").is_ok());
        assert!(redirect_uri("http://[::1]:8400/cb").is_ok());
        assert!(redirect_uri("http://localhost/cb").is_ok());
        let remote = redirect_uri("http://example.com/cb").map(|_| ());
        assert!(
            remote
                .as_ref()
                .is_err_and(|e| e.contains("only for loopback")),
            "{remote:?}"
        );
        assert!(redirect_uri("http://localhost.example.com/cb").is_err());
    }

    #[test]
    fn names_are_one_line_and_descriptions_may_have_several() {
        assert!(name("shop\tv2").is_err());
        assert!(name("shop\nv2").is_err());
        assert!(name("shop v2").is_ok());
        assert!(text("line one\n\tline two", MAX_DESCRIPTION).is_ok());
        assert!(text("bell\u{7}", MAX_DESCRIPTION).is_err());
    }

    #[test]
    fn audiences_are_absolute_uris_or_empty() {
        for ok in [
            "",
            "https://api.example.com",
            "api://default",
            "urn:example:api",
        ] {
            assert_eq!(audience(ok).as_deref(), Ok(ok), "{ok}");
        }
        for bad in ["not a url", "/orders", "api.example.com", "https://"] {
            assert!(audience(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_follow_the_charset() {
        let ok = BTreeMap::from([("team".to_owned(), "payments-1".to_owned())]);
        assert!(labels(&ok).is_ok());
        let bad = BTreeMap::from([("Team".to_owned(), "x".to_owned())]);
        assert!(labels(&bad).is_err());
    }
}
