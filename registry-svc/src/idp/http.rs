//! Sending one IdP request and classifying what came back. Bodies are never logged:
//! they can carry secrets.

use reqwest::{RequestBuilder, StatusCode};

use super::IdpError;

pub(super) struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

/// Sends and reads the answer. Transport errors are classified: a connect failure means
/// nothing was sent; anything after that is ambiguous.
pub(super) async fn send(request: RequestBuilder, what: &str) -> Result<Answer, IdpError> {
    let response = request.send().await.map_err(|e| {
        if e.is_connect() {
            IdpError::Unreachable(format!("{what}: {}", connect_cause(&e)))
        } else if e.is_timeout() {
            IdpError::Ambiguous(format!("{what}: timed out"))
        } else {
            IdpError::Ambiguous(format!("{what}: connection failed"))
        }
    })?;
    let status = response.status();
    let headers = response.headers().clone();
    // Larger answers are not read (and count as unclear): see common::capped.
    let body = dcr_common::capped::read(response, dcr_common::capped::MAX_IDP_RESPONSE_BYTES)
        .await
        .map_err(|error| match error {
            dcr_common::capped::CappedReadError::TooLarge { .. } => {
                IdpError::Ambiguous(format!("{what}: answer too large"))
            }
            dcr_common::capped::CappedReadError::Transport(_) => {
                IdpError::Ambiguous(format!("{what}: answer cut off"))
            }
        })?;
    tracing::debug!(%status, what, "idp answered");
    Ok(Answer {
        status,
        headers,
        body: body.to_vec(),
    })
}

/// Why a connection failed, for people: the innermost cause ("connection refused",
/// "failed to lookup address information: ...", a TLS problem), which names what to fix;
/// reqwest's own message ("error sending request") does not.
fn connect_cause(error: &reqwest::Error) -> String {
    let Some(mut inner) = std::error::Error::source(error) else {
        return "cannot connect".into();
    };
    while let Some(source) = inner.source() {
        inner = source;
    }
    let text = inner.to_string();
    // "Connection refused (os error 111)": the errno adds nothing for a reader.
    let text = match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => &text[..at],
        _ => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("cannot connect: {}{}", first.to_lowercase(), chars.as_str()),
        None => "cannot connect".into(),
    }
}

/// "code: message" from an error body: OAuth (RFC 6749 section 5.2, RFC 7591 section
/// 3.2.2 `error`, `error_description`), Auth0 (`errorCode`, `message`), Okta
/// (`errorCode`, `errorSummary`, `errorCauses`), Microsoft Graph (`error: {code,
/// message}`); the status alone when the body is none of these.
pub(super) fn describe_error(answer: &Answer) -> String {
    let body: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
    let text = |value: &serde_json::Value| field_text(value);
    let (code, message) = if let Some(graph) = body.get("error").filter(|e| e.is_object()) {
        // Graph names the precise cause of a general code in `details`
        // (`Request_BadRequest` for `NoBackingApplicationObject`).
        let code = match text(&graph["details"][0]["code"]) {
            detail if detail.is_empty() => text(&graph["code"]),
            detail => format!("{} ({detail})", text(&graph["code"])),
        };
        (code, text(&graph["message"]))
    } else if body.get("errorSummary").is_some() {
        let mut summary = text(&body["errorSummary"]);
        if let Some(causes) = body["errorCauses"].as_array() {
            for cause in causes.iter().take(3) {
                summary.push_str(&format!("; {}", text(&cause["errorSummary"])));
            }
        }
        (text(&body["errorCode"]), summary)
    } else if body.get("message").is_some() && body.get("error_description").is_none() {
        let code = text(&body["errorCode"]);
        let code = if code.is_empty() {
            text(&body["error"])
        } else {
            code
        };
        (code, text(&body["message"]))
    } else {
        (text(&body["error"]), text(&body["error_description"]))
    };
    match (code.is_empty(), message.is_empty()) {
        (true, true) => format!("HTTP {}", answer.status.as_u16()),
        (true, false) => format!("HTTP {}: {message}", answer.status.as_u16()),
        (false, true) => code,
        (false, false) => format!("{code}: {message}"),
    }
}

fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.chars().take(300).collect(),
        serde_json::Value::Null => String::new(),
        // Some bridges send a list of validator messages.
        other => other.to_string().chars().take(300).collect(),
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
        StatusCode::CONFLICT => IdpError::Conflict(format!("{what}: {detail}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn described(status: u16, body: &str) -> String {
        describe_error(&Answer {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            headers: reqwest::header::HeaderMap::new(),
            body: body.as_bytes().to_vec(),
        })
    }

    #[test]
    fn each_vendors_error_body_is_read() {
        assert_eq!(
            described(
                400,
                r#"{"error":"invalid_client_metadata","error_description":"bad uri"}"#
            ),
            "invalid_client_metadata: bad uri"
        );
        assert_eq!(
            described(
                403,
                r#"{"statusCode":403,"error":"Forbidden","message":"Insufficient scope, expected any of: create:clients","errorCode":"insufficient_scope"}"#
            ),
            "insufficient_scope: Insufficient scope, expected any of: create:clients"
        );
        assert_eq!(
            described(
                401,
                r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided","errorLink":"E0000011","errorId":"x","errorCauses":[]}"#
            ),
            "E0000011: Invalid token provided"
        );
        assert_eq!(
            described(
                403,
                r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#
            ),
            "Authorization_RequestDenied: Insufficient privileges to complete the operation."
        );
        assert_eq!(
            described(
                400,
                r#"{"error":{"code":"Request_BadRequest","message":"The appId 'a' of the service principal does not reference a valid application object.","details":[{"code":"NoBackingApplicationObject","target":"appId"}]}}"#
            ),
            "Request_BadRequest (NoBackingApplicationObject): The appId 'a' of the service principal does not reference a valid application object."
        );
        assert_eq!(described(502, "<html>bad gateway</html>"), "HTTP 502");
    }
}
