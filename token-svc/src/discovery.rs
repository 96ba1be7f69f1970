//! Issuer metadata (OpenID discovery, else RFC 8414), cached for an hour. Every
//! endpoint taken from it is checked against the URL policy before dcr calls it.

use dcr_common::capped::MAX_IDP_RESPONSE_BYTES;
use std::sync::Arc;
use std::time::Duration;

use dcr_common::url_policy::{UrlPolicy, idp_url};
use moka::future::Cache;
use serde::Deserialize;
use url::Url;

use crate::errors::TokenError;

const TTL: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone, Deserialize)]
struct Document {
    issuer: String,
    token_endpoint: Option<String>,
    jwks_uri: Option<String>,
    introspection_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct IssuerMetadata {
    pub token_endpoint: Option<Url>,
    pub jwks_uri: Option<Url>,
    /// RFC 7662 (advertised per RFC 8414).
    pub introspection_endpoint: Option<Url>,
    /// True when the IdP supports only `client_secret_post` of the two secret methods.
    pub prefers_post: bool,
}

#[derive(Clone, Debug)]
pub struct Discovery {
    http: reqwest::Client,
    policy: UrlPolicy,
    cache: Cache<String, Arc<IssuerMetadata>>,
}

impl Discovery {
    pub fn new(http: reqwest::Client, policy: UrlPolicy) -> Self {
        Self {
            http,
            policy,
            cache: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(TTL)
                .build(),
        }
    }

    pub async fn metadata(&self, issuer: &str) -> Result<Arc<IssuerMetadata>, TokenError> {
        let this = self.clone();
        let key = issuer.to_owned();
        self.cache
            .try_get_with(issuer.to_owned(), async move {
                this.fetch(&key).await.map(Arc::new)
            })
            .await
            .map_err(|e: Arc<TokenError>| match &*e {
                TokenError::Timeout => TokenError::Timeout,
                other => TokenError::Unavailable(other.to_string()),
            })
    }

    async fn fetch(&self, issuer: &str) -> Result<IssuerMetadata, TokenError> {
        idp_url(issuer, self.policy)
            .map_err(|e| TokenError::Unavailable(format!("issuer {issuer:?} {e}")))?;
        let base = issuer.trim_end_matches('/');
        for suffix in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let response = self
                .http
                .get(format!("{base}{suffix}"))
                .send()
                .await
                .map_err(transport)?;
            if !response.status().is_success() {
                continue;
            }
            let body = read_body(response, MAX_IDP_RESPONSE_BYTES).await?;
            let document: Document = serde_json::from_slice(&body).map_err(|_| {
                TokenError::Unavailable(format!("{issuer}: unreadable discovery document"))
            })?;
            if document.issuer.trim_end_matches('/') != base {
                return Err(TokenError::Unavailable(format!(
                    "{issuer}: discovery names another issuer"
                )));
            }
            let endpoint = |value: Option<String>| -> Result<Option<Url>, TokenError> {
                value
                    .map(|v| {
                        idp_url(&v, self.policy)
                            .map_err(|e| TokenError::Unavailable(format!("{issuer}: endpoint {e}")))
                    })
                    .transpose()
            };
            let methods = &document.token_endpoint_auth_methods_supported;
            let prefers_post = !methods.is_empty()
                && !methods.iter().any(|m| m == "client_secret_basic")
                && methods.iter().any(|m| m == "client_secret_post");
            return Ok(IssuerMetadata {
                token_endpoint: endpoint(document.token_endpoint)?,
                jwks_uri: endpoint(document.jwks_uri)?,
                introspection_endpoint: endpoint(document.introspection_endpoint)?,
                prefers_post,
            });
        }
        Err(TokenError::Unavailable(format!(
            "{issuer} publishes no discovery document"
        )))
    }
}

/// Classifies a transport failure of an IdP call.
/// An IdP answer's body, read with dcr's ceiling (common::capped).
pub async fn read_body(
    response: reqwest::Response,
    limit: usize,
) -> Result<bytes::Bytes, TokenError> {
    use dcr_common::capped::{CappedReadError, read};
    read(response, limit).await.map_err(|error| match error {
        CappedReadError::TooLarge { limit } => TokenError::Unavailable(format!(
            "the identity provider's answer is larger than {limit} bytes"
        )),
        CappedReadError::Transport(error) => transport(error),
    })
}

pub fn transport(error: reqwest::Error) -> TokenError {
    if error.is_timeout() {
        TokenError::Timeout
    } else {
        TokenError::Unavailable("the identity provider is unreachable".into())
    }
}
