//! RFC 7662 token introspection at a provider's IdP, for authz-svc's opaque tokens.
//! Authenticated (client_secret_basic) as the provider's introspection client, which the
//! registry hands over on the internal channel. The token travels only in the POST body,
//! never in logs. Answers are not cached here: authz-svc caches an active answer until
//! its `exp`; the credentials are cached per provider generation.

use std::time::Duration;

use dcr_common::directory::Directory;
use dcr_proto::registry::v1::CredentialPurpose;
use dcr_proto::token::v1 as pb;
use moka::future::Cache;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value};

use crate::discovery::{Discovery, read_body, transport};
use crate::errors::TokenError;
use dcr_common::oauth::form_encode_credential;

/// Longer tokens are refused before any call (opaque tokens are short; JWTs of a few KiB).
pub const MAX_TOKEN: usize = 16 * 1024;
const CREDENTIALS_TTL: Duration = Duration::from_secs(300);

#[derive(Clone)]
struct Client {
    issuer: String,
    client_id: String,
    secret: SecretString,
}

#[derive(Clone)]
pub struct Introspector {
    directory: Directory,
    discovery: Discovery,
    http: reqwest::Client,
    clients: Cache<(String, u64), Client>,
}

impl std::fmt::Debug for Introspector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Introspector").finish_non_exhaustive()
    }
}

impl Introspector {
    pub fn new(directory: Directory, discovery: Discovery, http: reqwest::Client) -> Self {
        Self {
            directory,
            discovery,
            http,
            clients: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CREDENTIALS_TTL)
                .build(),
        }
    }

    #[tracing::instrument(skip(self, token))]
    pub async fn introspect(
        &self,
        provider_id: &str,
        token: &str,
    ) -> Result<pb::IntrospectTokenResponse, TokenError> {
        if provider_id.is_empty() || token.is_empty() {
            return Err(TokenError::InvalidRequest(
                "provider_id and token are required".into(),
            ));
        }
        if token.len() > MAX_TOKEN {
            return Err(TokenError::InvalidRequest(format!(
                "the token is longer than {MAX_TOKEN} bytes"
            )));
        }
        let client = self.client(provider_id).await?;
        let metadata = self.discovery.metadata(&client.issuer).await?;
        let endpoint = metadata.introspection_endpoint.as_ref().ok_or_else(|| {
            TokenError::FailedPrecondition(format!(
                "{} advertises no introspection_endpoint",
                client.issuer
            ))
        })?;
        let response = self
            .http
            .post(endpoint.clone())
            .header("accept", "application/json")
            .basic_auth(
                form_encode_credential(&client.client_id),
                Some(form_encode_credential(client.secret.expose_secret())),
            )
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        let body = read_body(response, dcr_common::capped::MAX_IDP_RESPONSE_BYTES).await?;
        tracing::debug!(%status, %endpoint, "introspection endpoint answered");
        match status.as_u16() {
            200 => {}
            401 | 403 => {
                return Err(TokenError::FailedPrecondition(format!(
                    "the identity provider refused the introspection client {} (HTTP {}); \
                     check the provider's introspection credentials",
                    client.client_id,
                    status.as_u16()
                )));
            }
            code => {
                return Err(TokenError::Unavailable(format!(
                    "the introspection endpoint answered HTTP {code}"
                )));
            }
        }
        let claims: Map<String, Value> = serde_json::from_slice(&body).map_err(|_| {
            TokenError::Unavailable("the introspection endpoint sent unreadable JSON".into())
        })?;
        Ok(response_from(claims))
    }

    /// The provider's introspection client, cached until the provider changes.
    async fn client(&self, provider_id: &str) -> Result<Client, TokenError> {
        let generation = self
            .directory
            .generation(&format!("provider:{provider_id}"));
        let key = (provider_id.to_owned(), generation);
        if let Some(client) = self.clients.get(&key).await {
            return Ok(client);
        }
        let credentials = self
            .directory
            .provider_credentials(provider_id, CredentialPurpose::Introspection)
            .await?;
        let client = Client {
            issuer: credentials.issuer,
            client_id: credentials.client_id,
            secret: SecretString::from(credentials.client_secret),
        };
        self.clients.insert(key, client.clone()).await;
        Ok(client)
    }
}

/// RFC 7662 section 2.2: only `active` is required; an inactive answer says nothing more.
fn response_from(claims: Map<String, Value>) -> pb::IntrospectTokenResponse {
    if claims.get("active") != Some(&Value::Bool(true)) {
        return pb::IntrospectTokenResponse::default();
    }
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let number = |name: &str| claims.get(name).and_then(Value::as_i64).unwrap_or(0);
    let aud = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    pb::IntrospectTokenResponse {
        active: true,
        client_id: text("client_id"),
        scope: text("scope"),
        exp: number("exp"),
        iat: number("iat"),
        aud,
        iss: text("iss"),
        sub: text("sub"),
        claims_json: Value::Object(claims).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn an_inactive_answer_carries_nothing_else() {
        let r = response_from(object(json!({"active": false, "client_id": "x"})));
        assert_eq!(r, pb::IntrospectTokenResponse::default());
        // "active": "true" (a string) is not true.
        let r = response_from(object(json!({"active": "true", "client_id": "x"})));
        assert!(!r.active);
    }

    #[test]
    fn an_active_answer_keeps_the_rfc_7662_members_and_the_rest() {
        let r = response_from(object(json!({
            "active": true, "client_id": "c1", "scope": "read write", "exp": 2000,
            "iat": 1000, "aud": "https://api", "iss": "https://idp", "sub": "c1", "cid": "c1"
        })));
        assert!(r.active);
        assert_eq!(r.client_id, "c1");
        assert_eq!(r.scope, "read write");
        assert_eq!((r.exp, r.iat), (2000, 1000));
        assert_eq!(r.aud, vec!["https://api"]);
        let claims: Value = serde_json::from_str(&r.claims_json).unwrap_or_default();
        assert_eq!(claims["cid"], "c1");
        let list = response_from(object(json!({"active": true, "aud": ["a", "b"]})));
        assert_eq!(list.aud, vec!["a", "b"]);
    }
}
