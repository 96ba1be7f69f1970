//! Auth0, through its Management API v2 (https://auth0.com/docs/api/management/v2).
//!
//! - Token: client credentials of the provider's initial client at the tenant's
//!   `/oauth/token` with `audience` = `initial_client_audience` (default
//!   `{issuer}api/v2/`, which is also the API's base URL). Auth0's reference sends
//!   `client_id` and `client_secret` in the body
//!   (https://auth0.com/docs/api/authentication/client-credential-flow/get-token), and
//!   each application accepts only its configured Authentication Method
//!   (https://auth0.com/docs/get-started/applications/credentials: Client Secret (Post)
//!   or (Basic)); the provider's `token_endpoint_auth_method` says which (default Post).
//! - create: `POST /clients` (https://auth0.com/docs/api/management/v2/clients/post-clients):
//!   a `non_interactive` app with the `client_credentials` grant, an explicit
//!   `token_endpoint_auth_method` (Post, as the dashboard gives M2M apps; recorded with
//!   the application so token-svc sends the secret the same way) and `client_metadata`
//!   carrying dcr's marker (`dcr_application_id`) and the developer.
//! - registrations: a client grant per approved product audience
//!   (https://auth0.com/docs/api/management/v2/client-grants/post-client-grants) with the
//!   strategy's scopes; removed when the registration ends.
//! - update: `PATCH /clients/{id}`; delete: `DELETE /clients/{id}`; regenerate:
//!   `POST /clients/{id}/rotate-secret`. An Auth0 client holds one secret.
//! - find by marker, list marked clients (drift report): `GET /clients` page by page
//!   (`page`, `per_page`, `include_totals`; Auth0 cannot search clients by metadata),
//!   reading `client_metadata.dcr_application_id`; whether one exists: `GET /clients/{id}`.

use dcr_common::oauth::ClientAuthMethod;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;
use uuid::Uuid;

use super::http::{Answer, json};
use super::jwt_claims::{listed, unverified_claims};
use super::retry::Repeat;
use super::vendor_api::{
    ManagementClient, bearer, gone_is_done, issued_secret, json_call, management_token,
};
use super::{
    ClientRef, ClientUpdate, CreatedClient, IdpAdapter, IdpDeps, IdpError, IdpResult, IssuedSecret,
    MarkedClient, NewClient, Presence, RegistrationEvent,
};
use crate::domain::IdpClientState;

/// What dcr does with the Management API, and the scope each needs.
const NEEDED_SCOPES: &[&str] = &[
    "read:clients",
    "create:clients",
    "update:clients",
    "delete:clients",
    "update:client_keys",
    "read:client_grants",
    "create:client_grants",
    "delete:client_grants",
];
/// Said when Auth0 refuses the management client's authentication (401): a wrong secret
/// and a secret sent by the other method look alike, so both places to look are named.
const REFUSAL_HINT: &str = "check the secret, and that the method matches the application's \
     in the Auth0 dashboard: Applications > <app> > Credentials > Authentication Method, or \
     set the provider's token_endpoint_auth_method (client_secret_post or client_secret_basic)";
/// How the clients dcr creates authenticate: Post, what Auth0's dashboard gives
/// machine-to-machine apps and what its client credentials reference shows.
const CREATED_AUTH_METHOD: ClientAuthMethod = ClientAuthMethod::ClientSecretPost;
/// Clients read per page while searching for a marker (Auth0's maximum is 100).
const PAGE: usize = 100;
/// Auth0 limits `client_metadata` values to 255 characters.
const METADATA_MAX: usize = 255;

pub(super) struct Auth0Adapter {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// How the management client sends its secret to `/oauth/token`.
    pub auth_method: ClientAuthMethod,
    /// The Management API's identifier, also its base URL.
    pub audience: String,
    /// `use_developer_managed_scopes`: grants carry the registration's scopes.
    pub developer_scopes: bool,
    pub deps: IdpDeps,
}

