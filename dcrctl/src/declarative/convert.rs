//! The file's types to the API's messages and back. Registry -> file is used by `export`
//! and to compare; file -> registry by `apply`, with the secrets it resolved.

use std::collections::BTreeMap;
use std::time::Duration;

use dcr_proto::registry::v1 as pb;
use pb::provider::Config;

use super::file::{
    Auth0, AuthMethod, AzureAd, Curity, HttpBridge, Okta, ProductFile, ProviderFile, Rfc7591,
    Secret, StrategyFile, Ttl,
};

/// The write-only provider fields: the registry's own list.
pub use registry_svc::api::convert_provider::SECRET_FIELDS;

/// The API's defaults for strategy fields the file may leave out (strategies.proto).
pub const DEFAULT_AUTH_METHODS: &[AuthMethod] =
    &[AuthMethod::ClientCredentials, AuthMethod::Bearer];
pub use registry_svc::domain::strategy::{DEFAULT_SESSION_COOKIE, DEFAULT_SESSION_TTL};

/// A provider type's name, as the config block is called in the file and in mask paths.
pub fn type_name(provider: &ProviderFile) -> Option<&'static str> {
    let present = config_blocks(provider);
    match present.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// Which config blocks a provider in the file has (exactly one is valid).
pub fn config_blocks(p: &ProviderFile) -> Vec<&'static str> {
    [
        (p.auth0.is_some(), "auth0"),
        (p.okta.is_some(), "okta"),
        (p.curity.is_some(), "curity"),
        (p.azure_ad.is_some(), "azure_ad"),
        (p.rfc7591.is_some(), "rfc7591"),
        (p.http_bridge.is_some(), "http_bridge"),
    ]
    .into_iter()
    .filter_map(|(present, name)| present.then_some(name))
    .collect()
}

/// The secret references of a provider's config block: (field, reference, required).
pub fn secrets(p: &ProviderFile) -> Vec<(&'static str, Option<&Secret>, bool)> {
    let mut out = Vec::new();
    if let Some(c) = &p.auth0 {
        out.push((
            "initial_client_secret",
            c.initial_client_secret.as_ref(),
            true,
        ));
    }
    if let Some(c) = &p.okta {
        out.push(("dcr_token", c.dcr_token.as_ref(), true));
    }
    if let Some(c) = &p.curity {
        out.push((
            "initial_client_secret",
            c.initial_client_secret.as_ref(),
            true,
        ));
        out.push((
            "introspection_client_secret",
            c.introspection_client_secret.as_ref(),
            !c.introspection_client_id.is_empty(),
        ));
    }
    if let Some(c) = &p.azure_ad {
        out.push((
            "initial_client_secret",
            c.initial_client_secret.as_ref(),
            true,
        ));
    }
    if let Some(c) = &p.rfc7591 {
        out.push((
            "initial_access_token",
            c.initial_access_token.as_ref(),
            false,
        ));
        // Required exactly when introspection_client_id is set (both or neither).
        let required = !c.introspection_client_id.is_empty();
        out.push((
            "introspection_client_secret",
            c.introspection_client_secret.as_ref(),
            required,
        ));
    }
    if let Some(c) = &p.http_bridge {
        out.push(("api_key", c.api_key.as_ref(), true));
    }
    out
}

/// Every field of a provider type, for update masks (`<type>.<field>`).
pub fn config_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "auth0" => &[
            "initial_client_id",
            "initial_client_secret",
            "initial_client_audience",
            "use_developer_managed_scopes",
        ],
        "okta" => &["dcr_token"],
        "curity" => &[
            "initial_client_id",
            "initial_client_secret",
            "introspection_client_id",
            "introspection_client_secret",
        ],
        "azure_ad" => &[
            "initial_client_id",
            "initial_client_secret",
            "graph_base_url",
        ],
        "rfc7591" => &[
            "registration_endpoint",
            "initial_access_token",
            "introspection_client_id",
            "introspection_client_secret",
        ],
        "http_bridge" => &[
            "dcr_base_url",
            "api_key",
            "disable_event_hooks",
            "disable_refresh_secret",
            "allow_multiple_credentials",
        ],
        _ => &[],
    }
}

