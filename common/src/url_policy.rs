//! Which IdP URLs dcr will call: https everywhere, plain http only on loopback and only
//! when DCR_ALLOW_HTTP_LOOPBACK says so (local runs and tests).

use url::{Host, Url};

pub const MAX_URL: usize = 2048;

/// Whether plain http is allowed for loopback hosts (DCR_ALLOW_HTTP_LOOPBACK).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    pub allow_http_loopback: bool,
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An IdP-facing URL: absolute, https (or http on loopback when allowed), no fragment,
/// no credentials.
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
        "http" if policy.allow_http_loopback && is_loopback(&url) => {}
        "http" if is_loopback(&url) => {
            return Err(
                "must use https (plain http on loopback needs DCR_ALLOW_HTTP_LOOPBACK=true)".into(),
            );
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
