//! The token request each vendor expects for client credentials. A pure function, so
//! every quirk is unit tested here.
//!
//! - auth0: the API is named by `audience` (Auth0 Authentication API, client credentials flow).
//! - azure_ad: v1 endpoints take `resource`; v2 endpoints take `scope={resource}/.default`
//!   and nothing else (Microsoft identity platform, client credentials flow).
//! - okta: `openid` is never sent with client credentials (Okta rejects it).
//! - curity, rfc7591, http_bridge: `scope`, plus an RFC 8707 `resource` indicator when
//!   an audience is set.

use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    Auth0,
    Okta,
    Curity,
    AzureAd,
    Generic,
}

impl Vendor {
    /// The vendor of a provider type, by its name (the directory's `provider_type`).
    pub fn from_type(provider_type: &str) -> Self {
        use dcr_proto::registry::v1::ProviderType;
        match ProviderType::from_name(provider_type) {
            Some(ProviderType::Auth0) => Self::Auth0,
            Some(ProviderType::Okta) => Self::Okta,
            Some(ProviderType::Curity) => Self::Curity,
            Some(ProviderType::AzureAd) => Self::AzureAd,
            Some(ProviderType::Rfc7591 | ProviderType::HttpBridge | ProviderType::Unspecified)
            | None => Self::Generic,
        }
    }
}

/// The form fields of a client_credentials request (client authentication excluded).
pub fn token_form(
    vendor: Vendor,
    token_endpoint: &Url,
    scopes: &[String],
    audience: &str,
) -> Vec<(&'static str, String)> {
    let mut form = vec![("grant_type", "client_credentials".to_owned())];
    let joined = |scopes: &[String]| scopes.join(" ");
    match vendor {
        Vendor::Auth0 => {
            if !scopes.is_empty() {
                form.push(("scope", joined(scopes)));
            }
            if !audience.is_empty() {
                form.push(("audience", audience.to_owned()));
            }
        }
        Vendor::AzureAd => {
            let v2 = token_endpoint.path().contains("/v2.0/");
            match (v2, audience.is_empty()) {
                (true, false) => form.push((
                    "scope",
                    format!("{}/.default", audience.trim_end_matches('/')),
                )),
                (true, true) => form.push(("scope", joined(scopes))),
                (false, false) => form.push(("resource", audience.to_owned())),
                (false, true) => {}
            }
        }
        Vendor::Okta => {
            let kept: Vec<String> = scopes
                .iter()
                .filter(|s| s.as_str() != "openid")
                .cloned()
                .collect();
            if !kept.is_empty() {
                form.push(("scope", joined(&kept)));
            }
        }
        Vendor::Curity | Vendor::Generic => {
            if !scopes.is_empty() {
                form.push(("scope", joined(scopes)));
            }
            if !audience.is_empty() {
                form.push(("resource", audience.to_owned()));
            }
        }
    }
    form
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn form(
        vendor: Vendor,
        endpoint: &str,
        scopes: &[&str],
        audience: &str,
    ) -> Vec<(&'static str, String)> {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        token_form(vendor, &endpoint.parse().unwrap(), &scopes, audience)
    }

    fn field<'a>(form: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        form.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn auth0_names_the_api_by_audience() {
        let f = form(
            Vendor::Auth0,
            "https://t.auth0.com/oauth/token",
            &["read:orders"],
            "https://api.example.com",
        );
        assert_eq!(field(&f, "audience"), Some("https://api.example.com"));
        assert_eq!(field(&f, "resource"), None);
        assert_eq!(field(&f, "scope"), Some("read:orders"));
    }

    #[test]
    fn entra_v1_takes_resource_and_v2_takes_default_scope() {
        let v1 = form(
            Vendor::AzureAd,
            "https://login.microsoftonline.com/t/oauth2/token",
            &["x"],
            "api://orders",
        );
        assert_eq!(
            (field(&v1, "resource"), field(&v1, "scope")),
            (Some("api://orders"), None)
        );
        let v2 = form(
            Vendor::AzureAd,
            "https://login.microsoftonline.com/t/oauth2/v2.0/token",
            &["x"],
            "api://orders/",
        );
        assert_eq!(
            (field(&v2, "scope"), field(&v2, "resource")),
            (Some("api://orders/.default"), None)
        );
    }

    #[test]
    fn okta_never_gets_openid() {
        let f = form(
            Vendor::Okta,
            "https://o.okta.com/oauth2/default/v1/token",
            &["openid", "orders.read"],
            "",
        );
        assert_eq!(field(&f, "scope"), Some("orders.read"));
        let only = form(
            Vendor::Okta,
            "https://o.okta.com/oauth2/default/v1/token",
            &["openid"],
            "",
        );
        assert_eq!(field(&only, "scope"), None);
    }

    #[test]
    fn generic_providers_get_a_resource_indicator() {
        let f = form(
            Vendor::Generic,
            "https://idp.example.com/token",
            &["read", "write"],
            "https://api.example.com",
        );
        assert_eq!(field(&f, "resource"), Some("https://api.example.com"));
        assert_eq!(field(&f, "scope"), Some("read write"));
        assert_eq!(field(&f, "grant_type"), Some("client_credentials"));
        let bare = form(Vendor::Generic, "https://idp.example.com/token", &[], "");
        assert_eq!(bare, [("grant_type", "client_credentials".to_owned())]);
    }
}
