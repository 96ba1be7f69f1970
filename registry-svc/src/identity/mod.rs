//! People sign in through the organisation's identity provider: registry-svc accepts its
//! JWT access tokens next to the static machine tokens. A token is verified by the same
//! rules authz-svc applies to gateways' tokens (`dcr_common::jwt`), must name
//! DCR_IDENTITY_AUDIENCE, and its groups claim decides the person's roles; the developer
//! id is a verified claim, never a header.

pub mod config;
mod keys;

use chrono::{DateTime, Utc};
use dcr_common::jwt::{self, JwtError, string_or_list};
use dcr_common::person::Person;
use serde_json::{Map, Value};

pub use config::IdentityConfig;
use keys::IdentityKeys;
pub use keys::KeyError;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: i64 = 60;
/// Longest developer id (the portal header's limit too).
const MAX_DEVELOPER_ID: usize = 128;
/// Longest name or email kept for the audit log.
const MAX_SHOWN: usize = 256;

/// Why a person's token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The token is not good: UNAUTHENTICATED.
    #[error("{0}")]
    Invalid(String),
    /// The identity provider's keys cannot be had: UNAVAILABLE, and no reason to allow.
    #[error("{0}")]
    Unavailable(String),
}

#[derive(Debug)]
pub struct Identity {
    config: IdentityConfig,
    keys: IdentityKeys,
}

impl Identity {
    pub fn new(config: IdentityConfig) -> Self {
        let keys = IdentityKeys::new(config.issuer.clone(), config.url_policy);
        Self { config, keys }
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// The person a token proves, with their roles.
    pub async fn person(&self, token: &str, now: DateTime<Utc>) -> Result<Person, Refused> {
        let invalid = |e: JwtError| Refused::Invalid(e.as_str().to_owned());
        let header = jwt::access_token_header(token).map_err(invalid)?;
        let key = self
            .keys
            .key(header.kid.as_deref())
            .await
            .map_err(|e| match e {
                KeyError::UnknownKey => Refused::Invalid(e.to_string()),
                KeyError::Unavailable(_) => Refused::Unavailable(e.to_string()),
            })?;
        let (claims, _expires) = jwt::verify_with_key(
            token,
            &header,
            &key,
            &self.config.issuer,
            now.timestamp(),
            LEEWAY_SECONDS,
        )
        .map_err(invalid)?;
        self.person_from(&claims)
    }

    fn person_from(&self, claims: &Map<String, Value>) -> Result<Person, Refused> {
        let audiences = string_or_list(claims.get("aud"), '\0');
        if !audiences.contains(&self.config.audience) {
            return Err(Refused::Invalid(format!(
                "the token is not meant for dcr (its audience is not {})",
                self.config.audience
            )));
        }
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let subject = text("sub")
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Refused::Invalid("the token names no subject".into()))?;
        let claim = &self.config.developer_claim;
        let developer_id = text(claim)
            .map(str::trim)
            .filter(|d| !d.is_empty() && d.len() <= MAX_DEVELOPER_ID)
            .ok_or_else(|| {
                Refused::Invalid(format!(
                    "the token's {claim} claim (the developer id) is missing or over {MAX_DEVELOPER_ID} characters"
                ))
            })?;
        let groups = string_or_list(claims.get(&self.config.roles_claim), ' ');
        let shown = |name: &str| {
            text(name)
                .filter(|v| !v.is_empty())
                .map(|v| v.chars().take(MAX_SHOWN).collect())
        };
        Ok(Person {
            issuer: self.config.issuer.clone(),
            subject: subject.to_owned(),
            developer_id: developer_id.to_owned(),
            name: shown("name"),
            email: shown("email"),
            roles: self.config.roles(&groups),
        })
    }
}

/// Whether a bearer value is shaped like a JWT (three base64url parts): only such
/// values are worth verifying as a person's token.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
