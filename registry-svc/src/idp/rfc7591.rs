//! Any RFC 7591 provider (Keycloak, Ory Hydra, node oidc-provider, ...), managed through
//! RFC 7592 with the registration access token.
//!
//! - create: `POST registration_endpoint` (Bearer initial access token when configured),
//!   a client-credentials client carrying `dcr_application_id` as dcr's marker (servers
//!   ignore metadata they don't know, RFC 7591 section 2), asking for
//!   `client_secret_basic`; the `token_endpoint_auth_method` the server answers with (it
//!   may register another) is recorded, so token-svc sends the secret that way.
//! - update: RFC 7592 `GET` the current metadata, then `PUT` it back changed. The `PUT`
//!   echoes the current `client_secret` from the read, because RFC 7592 section 2.2 lets a
//!   server treat an omitted secret as a request for a new one; dcr never stores it.
//! - regenerate: the same `PUT` without `client_secret`. A server that answers with the
//!   same secret does not rotate secrets this way: `SecretNotRotated`.
//! - delete: RFC 7592 `DELETE`; 401 is an error, not proof of deletion (see `remove`).
//! - whether a client exists (drift report): RFC 7592 `GET`; 404 and 401 are both
//!   reported, as gone or no longer manageable by dcr. Listing clients: impossible.
//!
//! Every `PUT` may rotate the registration access token; the new one is returned as state.

use dcr_common::oauth::ClientAuthMethod;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::{Map, Value, json};
use url::Url;
use uuid::Uuid;

use super::http::{error_for, json, send};
use super::{
    ClientRef, ClientUpdate, CreatedClient, IdpAdapter, IdpDeps, IdpError, IdpResult, IssuedSecret,
    MarkedClient, NewClient, Presence, RegistrationEvent,
};
use crate::domain::IdpClientState;
use crate::domain::validate::idp_url;

pub(super) struct Rfc7591Adapter {
    issuer: String,
    registration_endpoint: Option<Url>,
    initial_access_token: Option<SecretString>,
    deps: IdpDeps,
}

/// The client authentication dcr asks for (RFC 7591 section 2's default).
const REQUESTED_AUTH_METHOD: ClientAuthMethod = ClientAuthMethod::ClientSecretBasic;
/// Fields a client must not send back in an RFC 7592 PUT (section 2.2).
const SERVER_ONLY: &[&str] = &[
    "registration_access_token",
    "registration_client_uri",
    "client_secret_expires_at",
    "client_id_issued_at",
];

struct Management {
    uri: Url,
    token: SecretString,
}

fn management(
    state: &IdpClientState,
    policy: crate::domain::validate::UrlPolicy,
) -> IdpResult<Management> {
    let uri = state.0["registration_client_uri"]
        .as_str()
        .unwrap_or_default();
    let token = state.0["registration_access_token"]
        .as_str()
        .unwrap_or_default();
    if uri.is_empty() || token.is_empty() {
        return Err(IdpError::Unsupported(
            "the IdP returned no registration_client_uri / registration_access_token at registration, \
             so dcr cannot manage this client through RFC 7592"
                .into(),
        ));
    }
    let uri = idp_url(uri, policy)
        .map_err(|e| IdpError::Rejected(format!("registration_client_uri {e}")))?;
    Ok(Management {
        uri,
        token: SecretString::from(token.to_owned()),
    })
}

fn state_from(body: &Map<String, Value>, previous: Option<&IdpClientState>) -> IdpClientState {
    let keep = |field: &str| {
        body.get(field)
            .and_then(Value::as_str)
            .or_else(|| previous.and_then(|p| p.0[field].as_str()))
            .unwrap_or_default()
            .to_owned()
    };
    IdpClientState(json!({
        "registration_access_token": keep("registration_access_token"),
        "registration_client_uri": keep("registration_client_uri"),
    }))
}

fn secret_of(body: &Map<String, Value>) -> Option<String> {
    body.get("client_secret")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn expiry_of(body: &Map<String, Value>) -> Option<chrono::DateTime<chrono::Utc>> {
    body.get("client_secret_expires_at")
        .and_then(Value::as_i64)
        .filter(|t| *t > 0)
        .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
}

fn metadata(client: &NewClient) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("client_name".into(), json!(client.name));
    body.insert(
        "redirect_uris".into(),
        json!(
            client
                .redirect_uris
                .iter()
                .map(Url::as_str)
                .collect::<Vec<_>>()
        ),
    );
    body.insert("grant_types".into(), json!(["client_credentials"]));
    body.insert("response_types".into(), json!([]));
    body.insert(
        "token_endpoint_auth_method".into(),
        json!(REQUESTED_AUTH_METHOD.as_str()),
    );
    if !client.scopes.is_empty() {
        body.insert("scope".into(), json!(client.scopes.join(" ")));
    }
    body.insert("dcr_application_id".into(), json!(client.application_id));
    body
}

