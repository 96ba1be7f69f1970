//! What can go wrong signing in or using a sign-in, each saying what to do. Tokens never
//! appear in these messages; an identity provider's own error code and description do.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No identity provider named.
    #[error(
        "no identity provider to sign in at: pass --issuer or set DCR_IDENTITY_ISSUER \
         (for `dcrctl dev`, `source .dcr/env` sets it)"
    )]
    NoIssuer,
    /// A URL dcrctl will not send a person's tokens to.
    #[error("{what} {url:?} is not https (plain http only on 127.0.0.1, [::1] or localhost)")]
    Insecure { what: &'static str, url: String },
    /// The ID token does not belong to this sign-in.
    #[error("the sign-in did not complete: the ID token {0}; run `dcrctl login` again")]
    IdToken(&'static str),
    /// The provider cannot be reached, or its answer is not what the standards say.
    #[error("the identity provider at {url}: {problem}; check --issuer (DCR_IDENTITY_ISSUER)")]
    Provider { url: String, problem: String },
    /// The token endpoint said no (RFC 6749 section 5.2).
    #[error("the identity provider refused the {step}: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Refused {
        step: &'static str,
        error: String,
        description: Option<String>,
    },
    /// The sign-in in the browser ended without a usable code.
    #[error("the sign-in did not complete: {0}; run `dcrctl login` again")]
    Redirect(String),
    /// Nobody came back through the browser in time.
    #[error(
        "no sign-in arrived within {} seconds: run `dcrctl login` again and open the address it prints (--timeout sets how long it waits)",
        .0.as_secs()
    )]
    TimedOut(Duration),
    /// The tokens file cannot be read or written.
    #[error("{0}")]
    Store(String),
    /// A registry call wanted the person's token, and there is none that works.
    #[error("{0}")]
    SignInNeeded(String),
}

impl LoginError {
    pub fn provider(url: &str, problem: impl Into<String>) -> Self {
        Self::Provider {
            url: url.to_owned(),
            problem: problem.into(),
        }
    }
}

impl From<dcr_common::oidc::OidcError> for LoginError {
    fn from(e: dcr_common::oidc::OidcError) -> Self {
        use dcr_common::oidc::OidcError;
        match e {
            OidcError::Insecure { what, url, .. } => Self::Insecure { what, url },
            OidcError::Provider { url, problem } => Self::Provider { url, problem },
            OidcError::Refused {
                step,
                error,
                description,
            } => Self::Refused {
                step,
                error,
                description,
            },
            OidcError::IdToken(what) => Self::IdToken(what),
        }
    }
}