/// A registry provider in the file's terms; `secret` names the reference written for each
/// secret field the provider may hold (export), or gives None (comparison).
pub fn provider_to_file(p: &pb::Provider, secret: &dyn Fn(&str) -> Option<Secret>) -> ProviderFile {
    let mut file = ProviderFile {
        name: p.name.clone(),
        display_name: Some(p.display_name.clone()),
        issuer: p.issuer.clone(),
        active: p.active,
        labels: p.labels.clone().into_iter().collect(),
        ..ProviderFile::default()
    };
    match &p.config {
        Some(Config::Auth0(c)) => {
            file.auth0 = Some(Auth0 {
                initial_client_id: c.initial_client_id.clone(),
                initial_client_secret: secret("initial_client_secret"),
                initial_client_audience: c.initial_client_audience.clone(),
                use_developer_managed_scopes: c.use_developer_managed_scopes,
            })
        }
        Some(Config::Okta(_)) => {
            file.okta = Some(Okta {
                dcr_token: secret("dcr_token"),
            })
        }
        Some(Config::Curity(c)) => {
            file.curity = Some(Curity {
                initial_client_id: c.initial_client_id.clone(),
                initial_client_secret: secret("initial_client_secret"),
                introspection_client_id: c.introspection_client_id.clone(),
                // The pair is both or neither, so a secret exists exactly with the id.
                introspection_client_secret: if c.introspection_client_id.is_empty() {
                    None
                } else {
                    secret("introspection_client_secret")
                },
            })
        }
        Some(Config::AzureAd(c)) => {
            file.azure_ad = Some(AzureAd {
                initial_client_id: c.initial_client_id.clone(),
                initial_client_secret: secret("initial_client_secret"),
                graph_base_url: c.graph_base_url.clone(),
            })
        }
        Some(Config::Rfc7591(c)) => {
            file.rfc7591 = Some(Rfc7591 {
                registration_endpoint: c.registration_endpoint.clone(),
                initial_access_token: secret("initial_access_token"),
                introspection_client_id: c.introspection_client_id.clone(),
                // The pair is both or neither, so a secret exists exactly with the id.
                introspection_client_secret: if c.introspection_client_id.is_empty() {
                    None
                } else {
                    secret("introspection_client_secret")
                },
            })
        }
        Some(Config::HttpBridge(c)) => {
            file.http_bridge = Some(HttpBridge {
                dcr_base_url: c.dcr_base_url.clone(),
                api_key: secret("api_key"),
                disable_event_hooks: c.disable_event_hooks,
                disable_refresh_secret: c.disable_refresh_secret,
                allow_multiple_credentials: c.allow_multiple_credentials,
            })
        }
        None => {}
    }
    file
}

/// A provider of the file as the API's message, with its resolved secrets.
pub fn provider_to_proto(
    p: &ProviderFile,
    secrets: &BTreeMap<&'static str, String>,
) -> pb::Provider {
    let secret = |field: &str| secrets.get(field).cloned().unwrap_or_default();
    let config = if let Some(c) = &p.auth0 {
        Some(Config::Auth0(pb::Auth0Config {
            initial_client_id: c.initial_client_id.clone(),
            initial_client_secret: secret("initial_client_secret"),
            initial_client_audience: c.initial_client_audience.clone(),
            use_developer_managed_scopes: c.use_developer_managed_scopes,
        }))
    } else if p.okta.is_some() {
        Some(Config::Okta(pb::OktaConfig {
            dcr_token: secret("dcr_token"),
        }))
    } else if let Some(c) = &p.curity {
        Some(Config::Curity(pb::CurityConfig {
            initial_client_id: c.initial_client_id.clone(),
            initial_client_secret: secret("initial_client_secret"),
            introspection_client_id: c.introspection_client_id.clone(),
            introspection_client_secret: secret("introspection_client_secret"),
        }))
    } else if let Some(c) = &p.azure_ad {
        Some(Config::AzureAd(pb::AzureAdConfig {
            initial_client_id: c.initial_client_id.clone(),
            initial_client_secret: secret("initial_client_secret"),
            graph_base_url: c.graph_base_url.clone(),
        }))
    } else if let Some(c) = &p.rfc7591 {
        Some(Config::Rfc7591(pb::Rfc7591Config {
            registration_endpoint: c.registration_endpoint.clone(),
            initial_access_token: secret("initial_access_token"),
            introspection_client_id: c.introspection_client_id.clone(),
            introspection_client_secret: secret("introspection_client_secret"),
        }))
    } else {
        p.http_bridge.as_ref().map(|c| {
            Config::HttpBridge(pb::HttpBridgeConfig {
                dcr_base_url: c.dcr_base_url.clone(),
                api_key: secret("api_key"),
                disable_event_hooks: c.disable_event_hooks,
                disable_refresh_secret: c.disable_refresh_secret,
                allow_multiple_credentials: c.allow_multiple_credentials,
            })
        })
    };
    pb::Provider {
        name: p.name.clone(),
        display_name: p.display_name.clone().unwrap_or_default(),
        issuer: p.issuer.clone(),
        config,
        labels: p.labels.clone().into_iter().collect(),
        active: p.active,
        ..pb::Provider::default()
    }
}