impl Rfc7591Adapter {
    pub(super) fn new(
        issuer: String,
        registration_endpoint: Option<Url>,
        initial_access_token: Option<SecretString>,
        deps: IdpDeps,
    ) -> Self {
        Self {
            issuer,
            registration_endpoint,
            initial_access_token,
            deps,
        }
    }

    async fn endpoint(&self) -> IdpResult<Url> {
        match &self.registration_endpoint {
            Some(url) => Ok(url.clone()),
            None => {
                self.deps
                    .discovery
                    .registration_endpoint(&self.issuer)
                    .await
            }
        }
    }

    async fn register(&self, body: &Map<String, Value>) -> IdpResult<Map<String, Value>> {
        let mut request = self.deps.http.post(self.endpoint().await?).json(body);
        if let Some(token) = &self.initial_access_token {
            request = request.bearer_auth(token.expose_secret());
        }
        let answer = send(request, "RFC 7591 registration").await?;
        if answer.status.as_u16() != 201 && !answer.status.is_success() {
            return Err(error_for(&answer, "RFC 7591 registration"));
        }
        json(&answer, "RFC 7591 registration")
    }

    async fn read(&self, m: &Management) -> IdpResult<Map<String, Value>> {
        let request = self
            .deps
            .http
            .get(m.uri.clone())
            .bearer_auth(m.token.expose_secret());
        let answer = send(request, "RFC 7592 read").await?;
        if !answer.status.is_success() {
            return Err(error_for(&answer, "RFC 7592 read"));
        }
        json(&answer, "RFC 7592 read")
    }

    async fn replace(
        &self,
        m: &Management,
        mut body: Map<String, Value>,
    ) -> IdpResult<Map<String, Value>> {
        for field in SERVER_ONLY {
            body.remove(*field);
        }
        let request = self
            .deps
            .http
            .put(m.uri.clone())
            .bearer_auth(m.token.expose_secret())
            .json(&body);
        let answer = send(request, "RFC 7592 update").await?;
        if !answer.status.is_success() {
            return Err(error_for(&answer, "RFC 7592 update"));
        }
        json(&answer, "RFC 7592 update")
    }

    async fn remove(&self, m: &Management) -> IdpResult<()> {
        let request = self
            .deps
            .http
            .delete(m.uri.clone())
            .bearer_auth(m.token.expose_secret());
        let answer = send(request, "RFC 7592 delete").await?;
        match answer.status.as_u16() {
            200..=299 | 404 => Ok(()),
            // A deleted client's registration access token is invalid too (RFC 7592
            // section 2.3), but so is one the server rotated without dcr hearing of it:
            // 401 cannot tell "gone" from "no longer ours to manage", so it is an error.
            401 | 403 => Err(IdpError::Unauthorized(format!(
                "RFC 7592 delete answered {}: the registration access token is not accepted",
                answer.status.as_u16()
            ))),
            _ => Err(error_for(&answer, "RFC 7592 delete")),
        }
    }
}

impl Rfc7591Adapter {
    /// One RFC 7592 read, for servers that issue a new secret (and registration access
    /// token) on every read, as Curity does: the answer's secret is the new one.
    pub(super) async fn read_rotating(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        let m = management(client.state, self.deps.policy)?;
        let body = self.read(&m).await?;
        let state = state_from(&body, Some(client.state));
        let secret = secret_of(&body).ok_or_else(|| {
            IdpError::Ambiguous("RFC 7592 read: no client_secret in the answer".into())
        })?;
        Ok(IssuedSecret {
            client_secret: SecretString::from(secret),
            secret_ref: String::new(),
            expire_time: expiry_of(&body),
            state: Some(state),
        })
    }
}

#[async_trait::async_trait]
impl IdpAdapter for Rfc7591Adapter {
    fn state_rotates(&self) -> bool {
        true // RFC 7592 lets every write rotate the registration access token
    }