#[derive(Deserialize)]
struct Client {
    client_id: String,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    client_metadata: serde_json::Map<String, Value>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

/// `GET /clients` with `include_totals=true`.
#[derive(Deserialize)]
struct ClientPage {
    #[serde(default)]
    clients: Vec<Client>,
    #[serde(default)]
    total: usize,
}

/// True when page `page` came back short: the last one, whatever `total` said (a tenant
/// whose clients were deleted while being read must not loop forever).
fn short_page(seen: usize, page: usize) -> bool {
    seen < PAGE * (page + 1)
}

#[derive(Deserialize)]
struct Grant {
    id: String,
}

fn metadata_value(value: &str) -> String {
    value.chars().take(METADATA_MAX).collect()
}

fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl Auth0Adapter {
    pub(super) fn new(
        issuer: String,
        client_id: String,
        client_secret: SecretString,
        audience: Option<String>,
        developer_scopes: bool,
        auth_method: ClientAuthMethod,
        deps: IdpDeps,
    ) -> Self {
        let audience =
            audience.unwrap_or_else(|| format!("{}/api/v2/", issuer.trim_end_matches('/')));
        Self {
            issuer,
            client_id,
            client_secret,
            auth_method,
            audience,
            developer_scopes,
            deps,
        }
    }

    /// The Management API's base URL, checked against the URL policy.
    fn base(&self) -> IdpResult<Url> {
        crate::domain::validate::idp_url(&self.audience, self.deps.policy).map_err(|e| {
            IdpError::Rejected(format!("initial_client_audience {:?} {e}", self.audience))
        })
    }

    async fn token(&self) -> IdpResult<SecretString> {
        let client = ManagementClient {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            auth_method: self.auth_method,
            refusal_hint: REFUSAL_HINT,
        };
        management_token(&self.deps, &client, &[("audience", &self.audience)], false).await
    }

    /// One Management API call with the management token.
    async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        what: &str,
        repeat: Repeat,
    ) -> IdpResult<Answer> {
        let url = format!("{}/{path}", self.base()?.as_str().trim_end_matches('/'));
        let token = bearer(&self.token().await?);
        json_call(&self.deps, method, &url, &token, body, what, repeat).await
    }

    fn client_body(client: &NewClient) -> Value {
        json!({
            "name": client.name,
            "description": client.description,
            "client_metadata": {
                "dcr_application_id": client.application_id.to_string(),
                "dcr_developer_id": metadata_value(&client.developer_id),
            },
        })
    }

    async fn grants_for(&self, client_id: &str, audience: &str) -> IdpResult<Vec<Grant>> {
        let path = format!(
            "client-grants?client_id={}&audience={}",
            segment(client_id),
            segment(audience)
        );
        let answer = self
            .api(
                reqwest::Method::GET,
                &path,
                None,
                "Auth0 list client grants",
                Repeat::Idempotent,
            )
            .await?;
        json(&answer, "Auth0 list client grants")
    }
}

#[async_trait::async_trait]
impl IdpAdapter for Auth0Adapter {
    async fn create_client(&self, client: &NewClient) -> IdpResult<CreatedClient> {
        let mut body = Self::client_body(client);
        body["app_type"] = json!("non_interactive");
        body["grant_types"] = json!(["client_credentials"]);
        body["token_endpoint_auth_method"] = json!(CREATED_AUTH_METHOD.as_str());
        let answer = self
            .api(
                reqwest::Method::POST,
                "clients",
                Some(&body),
                "Auth0 create client",
                Repeat::Once,
            )
            .await?;
        let created: Client = json(&answer, "Auth0 create client")?;
        let secret = issued_secret(created.client_secret, "Auth0 create client")?;
        Ok(CreatedClient {
            client_id: created.client_id,
            secret: IssuedSecret {
                client_secret: secret,
                secret_ref: String::new(),
                expire_time: None,
                state: None,
            },
            state: IdpClientState::default(),
            // What Auth0 says the client has, else what was asked for.
            auth_method: Some(
                created
                    .token_endpoint_auth_method
                    .as_deref()
                    .and_then(ClientAuthMethod::parse)
                    .unwrap_or(CREATED_AUTH_METHOD),
            ),
        })
    }

    async fn update_client(
        &self,
        client: ClientRef<'_>,
        update: &ClientUpdate,
    ) -> IdpResult<Option<IdpClientState>> {
        let path = format!("clients/{}", segment(client.client_id));
        self.api(
            reqwest::Method::PATCH,
            &path,
            Some(&Self::client_body(update)),
            "Auth0 update client",
            Repeat::Idempotent,
        )
        .await?;
        Ok(None)
    }

    async fn delete_client(&self, client: ClientRef<'_>) -> IdpResult<()> {
        let path = format!("clients/{}", segment(client.client_id));
        gone_is_done(
            self.api(
                reqwest::Method::DELETE,
                &path,
                None,
                "Auth0 delete client",
                Repeat::Idempotent,
            )
            .await,
        )
    }

