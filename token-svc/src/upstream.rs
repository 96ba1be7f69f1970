//! One client_credentials call to an IdP's token endpoint.

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use url::Url;

use crate::discovery::{read_body, transport};
use crate::errors::TokenError;
use dcr_common::oauth::{ClientAuthMethod, form_encode_credential};

#[derive(Debug, Deserialize)]
struct Success {
    access_token: String,
    #[serde(default)]
    token_type: String,
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Failure {
    #[serde(default)]
    error: String,
}

/// A token the IdP issued.
#[derive(Clone)]
pub struct IssuedToken {
    pub access_token: SecretString,
    pub token_type: String,
    pub expires_in: Option<Duration>,
    pub scope: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

pub async fn client_credentials(
    http: &reqwest::Client,
    endpoint: &Url,
    client_id: &str,
    client_secret: &SecretString,
    auth_method: ClientAuthMethod,
    form: Vec<(&'static str, String)>,
) -> Result<IssuedToken, TokenError> {
    let mut form = form;
    let mut request = http
        .post(endpoint.clone())
        .header("accept", "application/json");
    if auth_method == ClientAuthMethod::ClientSecretPost {
        form.push(("client_id", client_id.to_owned()));
        form.push(("client_secret", client_secret.expose_secret().to_owned()));
    } else {
        request = request.basic_auth(
            form_encode_credential(client_id),
            Some(form_encode_credential(client_secret.expose_secret())),
        );
    }
    let started = std::time::Instant::now();
    let sent = request.form(&form).send().await;
    metrics::histogram!("dcr_idp_request_duration_seconds", "call" => "token")
        .record(started.elapsed().as_secs_f64());
    let outcome = match &sent {
        Ok(response) => format!("{}xx", response.status().as_u16() / 100),
        Err(_) => "unreachable".to_owned(),
    };
    metrics::counter!("dcr_idp_requests_total", "call" => "token", "outcome" => outcome)
        .increment(1);
    let response = sent.map_err(transport)?;
    let status = response.status();
    let body = read_body(response, dcr_common::capped::MAX_IDP_RESPONSE_BYTES).await?;
    tracing::debug!(%status, %endpoint, "token endpoint answered");
    if status.is_success() {
        let ok: Success = serde_json::from_slice(&body).map_err(|_| {
            TokenError::Unavailable(
                "the identity provider sent an unreadable token response".into(),
            )
        })?;
        let expires_in = ok.expires_in.and_then(|v| match v {
            serde_json::Value::Number(n) => n.as_u64(),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        });
        return Ok(IssuedToken {
            access_token: SecretString::from(ok.access_token),
            token_type: if ok.token_type.is_empty() {
                "Bearer".to_owned()
            } else {
                ok.token_type
            },
            expires_in: expires_in.map(Duration::from_secs),
            scope: ok.scope.unwrap_or_default(),
        });
    }
    if status.is_server_error() || status.as_u16() == 429 {
        return Err(TokenError::Unavailable(format!(
            "the identity provider answered HTTP {}",
            status.as_u16()
        )));
    }
    let failure: Failure = serde_json::from_slice(&body).unwrap_or_default();
    match (status.as_u16(), failure.error.as_str()) {
        // RFC 6749 5.2: 401 is client authentication failing, whatever the code says
        // (Auth0 answers a wrong secret with 401 `access_denied`).
        (401, _) => Err(TokenError::InvalidClient),
        // Auth0: 403 `access_denied` when the client has no grant for the audience.
        (403, "access_denied") => Err(TokenError::UnauthorizedClient),
        (_, "") => Err(TokenError::Unavailable(format!(
            "the identity provider answered HTTP {}",
            status.as_u16()
        ))),
        (_, code) => Err(TokenError::from_idp(code)),
    }
}