    async fn create_client(&self, client: &NewClient) -> IdpResult<CreatedClient> {
        let body = self.register(&metadata(client)).await?;
        let client_id = body
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                IdpError::Ambiguous("RFC 7591 registration: no client_id in the answer".into())
            })?
            .to_owned();
        let secret = secret_of(&body).ok_or_else(|| {
            IdpError::Ambiguous("RFC 7591 registration: no client_secret in the answer".into())
        })?;
        Ok(CreatedClient {
            client_id,
            secret: IssuedSecret {
                client_secret: SecretString::from(secret),
                secret_ref: String::new(),
                expire_time: expiry_of(&body),
                state: None,
            },
            state: state_from(&body, None),
            // RFC 7591 section 3.2.1: the answer carries the metadata the server registered,
            // which may differ from what was asked for; token-svc must use that method.
            auth_method: Some(
                body.get("token_endpoint_auth_method")
                    .and_then(Value::as_str)
                    .and_then(ClientAuthMethod::parse)
                    .unwrap_or(REQUESTED_AUTH_METHOD),
            ),
        })
    }

    async fn update_client(
        &self,
        client: ClientRef<'_>,
        update: &ClientUpdate,
    ) -> IdpResult<Option<IdpClientState>> {
        let m = management(client.state, self.deps.policy)?;
        let mut body = self.read(&m).await?;
        body.insert("client_id".into(), json!(client.client_id));
        body.extend(metadata(update));
        let answer = self.replace(&m, body).await?;
        Ok(Some(state_from(&answer, Some(client.state))))
    }

    async fn delete_client(&self, client: ClientRef<'_>) -> IdpResult<()> {
        let m = management(client.state, self.deps.policy)?;
        self.remove(&m).await
    }

    fn cannot_list_secrets(&self) -> Option<String> {
        Some(
            "an RFC 7591/7592 client holds one client_secret in its metadata, with no id and \
             no call that lists secrets"
                .into(),
        )
    }

    async fn regenerate_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        let m = management(client.state, self.deps.policy)?;
        let mut body = self.read(&m).await?;
        let old = secret_of(&body);
        body.remove("client_secret");
        body.insert("client_id".into(), json!(client.client_id));
        let answer = self.replace(&m, body).await?;
        let state = state_from(&answer, Some(client.state));
        match secret_of(&answer) {
            Some(new) if Some(&new) != old.as_ref() => Ok(IssuedSecret {
                client_secret: SecretString::from(new),
                secret_ref: String::new(),
                expire_time: expiry_of(&answer),
                state: Some(state),
            }),
            _ => Err(IdpError::SecretNotRotated { state }),
        }
    }

    async fn add_secret(
        &self,
        _: ClientRef<'_>,
        _: Option<chrono::DateTime<chrono::Utc>>,
    ) -> IdpResult<IssuedSecret> {
        Err(IdpError::Unsupported(
            "RFC 7591 clients hold exactly one client_secret; use RegenerateSecret to replace it"
                .into(),
        ))
    }

    async fn revoke_secret(&self, _: ClientRef<'_>, _: &str) -> IdpResult<()> {
        Err(IdpError::Unsupported(
            "RFC 7591 clients hold exactly one client_secret; it cannot be revoked on its own \
             (use RegenerateSecret or DeleteApplication)"
                .into(),
        ))
    }

    async fn registration_changed(
        &self,
        _: ClientRef<'_>,
        _: &ClientUpdate,
        _: &RegistrationEvent,
    ) -> IdpResult<()> {
        Ok(())
    }

    async fn find_by_marker(&self, _: Uuid) -> IdpResult<Option<String>> {
        Ok(None) // RFC 7591 has no search; the operation journal covers crashes
    }

    async fn list_marked_clients(&self) -> IdpResult<Vec<MarkedClient>> {
        Err(IdpError::Unsupported(
            "RFC 7591/7592 has no call that lists clients, so clients left at the IdP \
             without an application in dcr cannot be found from here"
                .into(),
        ))
    }

    /// An RFC 7592 read with the registration access token. 404, or 401 for the token
    /// only dcr holds (RFC 7592 section 2.3: a deleted client's token is invalid, but so
    /// is one the server stopped accepting), mean the client is gone or dcr can no longer
    /// manage it: either way a person must look, so both are reported as missing.
    async fn client_exists(&self, client: ClientRef<'_>) -> IdpResult<Presence> {
        let m = management(client.state, self.deps.policy)?;
        match self.read(&m).await {
            Ok(body) => {
                // A server may issue a new registration access token on a read; dcr
                // must keep it or lose the client.
                let state = state_from(&body, Some(client.state));
                let rotated = state != *client.state;
                Ok(Presence::Present {
                    state: rotated.then_some(state),
                })
            }
            Err(IdpError::NotFound | IdpError::Unauthorized(_)) => Ok(Presence::Gone),
            Err(error) => Err(error),
        }
    }

    async fn verify(&self) -> IdpResult<String> {
        let endpoint = self.endpoint().await?;
        let probe = NewClient {
            application_id: Uuid::nil(),
            developer_id: String::new(),
            strategy_id: Uuid::nil(),
            name: "dcr verify (deleted right away)".into(),
            description: String::new(),
            redirect_uris: Vec::new(),
            scopes: Vec::new(),
        };
        let created = self.create_client(&probe).await?;
        let cleanup = self
            .delete_client(ClientRef {
                client_id: &created.client_id,
                state: &created.state,
            })
            .await;
        match cleanup {
            Ok(()) => Ok(format!(
                "registered and deleted a probe client at {endpoint}"
            )),
            Err(error) => Err(IdpError::Rejected(format!(
                "registered a probe client at {endpoint} but could not delete it through RFC 7592 ({error}); \
                 delete client {} by hand",
                created.client_id
            ))),
        }
    }
}