    async fn regenerate_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        let path = format!("clients/{}/rotate-secret", segment(client.client_id));
        let answer = self
            .api(
                reqwest::Method::POST,
                &path,
                None,
                "Auth0 rotate secret",
                Repeat::Once,
            )
            .await?;
        let rotated: Client = json(&answer, "Auth0 rotate secret")?;
        let secret = issued_secret(rotated.client_secret, "Auth0 rotate secret")?;
        Ok(IssuedSecret {
            client_secret: secret,
            secret_ref: String::new(),
            expire_time: None,
            state: None,
        })
    }

    async fn add_secret(
        &self,
        _: ClientRef<'_>,
        _: Option<chrono::DateTime<chrono::Utc>>,
    ) -> IdpResult<IssuedSecret> {
        Err(IdpError::Unsupported(
            "an Auth0 client holds exactly one client secret; use RegenerateSecret to replace it"
                .into(),
        ))
    }

    fn cannot_list_secrets(&self) -> Option<String> {
        Some(
            "an Auth0 client holds exactly one client secret, replaced by rotation: there is \
             no list of secrets to compare with dcr's credentials"
                .into(),
        )
    }

    async fn revoke_secret(&self, _: ClientRef<'_>, _: &str) -> IdpResult<()> {
        Err(IdpError::Unsupported(
            "an Auth0 client holds exactly one client secret; it cannot be revoked on its own \
             (use RegenerateSecret or DeleteApplication)"
                .into(),
        ))
    }

    async fn registration_changed(
        &self,
        client: ClientRef<'_>,
        app: &ClientUpdate,
        event: &RegistrationEvent,
    ) -> IdpResult<()> {
        if event.audience.is_empty() {
            return Ok(()); // nothing to grant: tokens without an API audience
        }
        let existing = self.grants_for(client.client_id, &event.audience).await?;
        if event.added {
            if !existing.is_empty() {
                return Ok(());
            }
            // With use_developer_managed_scopes the developer's choice for this product,
            // else the strategy's scopes.
            let scope = if self.developer_scopes {
                &event.scopes
            } else {
                &app.scopes
            };
            let body = json!({
                "client_id": client.client_id,
                "audience": event.audience,
                "scope": scope,
            });
            return match self
                .api(
                    reqwest::Method::POST,
                    "client-grants",
                    Some(&body),
                    "Auth0 create client grant",
                    Repeat::Once,
                )
                .await
            {
                // The grant exists already (a retried or concurrent approval).
                Err(IdpError::Conflict(_)) => Ok(()),
                Err(error) => Err(error),
                Ok(_) => Ok(()),
            };
        }
        for grant in existing {
            let path = format!("client-grants/{}", segment(&grant.id));
            gone_is_done(
                self.api(
                    reqwest::Method::DELETE,
                    &path,
                    None,
                    "Auth0 delete client grant",
                    Repeat::Idempotent,
                )
                .await,
            )?;
        }
        Ok(())
    }

    async fn find_by_marker(&self, application_id: Uuid) -> IdpResult<Option<String>> {
        Ok(self
            .list_marked_clients()
            .await?
            .into_iter()
            .find(|c| c.application_id == application_id)
            .map(|c| c.client_id))
    }

    async fn list_marked_clients(&self) -> IdpResult<Vec<MarkedClient>> {
        let mut marked = Vec::new();
        let mut seen = 0;
        for page in 0.. {
            // include_totals: the answer says how many there are, so the walk ends on the
            // count rather than on a short page.
            let path = format!(
                "clients?fields=client_id,client_metadata&include_fields=true\
                 &include_totals=true&page={page}&per_page={PAGE}"
            );
            let answer = self
                .api(
                    reqwest::Method::GET,
                    &path,
                    None,
                    "Auth0 list clients",
                    Repeat::Idempotent,
                )
                .await?;
            let listing: ClientPage = json(&answer, "Auth0 list clients")?;
            seen += listing.clients.len();
            marked.extend(listing.clients.into_iter().filter_map(|c| {
                let marker = c.client_metadata.get("dcr_application_id")?.as_str()?;
                Some(MarkedClient {
                    application_id: Uuid::parse_str(marker).ok()?,
                    client_id: c.client_id,
                })
            }));
            if seen >= listing.total || short_page(seen, page) {
                break;
            }
        }
        Ok(marked)
    }

    async fn client_exists(&self, client: ClientRef<'_>) -> IdpResult<Presence> {
        let path = format!(
            "clients/{}?fields=client_id&include_fields=true",
            segment(client.client_id)
        );
        let read = self
            .api(
                reqwest::Method::GET,
                &path,
                None,
                "Auth0 read client",
                Repeat::Idempotent,
            )
            .await;
        Presence::of_read(read)
    }

    async fn verify(&self) -> IdpResult<String> {
        let token = self.token().await?;
        let granted = listed(&unverified_claims(token.expose_secret()), "scope");
        let missing: Vec<&str> = NEEDED_SCOPES
            .iter()
            .copied()
            .filter(|s| !granted.iter().any(|g| g == s))
            .collect();
        if !missing.is_empty() {
            return Err(IdpError::Unauthorized(format!(
                "the Auth0 management client {} lacks {} on {} (grant them to it under \
                 Applications > APIs > Auth0 Management API > Machine to Machine Applications)",
                self.client_id,
                missing.join(", "),
                self.audience
            )));
        }
        self.api(
            reqwest::Method::GET,
            "clients?fields=client_id&include_fields=true&page=0&per_page=1",
            None,
            "Auth0 list clients",
            Repeat::Idempotent,
        )
        .await?;
        Ok(format!(
            "got a Management API token for {} and listed clients; the management client has {}",
            self.audience,
            NEEDED_SCOPES.join(", ")
        ))
    }
}
