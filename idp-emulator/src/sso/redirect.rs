//! Which redirect URIs a login client may use. A native app listens on a loopback port
//! it gets from the operating system at the time of the request, so for a native client a
//! registered `http://127.0.0.1/callback` (or `http://[::1]/callback`) matches that URI
//! on any port (RFC 8252 section 7.3). Everything else, and every redirect URI of a web
//! client (whose port is fixed by its deployment), must match exactly. `localhost` never matches
//! a loopback registration: RFC 8252 section 8.3 says to use the IP literal, since a name
//! may resolve elsewhere.

use url::{Host, Url};

/// Whether `requested` is one of `registered`: exactly, or (with `any_loopback_port`, for
/// native clients) a loopback registration on another port. A URI with a fragment or user
/// info never is (RFC 6749 section 3.1.2).
pub(crate) fn allowed(registered: &[String], requested: &str, any_loopback_port: bool) -> bool {
    let Ok(url) = Url::parse(requested) else {
        return false;
    };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    registered
        .iter()
        .any(|r| r == requested || (any_loopback_port && loopback_match(r, &url)))
}

fn is_loopback_literal(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    }
}

/// Same scheme (http), loopback IP literal, path and query; any port.
fn loopback_match(registered: &str, requested: &Url) -> bool {
    let Ok(reg) = Url::parse(registered) else {
        return false;
    };
    reg.scheme() == "http"
        && requested.scheme() == "http"
        && is_loopback_literal(&reg)
        && reg.host() == requested.host()
        && reg.path() == requested.path()
        && reg.query() == requested.query()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registered() -> Vec<String> {
        vec![
            "http://127.0.0.1/callback".into(),
            "http://[::1]/callback".into(),
        ]
    }

    #[test]
    fn loopback_on_any_port() {
        let r = registered();
        assert!(allowed(&r, "http://127.0.0.1/callback", true));
        assert!(allowed(&r, "http://127.0.0.1:53682/callback", true));
        assert!(allowed(&r, "http://[::1]:8000/callback", true));
    }

    #[test]
    fn a_web_clients_loopback_port_is_fixed() {
        let r = vec!["http://127.0.0.1:8090/auth/callback".to_owned()];
        assert!(allowed(&r, "http://127.0.0.1:8090/auth/callback", false));
        assert!(!allowed(&r, "http://127.0.0.1:8091/auth/callback", false));
        assert!(!allowed(&r, "http://127.0.0.1/auth/callback", false));
        assert!(!allowed(
            &registered(),
            "http://127.0.0.1:53682/callback",
            false
        ));
    }

    #[test]
    fn anything_else_is_refused() {
        let r = registered();
        for bad in [
            "http://localhost:53682/callback",
            "https://127.0.0.1:53682/callback",
            "http://127.0.0.1:53682/other",
            "http://127.0.0.1:53682/callback?x=1",
            "http://127.0.0.1:53682/callback#frag",
            "http://user@127.0.0.1:53682/callback",
            "http://127.0.0.2:53682/callback",
            "http://evil.example/callback",
            "not a url",
        ] {
            assert!(!allowed(&r, bad, true), "{bad}");
        }
    }

    #[test]
    fn exact_registrations_match_exactly() {
        let r = vec!["https://app.example/cb".to_owned()];
        assert!(allowed(&r, "https://app.example/cb", true));
        assert!(!allowed(&r, "https://app.example:8443/cb", true));
    }
}
