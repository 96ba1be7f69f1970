//! What can go wrong talking to an identity provider. Tokens never appear in these
//! messages; the provider's own error code and description do.

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A URL a person's tokens will not be sent to.
    #[error("{what} {url:?} {reason}")]
    Insecure {
        what: &'static str,
        url: String,
        reason: String,
    },
    /// The provider cannot be reached, or its answer is not what the standards say.
    #[error("the identity provider at {url}: {problem}")]
    Provider { url: String, problem: String },
    /// The token endpoint said no (RFC 6749 section 5.2).
    #[error("the identity provider refused the {step}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        step: &'static str,
        error: String,
        description: Option<String>,
    },
    /// The ID token does not belong to this sign-in (OpenID Connect Core 3.1.3.7).
    #[error("the ID token {0}")]
    IdToken(&'static str),
}

impl OidcError {
    pub fn provider(url: &str, problem: impl Into<String>) -> Self {
        Self::Provider {
            url: url.to_owned(),
            problem: problem.into(),
        }
    }
}
