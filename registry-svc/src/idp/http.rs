//! Sending one IdP request and classifying what came back. Bodies are never logged:
//! they can carry secrets.

use reqwest::{RequestBuilder, StatusCode};
use serde::Deserialize;

use super::IdpError;

/// Answers larger than this are not read (and count as unclear).
const MAX_BODY: usize = 1 << 20;

pub(super) struct Answer {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// Sends and reads the answer. Transport errors are classified: a connect failure means
/// nothing was sent; anything after that is ambiguous.
pub(super) async fn send(request: RequestBuilder, what: &str) -> Result<Answer, IdpError> {
    let response = request.send().await.map_err(|e| {
        if e.is_connect() {
            IdpError::Unreachable(format!("{what}: cannot connect"))
        } else if e.is_timeout() {
            IdpError::Ambiguous(format!("{what}: timed out"))
        } else {
            IdpError::Ambiguous(format!("{what}: connection failed"))
        }
    })?;
    let status = response.status();
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(IdpError::Ambiguous(format!("{what}: answer too large")));
    }
    let body = response
        .bytes()
        .await
        .map_err(|_| IdpError::Ambiguous(format!("{what}: answer cut off")))?;
    if body.len() > MAX_BODY {
        return Err(IdpError::Ambiguous(format!("{what}: answer too large")));
    }
    tracing::debug!(%status, what, "idp answered");
    Ok(Answer {
        status,
        body: body.to_vec(),
    })
}

/// The OAuth error fields of an error body (RFC 6749 section 5.2, RFC 7591 section 3.2.2).
#[derive(Debug, Default, Deserialize)]
struct OAuthError {
    #[serde(default)]
    error: serde_json::Value,
    #[serde(default)]
    error_description: serde_json::Value,
}

fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.chars().take(300).collect(),
        serde_json::Value::Null => String::new(),
        // Some bridges send a list of validator messages.
        other => other.to_string().chars().take(300).collect(),
    }
}

/// "error: description" from an OAuth-style error body, or the status when there is none.
pub(super) fn describe_error(answer: &Answer) -> String {
    let parsed: OAuthError = serde_json::from_slice(&answer.body).unwrap_or_default();
    let error = field_text(&parsed.error);
    let description = field_text(&parsed.error_description);
    match (error.is_empty(), description.is_empty()) {
        (true, _) => format!("HTTP {}", answer.status.as_u16()),
        (false, true) => error,
        (false, false) => format!("{error}: {description}"),
    }
}

/// Maps a non-success answer to an error. 401/403 are about dcr's own credentials.
pub(super) fn error_for(answer: &Answer, what: &str) -> IdpError {
    let detail = describe_error(answer);
    match answer.status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
            IdpError::Unauthorized(format!("{what}: {detail}"))
        }
        StatusCode::NOT_FOUND => IdpError::NotFound,
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            IdpError::Ambiguous(format!("{what}: {detail}"))
        }
        _ => IdpError::Rejected(format!("{what}: {detail}")),
    }
}

pub(super) fn json<T: serde::de::DeserializeOwned>(
    answer: &Answer,
    what: &str,
) -> Result<T, IdpError> {
    serde_json::from_slice(&answer.body)
        .map_err(|e| IdpError::Ambiguous(format!("{what}: unexpected answer ({e})")))
}