/// Seconds in the largest whole unit, as the file writes durations.
pub fn format_ttl(duration: Duration) -> Ttl {
    let s = duration.as_secs();
    let text = if s > 0 && s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    };
    Ttl(text)
}

fn method_from_proto(raw: i32) -> Option<AuthMethod> {
    match pb::AuthMethod::try_from(raw) {
        Ok(pb::AuthMethod::ClientCredentials) => Some(AuthMethod::ClientCredentials),
        Ok(pb::AuthMethod::Bearer) => Some(AuthMethod::Bearer),
        Ok(pb::AuthMethod::Session) => Some(AuthMethod::Session),
        _ => None,
    }
}

fn method_to_proto(method: AuthMethod) -> i32 {
    match method {
        AuthMethod::ClientCredentials => pb::AuthMethod::ClientCredentials as i32,
        AuthMethod::Bearer => pb::AuthMethod::Bearer as i32,
        AuthMethod::Session => pb::AuthMethod::Session as i32,
    }
}

pub fn strategy_to_file(s: &pb::AuthStrategy, provider: &str) -> StrategyFile {
    let ttl = s
        .session_ttl
        .as_ref()
        .map(|d| Duration::from_secs(u64::try_from(d.seconds).unwrap_or(0)))
        .unwrap_or(DEFAULT_SESSION_TTL);
    let mut methods: Vec<AuthMethod> = s
        .auth_methods
        .iter()
        .filter_map(|m| method_from_proto(*m))
        .collect();
    methods.sort();
    methods.dedup();
    StrategyFile {
        name: s.name.clone(),
        provider: provider.to_owned(),
        credential_claims: Some(s.credential_claims.clone()),
        scopes: s.scopes.clone(),
        audience: s.audience.clone(),
        auth_methods: Some(methods),
        session_cookie_name: Some(s.session_cookie_name.clone()),
        session_ttl: Some(format_ttl(ttl)),
        auto_approve: s.auto_approve,
    }
}

/// A strategy of the file (checked and filled with defaults) as the API's message.
pub fn strategy_to_proto(s: &StrategyFile, ttl: Duration) -> pb::AuthStrategy {
    pb::AuthStrategy {
        name: s.name.clone(),
        credential_claims: s.credential_claims.clone().unwrap_or_default(),
        scopes: s.scopes.clone(),
        audience: s.audience.clone(),
        auth_methods: s
            .auth_methods
            .as_deref()
            .unwrap_or(DEFAULT_AUTH_METHODS)
            .iter()
            .map(|m| method_to_proto(*m))
            .collect(),
        session_cookie_name: s.session_cookie_name.clone().unwrap_or_default(),
        session_ttl: Some(prost_types::Duration {
            seconds: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
            nanos: 0,
        }),
        auto_approve: s.auto_approve,
        ..pb::AuthStrategy::default()
    }
}

pub fn product_to_file(p: &pb::ApiProduct, strategy: &str) -> ProductFile {
    ProductFile {
        name: p.name.clone(),
        description: p.description.clone(),
        strategy: strategy.to_owned(),
        audience: p.audience.clone(),
    }
}

pub fn product_to_proto(p: &ProductFile) -> pb::ApiProduct {
    pb::ApiProduct {
        name: p.name.clone(),
        description: p.description.clone(),
        audience: p.audience.clone(),
        ..pb::ApiProduct::default()
    }
}
