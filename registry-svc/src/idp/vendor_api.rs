//! What the vendor adapters share: a management token by client credentials at the
//! issuer's discovered token endpoint, and one JSON call to a management API (URL policy,
//! retries, non-2xx answers as errors).

use dcr_common::oauth::ClientAuthMethod;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;

use super::http::Answer;
use super::management_token::{ClientAuth, ManagementGrant};
use super::retry::{Repeat, call};
use super::{IdpDeps, IdpError, IdpResult};

/// A management client: who asks the issuer for tokens.
pub(super) struct ManagementClient<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a SecretString,
    pub auth_method: ClientAuthMethod,
    /// Where the vendor sets the client's auth method (said after a 401); may be empty.
    pub refusal_hint: &'a str,
}

/// A token for `client` with the vendor's `params` (`audience`, `scope`), from the token
/// endpoint the issuer's discovery names. `single_use` tokens are never cached.
pub(super) async fn management_token(
    deps: &IdpDeps,
    client: &ManagementClient<'_>,
    params: &[(&str, &str)],
    single_use: bool,
) -> IdpResult<SecretString> {
    let metadata = deps.discovery.metadata(client.issuer).await?;
    let endpoint = metadata
        .token_endpoint
        .ok_or_else(|| IdpError::Rejected(format!("{} names no token_endpoint", client.issuer)))?;
    let endpoint = crate::domain::validate::idp_url(&endpoint, deps.policy)
        .map_err(|e| IdpError::Rejected(format!("token_endpoint {e}")))?;
    deps.tokens
        .token(&ManagementGrant {
            token_endpoint: &endpoint,
            client_id: client.client_id,
            client_noun: "management client",
            auth: ClientAuth::Secret {
                secret: client.client_secret,
                method: client.auth_method,
            },
            refusal_hint: client.refusal_hint,
            error_hints: &[],
            params,
            single_use,
        })
        .await
}

/// One management API call with `authorization` (e.g. `Bearer …`, `SSWS …`; never
/// logged), an optional JSON body, retried as `repeat` allows.
pub(super) async fn json_call(
    deps: &IdpDeps,
    method: reqwest::Method,
    url: &str,
    authorization: &SecretString,
    body: Option<&Value>,
    what: &str,
    repeat: Repeat,
) -> IdpResult<Answer> {
    crate::domain::validate::idp_url(url, deps.policy)
        .map_err(|e| IdpError::Rejected(format!("{what}: {url} {e}")))?;
    call(
        || {
            let request = deps
                .http
                .request(method.clone(), url)
                .header("authorization", authorization.expose_secret())
                .header("accept", "application/json");
            match body {
                Some(body) => request.json(body),
                None => request,
            }
        },
        what,
        repeat,
        deps.retry,
    )
    .await
}

/// The secret an IdP answer carries (`client_secret`, Graph's `secretText`): present and
/// not empty, else the outcome is unclear (the IdP may have issued one dcr did not get).
pub(super) fn issued_secret(secret: Option<String>, what: &str) -> IdpResult<SecretString> {
    secret
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
        .ok_or_else(|| IdpError::Ambiguous(format!("{what}: no secret in the answer")))
}

/// `Bearer {token}` as a header value.
pub(super) fn bearer(token: &SecretString) -> SecretString {
    SecretString::from(format!("Bearer {}", token.expose_secret()))
}

/// A delete (or revoke) whose target is already gone counts as done.
pub(super) fn gone_is_done(result: IdpResult<Answer>) -> IdpResult<()> {
    match result {
        Ok(_) | Err(IdpError::NotFound) => Ok(()),
        Err(error) => Err(error),
    }
}
