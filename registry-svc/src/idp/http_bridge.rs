//! Kong's HTTP DCR bridge contract (Kong/konnect-portal-dcr-handler, openapi.yaml), so
//! bridges written for Konnect work unchanged:
//!
//! | call | request | success |
//! |---|---|---|
//! | create | `POST /` ApplicationPayload | 201 `{client_id, client_secret, ...}` |
//! | delete | `DELETE /{client_id}` | 204 |
//! | new secret | `POST /{client_id}/new-secret` | 200 `{client_id, client_secret}` |
//! | events | `POST /{client_id}/event-hook` EventHook | 200 |
//!
//! Every call carries `x-api-key`; any non-2xx halts the operation. The payload's id
//! fields must be UUIDs: dcr sends the provider, strategy and application ids as they
//! are, a developer id that is not a UUID as a name-based UUID (v5) of it, and fixed
//! name-based UUIDs for portal and organization, which dcr does not have.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;
use url::Url;
use uuid::Uuid;

use super::http::{error_for, json, send};
use super::{
    ClientRef, ClientUpdate, CreatedClient, IdpAdapter, IdpError, IdpResult, IssuedSecret,
    MarkedClient, NewClient, Presence, RegistrationEvent,
};
use crate::domain::IdpClientState;

pub(super) struct HttpBridgeAdapter {
    pub base_url: Url,
    pub api_key: SecretString,
    pub provider_id: Uuid,
    pub disable_event_hooks: bool,
    pub disable_refresh_secret: bool,
    pub allow_multiple_credentials: bool,
    pub http: reqwest::Client,
}

#[derive(Deserialize)]
struct ApplicationResponse {
    client_id: String,
    client_secret: String,
}

/// A UUID for a dcr id that may not be one: itself when it parses, else name-based.
pub(super) fn as_uuid(id: &str) -> Uuid {
    id.parse().unwrap_or_else(|_| {
        Uuid::new_v5(
            &Uuid::NAMESPACE_URL,
            format!("dcr:developer:{id}").as_bytes(),
        )
    })
}

fn fixed_uuid(what: &str) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, format!("dcr:{what}").as_bytes())
}

impl HttpBridgeAdapter {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url.as_str().trim_end_matches('/'))
    }

    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(self.url(path))
            .header("x-api-key", self.api_key.expose_secret())
    }

    fn path_segment(client_id: &str) -> String {
        url::form_urlencoded::byte_serialize(client_id.as_bytes()).collect()
    }

    /// The fields every EventHook carries.
    fn event_base(
        &self,
        event_type: &str,
        client_id: &str,
        app: &ClientUpdate,
    ) -> serde_json::Value {
        json!({
            "event_type": event_type,
            "client_id": client_id,
            "application_id": app.application_id,
            "application_name": app.name,
            "application_description": app.description,
            "portal_id": fixed_uuid("portal"),
            "organization_id": fixed_uuid("organization"),
            "developer_id": as_uuid(&app.developer_id),
            "auth_strategy_id": app.strategy_id,
            "dcr_provider_id": self.provider_id,
        })
    }

    async fn event_hook(&self, client_id: &str, body: serde_json::Value) -> IdpResult<()> {
        let path = format!("/{}/event-hook", Self::path_segment(client_id));
        let answer = send(self.post(&path).json(&body), "bridge event hook").await?;
        if !answer.status.is_success() {
            return Err(error_for(&answer, "bridge event hook"));
        }
        Ok(())
    }

    async fn new_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        let path = format!("/{}/new-secret", Self::path_segment(client.client_id));
        let answer = send(self.post(&path), "bridge new-secret").await?;
        if !answer.status.is_success() {
            return Err(error_for(&answer, "bridge new-secret"));
        }
        let body: ApplicationResponse = json(&answer, "bridge new-secret")?;
        Ok(IssuedSecret {
            client_secret: SecretString::from(body.client_secret),
            secret_ref: String::new(),
            expire_time: None,
            state: None,
        })
    }
}

#[async_trait::async_trait]
impl IdpAdapter for HttpBridgeAdapter {
    async fn create_client(&self, client: &NewClient) -> IdpResult<CreatedClient> {
        let payload = json!({
            "redirect_uris": client.redirect_uris.iter().map(Url::as_str).collect::<Vec<_>>(),
            "client_name": client.name,
            "grant_types": ["client_credentials"],
            "scopes": client.scopes,
            "token_endpoint_auth_method": "client_secret_basic",
            "application_description": client.description,
            "portal_id": fixed_uuid("portal"),
            "organization_id": fixed_uuid("organization"),
            "developer_id": as_uuid(&client.developer_id),
            "auth_strategy_id": client.strategy_id,
            "dcr_provider_id": self.provider_id,
        });
        let answer = send(self.post("/").json(&payload), "bridge create").await?;
        if !answer.status.is_success() {
            return Err(error_for(&answer, "bridge create"));
        }
        let body: ApplicationResponse = json(&answer, "bridge create")?;
        Ok(CreatedClient {
            client_id: body.client_id,
            secret: IssuedSecret {
                client_secret: SecretString::from(body.client_secret),
                secret_ref: String::new(),
                expire_time: None,
                state: None,
            },
            state: IdpClientState(json!({})),
            auth_method: None,
        })
    }

