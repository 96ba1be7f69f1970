//! OpenID Connect discovery (or RFC 8414 metadata) of an issuer, cached for a while.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use dcr_common::text::echo;
use serde::Deserialize;
use url::Url;

use super::IdpError;
use super::http::{error_for, json, send};
use crate::domain::validate::{UrlPolicy, idp_url};

const TTL: Duration = Duration::from_secs(300);
/// What discovery's messages are prefixed with (see `super::http`).
const WHAT: &str = "discovery";

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub registration_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
}

/// Why an issuer's discovery failed a [`Discovery::probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeFailure {
    /// Nothing came back: connection refused, DNS, TLS, or no answer in time.
    NoAnswer(String),
    /// An answer, but not a usable discovery document (404, wrong issuer, 5xx...).
    BadAnswer(String),
}

#[derive(Debug)]
pub struct Discovery {
    http: reqwest::Client,
    policy: UrlPolicy,
    cache: Mutex<HashMap<String, (Instant, Metadata)>>,
}

impl Discovery {
    pub fn new(http: reqwest::Client, policy: UrlPolicy) -> Self {
        Self {
            http,
            policy,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub async fn metadata(&self, issuer: &str) -> Result<Metadata, IdpError> {
        if let Ok(cache) = self.cache.lock()
            && let Some((at, metadata)) = cache.get(issuer)
            && at.elapsed() < TTL
        {
            return Ok(metadata.clone());
        }
        let base = issuer.trim_end_matches('/');
        let mut last = IdpError::NotFound;
        for suffix in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let answer = send(self.http.get(format!("{base}{suffix}")), WHAT).await?;
            if !answer.status.is_success() {
                last = error_for(&answer, WHAT);
                continue;
            }
            let metadata: Metadata = json(&answer, WHAT)?;
            if metadata.issuer.trim_end_matches('/') != base {
                return Err(IdpError::Rejected(format!(
                    "{WHAT}: the document names issuer \"{}\", not \"{}\"",
                    echo(&metadata.issuer),
                    echo(issuer)
                )));
            }
            if let Ok(mut cache) = self.cache.lock() {
                cache.insert(issuer.to_owned(), (Instant::now(), metadata.clone()));
            }
            return Ok(metadata);
        }
        Err(match last {
            IdpError::NotFound => {
                IdpError::Rejected(format!("{issuer} publishes no discovery document"))
            }
            other => other,
        })
    }

    /// Whether the issuer's discovery answers within `within` (shorter than the IdP
    /// timeout: an admin call waits for it), so saving a provider can warn about an issuer
    /// that is down or mistyped. The issuer must already have passed the URL policy.
    pub async fn probe(&self, issuer: &str, within: Duration) -> Result<(), ProbeFailure> {
        match tokio::time::timeout(within, self.metadata(issuer)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(IdpError::Unreachable(cause))) => Err(ProbeFailure::NoAnswer(
                cause
                    .strip_prefix(&format!("{WHAT}: "))
                    .unwrap_or(&cause)
                    .to_owned(),
            )),
            Ok(Err(other)) => Err(ProbeFailure::BadAnswer(other.to_string())),
            Err(_) => Err(ProbeFailure::NoAnswer(format!(
                "no answer within {} s",
                within.as_secs()
            ))),
        }
    }

    /// The issuer's registration endpoint, checked against the URL policy.
    pub async fn registration_endpoint(&self, issuer: &str) -> Result<Url, IdpError> {
        let metadata = self.metadata(issuer).await?;
        let endpoint = metadata.registration_endpoint.ok_or_else(|| {
            IdpError::Unsupported(format!(
                "{issuer} advertises no registration_endpoint; set one on the provider"
            ))
        })?;
        idp_url(&endpoint, self.policy)
            .map_err(|e| IdpError::Rejected(format!("discovered registration_endpoint {e}")))
    }
}
