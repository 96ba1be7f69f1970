//! Which IdP URLs dcr will call: https everywhere; plain http only on loopback when
//! DCR_ALLOW_HTTP_LOOPBACK says so (local runs and tests), and to the hosts named in
//! DCR_ALLOW_HTTP_HOSTS (an IdP on a private network, e.g. the compose demo's emulator).

use url::{Host, Url};

use crate::config::{self, ConfigError};

pub const MAX_URL: usize = 2048;

/// Where plain http is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    /// DCR_ALLOW_HTTP_LOOPBACK: 127.0.0.0/8, ::1 and localhost.
    pub allow_http_loopback: bool,
    /// DCR_ALLOW_HTTP_HOSTS: these hosts exactly (normalized: lower case, IPs canonical).
    /// `'static` keeps the policy `Copy`, as it is passed by value throughout; a service
    /// reads it once at start (see [`UrlPolicy::from_env`]).
    pub allow_http_hosts: &'static [String],
}

impl UrlPolicy {
    /// DCR_ALLOW_HTTP_LOOPBACK (`true`/`false`, default false) and DCR_ALLOW_HTTP_HOSTS
    /// (comma-separated host names or IPs, no scheme or port; default none).
    pub fn from_env() -> Result<Self, ConfigError> {
        let hosts = config::optional("DCR_ALLOW_HTTP_HOSTS").unwrap_or_default();
        Ok(Self {
            allow_http_loopback: config::flag("DCR_ALLOW_HTTP_LOOPBACK", false)?,
            // Read once per process: leaking the short list is what lets the policy stay Copy.
            allow_http_hosts: Vec::leak(http_hosts("DCR_ALLOW_HTTP_HOSTS", &hosts)?),
        })
    }

    fn allows_http(&self, url: &Url) -> bool {
        (self.allow_http_loopback && is_loopback(url))
            || url
                .host()
                .is_some_and(|host| self.allow_http_hosts.contains(&host.to_string()))
    }
}

/// A comma-separated list of hosts (`idp-emulator, 10.0.0.7`), each normalized as URLs
/// normalize hosts, so it compares equal to `Url::host`.
pub fn http_hosts(var: &'static str, value: &str) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let host = Url::parse(&format!("http://{item}/"))
                .ok()
                .and_then(|url| url.host().map(|h| h.to_string()))
                .filter(|host| host.eq_ignore_ascii_case(item));
            host.ok_or_else(|| {
                ConfigError::new(
                    var,
                    format!("{item:?} is not a host name or IP (no scheme, port or path)"),
                )
            })
        })
        .collect()
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An IdP-facing URL: absolute, https (or http where the policy allows), no fragment, no
/// credentials.
pub fn idp_url(value: &str, policy: UrlPolicy) -> Result<Url, String> {
    if value.is_empty() {
        return Err("is required".into());
    }
    if value.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    let url = Url::parse(value).map_err(|e| format!("is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allows_http(&url) => {}
        "http" if is_loopback(&url) => {
            return Err(
                "must use https (plain http on loopback needs DCR_ALLOW_HTTP_LOOPBACK=true)".into(),
            );
        }
        "http" => {
            let host = url.host_str().unwrap_or_default();
            return Err(format!(
                "must use https (plain http to {host} needs DCR_ALLOW_HTTP_HOSTS={host})"
            ));
        }
        _ => return Err("must use https".into()),
    }
    if url.fragment().is_some() {
        return Err("must not have a fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials".into());
    }
    if url.host().is_none() {
        return Err("must have a host".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn policy(loopback: bool, hosts: &str) -> UrlPolicy {
        UrlPolicy {
            allow_http_loopback: loopback,
            allow_http_hosts: Vec::leak(http_hosts("DCR_ALLOW_HTTP_HOSTS", hosts).unwrap()),
        }
    }

    #[test]
    fn listed_hosts_may_use_plain_http_and_no_others() {
        let demo = policy(false, "idp-emulator, 10.0.0.7");
        assert!(idp_url("http://idp-emulator:9000/auth0/", demo).is_ok());
        assert!(idp_url("http://IDP-Emulator/okta", demo).is_ok());
        assert!(idp_url("http://10.0.0.7:8080/", demo).is_ok());
        assert!(idp_url("https://idp-emulator/", demo).is_ok());
        // Exact names: no suffix or prefix matches, and loopback stays off.
        assert_eq!(
            idp_url("http://idp-emulator.evil.example/", demo).unwrap_err(),
            "must use https (plain http to idp-emulator.evil.example needs DCR_ALLOW_HTTP_HOSTS=idp-emulator.evil.example)"
        );
        assert!(idp_url("http://my-idp-emulator/", demo).is_err());
        assert!(idp_url("http://127.0.0.1:9000/", demo).is_err());
        assert!(idp_url("ftp://idp-emulator/", demo).is_err());
    }

    #[test]
    fn loopback_needs_its_own_flag() {
        let none = policy(false, "");
        let local = policy(true, "");
        assert!(idp_url("http://127.0.0.1:8080/", local).is_ok());
        assert!(idp_url("http://localhost/", local).is_ok());
        assert!(idp_url("http://idp.example.com/", local).is_err());
        let error = idp_url("http://127.0.0.1:8080/", none).unwrap_err();
        assert!(error.contains("DCR_ALLOW_HTTP_LOOPBACK"), "{error}");
    }

    #[test]
    fn host_lists_are_names_or_ips_only() {
        assert_eq!(
            http_hosts("V", " a.example ,,B ,::1x").map_err(|e| e.to_string()),
            Err(r#"invalid configuration: V: "::1x" is not a host name or IP (no scheme, port or path)"#.into())
        );
        assert_eq!(
            http_hosts("V", "idp-emulator, IdP.Internal,10.1.2.3").unwrap(),
            ["idp-emulator", "idp.internal", "10.1.2.3"]
        );
        assert!(http_hosts("V", "").unwrap().is_empty());
        for bad in [
            "http://idp",
            "idp:9000",
            "idp/path",
            "user@idp",
            "two words",
        ] {
            let error = http_hosts("DCR_ALLOW_HTTP_HOSTS", bad)
                .unwrap_err()
                .to_string();
            assert!(
                error.contains("DCR_ALLOW_HTTP_HOSTS") && error.contains(bad),
                "{error}"
            );
        }
    }
}