    async fn update_client(
        &self,
        client: ClientRef<'_>,
        update: &ClientUpdate,
    ) -> IdpResult<Option<IdpClientState>> {
        if self.disable_event_hooks {
            return Ok(None);
        }
        let mut body = self.event_base("update_application", client.client_id, update);
        body["redirect_uris"] = json!(
            update
                .redirect_uris
                .iter()
                .map(Url::as_str)
                .collect::<Vec<_>>()
        );
        self.event_hook(client.client_id, body).await?;
        Ok(None)
    }

    async fn delete_client(&self, client: ClientRef<'_>) -> IdpResult<()> {
        let path = format!("/{}", Self::path_segment(client.client_id));
        let request = self
            .http
            .delete(self.url(&path))
            .header("x-api-key", self.api_key.expose_secret());
        let answer = send(request, "bridge delete").await?;
        match error_for_status(&answer) {
            None => Ok(()),
            Some(IdpError::NotFound) => Ok(()),
            Some(error) => Err(error),
        }
    }

    async fn regenerate_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        if self.disable_refresh_secret {
            return Err(IdpError::Unsupported(
                "this provider has disable_refresh_secret set: its bridge does not issue new secrets".into(),
            ));
        }
        self.new_secret(client).await
    }

    async fn add_secret(
        &self,
        client: ClientRef<'_>,
        _: Option<chrono::DateTime<chrono::Utc>>,
    ) -> IdpResult<IssuedSecret> {
        if !self.allow_multiple_credentials {
            return Err(IdpError::Unsupported(
                "this provider does not allow multiple credentials (allow_multiple_credentials is off); \
                 use RegenerateSecret"
                    .into(),
            ));
        }
        if self.disable_refresh_secret {
            return Err(IdpError::Unsupported(
                "this provider has disable_refresh_secret set: its bridge does not issue new secrets".into(),
            ));
        }
        self.new_secret(client).await
    }

    fn cannot_list_secrets(&self) -> Option<String> {
        Some(
            "the bridge contract has no call that lists a client's secrets (dcr itself \
             enforces which of them are revoked)"
                .into(),
        )
    }

    async fn revoke_secret(&self, _: ClientRef<'_>, _: &str) -> IdpResult<()> {
        // The bridge contract has no call to revoke one secret: the revocation is
        // recorded and enforced by dcr (authz-svc, token-svc) only.
        Ok(())
    }

    async fn registration_changed(
        &self,
        client: ClientRef<'_>,
        app: &ClientUpdate,
        event: &RegistrationEvent,
    ) -> IdpResult<()> {
        if self.disable_event_hooks {
            return Ok(());
        }
        let kind = if event.added {
            "add_registration"
        } else {
            "remove_registration"
        };
        let mut body = self.event_base(kind, client.client_id, app);
        body["api_product_version_id"] = json!(event.product_id);
        if !event.audience.is_empty() {
            body["audience"] = json!(event.audience);
        }
        self.event_hook(client.client_id, body).await
    }

    async fn find_by_marker(&self, _: Uuid) -> IdpResult<Option<String>> {
        Ok(None) // the contract has no list or search call
    }

    async fn list_marked_clients(&self) -> IdpResult<Vec<MarkedClient>> {
        Err(IdpError::Unsupported(
            "Kong's DCR bridge contract has no call that lists clients".into(),
        ))
    }

    async fn client_exists(&self, _: ClientRef<'_>) -> IdpResult<Presence> {
        Ok(Presence::CannotTell(
            "Kong's DCR bridge contract has no call that reads a client".into(),
        ))
    }

    async fn verify(&self) -> IdpResult<String> {
        // Deleting a client that cannot exist is harmless and proves the key: a bridge
        // answers 401 to a wrong key and 404 (or 400) to an unknown client.
        let probe = format!("/dcr-verify-{}", Uuid::new_v4());
        let request = self
            .http
            .delete(self.url(&probe))
            .header("x-api-key", self.api_key.expose_secret());
        let answer = send(request, "bridge verify").await?;
        match answer.status.as_u16() {
            200..=299 | 400 | 404 => Ok(format!(
                "the bridge at {} accepted dcr's api key",
                self.base_url
            )),
            _ => Err(error_for(&answer, "bridge verify")),
        }
    }
}

fn error_for_status(answer: &super::http::Answer) -> Option<IdpError> {
    if answer.status.is_success() {
        None
    } else {
        Some(error_for(answer, "bridge delete"))
    }
}
