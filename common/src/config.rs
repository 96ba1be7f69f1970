//! Typed configuration from the environment. Every reader names its variable in the
//! error, so a bad deployment fails at start with a message an operator can act on.

use std::net::SocketAddr;

use base64::Engine as _;
use secrecy::SecretString;

/// A configuration variable that is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl ConfigError {
    pub fn new(var: &'static str, reason: impl Into<String>) -> Self {
        Self {
            var,
            reason: reason.into(),
        }
    }
}

/// The variable's value, or None when it is unset or empty.
pub fn optional(var: &'static str) -> Option<String> {
    std::env::var(var).ok().filter(|v| !v.is_empty())
}

pub fn required(var: &'static str) -> Result<String, ConfigError> {
    optional(var).ok_or_else(|| ConfigError::new(var, "is required but not set"))
}

pub fn listen_addr(var: &'static str, default: &str) -> Result<SocketAddr, ConfigError> {
    let raw = optional(var).unwrap_or_else(|| default.to_owned());
    raw.parse()
        .map_err(|e| ConfigError::new(var, format!("{raw:?} is not a socket address ({e})")))
}

pub fn flag(var: &'static str, default: bool) -> Result<bool, ConfigError> {
    match optional(var).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(ConfigError::new(
            var,
            format!("{other:?} is not true or false"),
        )),
    }
}

/// A shared bearer token: at least 16 characters, so a typo cannot produce a guessable one.
pub fn token(var: &'static str) -> Result<SecretString, ConfigError> {
    let value = required(var)?;
    check_token(var, value)
}

pub fn check_token(var: &'static str, value: String) -> Result<SecretString, ConfigError> {
    if value.chars().count() < 16 {
        return Err(ConfigError::new(var, "must be at least 16 characters"));
    }
    Ok(SecretString::from(value))
}

/// A 32-byte key given as standard or URL-safe base64.
pub fn key32(var: &'static str, value: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(value.trim()))
        .map_err(|_| ConfigError::new(var, "is not valid base64"))?;
    <[u8; 32]>::try_from(bytes.as_slice())
        .map_err(|_| ConfigError::new(var, format!("must decode to 32 bytes, got {}", bytes.len())))
}

/// DCR_KEYS_MAX_STALE_SECONDS's default, shared by token-svc and authz-svc: how long an
/// issuer's keys are used past their max-age while the issuer cannot be reached (6 h).
pub const KEYS_MAX_STALE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

pub fn seconds(var: &'static str, default: u64) -> Result<std::time::Duration, ConfigError> {
    match optional(var) {
        None => Ok(std::time::Duration::from_secs(default)),
        Some(raw) => raw
            .parse::<u64>()
            .map(std::time::Duration::from_secs)
            .map_err(|_| {
                ConfigError::new(var, format!("{raw:?} is not a whole number of seconds"))
            }),
    }
}
