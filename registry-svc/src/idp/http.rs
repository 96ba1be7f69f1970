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

/// A quoted parameter of a `WWW-Authenticate` challenge (RFC 9110 section 11.6.1), e.g.
/// `scope` of `Bearer error="insufficient_scope", scope="okta.apps.manage"`.
fn challenge_param(answer: &Answer, name: &str) -> Option<String> {
    let header = answer.headers.get("www-authenticate")?.to_str().ok()?;
    let key = format!("{name}=\"");
    let mut from = 0;
    while let Some(at) = header[from..].find(&key).map(|i| i + from) {
        let starts_a_param = header[..at]
            .chars()
            .next_back()
            .is_none_or(|c| c == ' ' || c == ',');
        let value_at = at + key.len();
        if starts_a_param {
            let end = header[value_at..].find('"')?;
            return Some(header[value_at..value_at + end].to_owned());
        }
        from = value_at;
    }
    None
}

/// The scope a 403 names as missing (RFC 6750 section 3.1 `insufficient_scope`, as
/// Okta answers it: https://support.okta.com/help/s/article/insufficient-scope-error-when-making-a-request-to-an-oauth-or-management-endpoint).
fn missing_scope(answer: &Answer) -> Option<String> {
    (challenge_param(answer, "error").as_deref() == Some("insufficient_scope"))
        .then(|| challenge_param(answer, "scope").unwrap_or_default())
}

/// Maps a non-success answer to an error. 401/403 are about dcr's own credentials.
pub(super) fn error_for(answer: &Answer, what: &str) -> IdpError {
    let detail = describe_error(answer);
    if answer.status == StatusCode::FORBIDDEN
        && let Some(scope) = missing_scope(answer)
    {
        return IdpError::Unauthorized(format!(
            "{what}: the access token lacks the scope {} (insufficient_scope; {detail})",
            if scope.is_empty() { "it needs" } else { &scope }
        ));
    }
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

    /// Okta's 403 for a token without the endpoint's scope names it in the challenge.
    #[test]
    fn a_missing_scope_is_named() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "www-authenticate",
            reqwest::header::HeaderValue::from_static(
                r#"Bearer authorization_uri="https://o/oauth2/v1/authorize", realm="https://o", scope="okta.apps.manage", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.", resource="/api/v1/apps/0oa1/credentials/secrets""#,
            ),
        );
        let answer = Answer {
            status: StatusCode::FORBIDDEN,
            headers,
            body: br#"{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action","errorCauses":[]}"#.to_vec(),
        };
        let error = error_for(&answer, "Okta add client secret");
        assert!(matches!(error, IdpError::Unauthorized(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the identity provider refused dcr's credentials (Okta add client secret: the \
             access token lacks the scope okta.apps.manage (insufficient_scope; E0000006: \
             You do not have permission to perform the requested action)); check the \
             provider's configuration"
        );
    }
}
