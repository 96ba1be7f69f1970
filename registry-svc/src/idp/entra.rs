//! Microsoft Entra ID (`azure_ad`), through Microsoft Graph v1.0 with a token for
//! `{graph}/.default` from the tenant's token endpoint (the provider's initial client,
//! which needs the `Application.ReadWrite.OwnedBy` application permission).
//!
//! - create: `POST /applications` (https://learn.microsoft.com/en-us/graph/api/application-post-applications)
//!   with dcr's marker as a tag (`dcr:application:{id}`), then a service principal
//!   (`POST /servicePrincipals`: without one the app cannot get tokens in the tenant),
//!   then a password (`addPassword`). These two may find the new app not yet replicated
//!   and wait for it, a few seconds at most (see `replication`). A failure after the app
//!   exists deletes it again.
//! - update: `PATCH /applications(appId='{client id}')`; delete: `DELETE` (its service
//!   principal goes with it).
//! - secrets: `addPassword` (optionally with `endDateTime`) and `removePassword` by
//!   `keyId`, so several at once; regenerate adds one and removes the others. The
//!   application's `passwordCredentials` (`keyId`, `endDateTime`; Graph never returns a
//!   secret's text again) list them for the drift report: one past its end no longer works.
//! - find by marker: `GET /applications?$filter=tags/any(t:t eq '...')`; list marked
//!   clients (drift report): the same filter on the tag `dcr`, page by page
//!   (`@odata.nextLink`); whether one exists: `GET /applications(appId='...')`.

use dcr_common::oauth::ClientAuthMethod;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::http::{Answer, json};
use super::jwt_claims::{listed, unverified_claims};
use super::replication;
use super::retry::Repeat;
use super::vendor_api::{
    ManagementClient, bearer, gone_is_done, issued_secret, json_call, management_token,
};
use super::{
    ClientRef, ClientUpdate, CreatedClient, IdpAdapter, IdpDeps, IdpError, IdpResult, IssuedSecret,
    ListedSecret, MarkedClient, NewClient, Presence, RegistrationEvent,
};
use crate::domain::IdpClientState;

/// Either permission lets dcr manage the apps it creates.
const PERMISSIONS: &[&str] = &["Application.ReadWrite.OwnedBy", "Application.ReadWrite.All"];

pub(super) struct EntraAdapter {
    /// `https://login.microsoftonline.com/{tenant}/v2.0`.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// `https://graph.microsoft.com`, or a national cloud's.
    pub graph: String,
    pub deps: IdpDeps,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Application {
    id: String,
    app_id: String,
    #[serde(default)]
    password_credentials: Vec<Password>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Password {
    key_id: String,
    #[serde(default)]
    secret_text: Option<String>,
    #[serde(default)]
    end_date_time: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Deserialize)]
struct Listing {
    #[serde(default)]
    value: Vec<Application>,
}

/// A page of `GET /applications?$select=appId,tags`.
#[derive(Deserialize)]
struct TaggedPage {
    #[serde(default)]
    value: Vec<Tagged>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tagged {
    app_id: String,
    #[serde(default)]
    tags: Vec<String>,
}

/// Pages read at most while listing dcr's applications.
const MAX_PAGES: usize = 100;

fn tag(application_id: Uuid) -> String {
    format!("dcr:application:{application_id}")
}

/// An OData string literal: single quotes doubled.
fn odata(value: &str) -> String {
    value.replace('\'', "''")
}

impl EntraAdapter {
    fn app_path(client_id: &str) -> String {
        let key: String =
            url::form_urlencoded::byte_serialize(odata(client_id).as_bytes()).collect();
        format!("applications(appId='{key}')")
    }

    async fn token(&self) -> IdpResult<SecretString> {
        let client = ManagementClient {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            // What dcr has always sent here; not yet a provider setting (issue 14).
            auth_method: dcr_common::oauth::ClientAuthMethod::ClientSecretBasic,
            refusal_hint: "",
        };
        let scope = format!("{}/.default", self.graph);
        management_token(&self.deps, &client, &[("scope", &scope)], false).await
    }

    async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
        what: &str,
        repeat: Repeat,
    ) -> IdpResult<Answer> {
        let url = format!("{}/v1.0/{path}", self.graph);
        let token = bearer(&self.token().await?);
        json_call(&self.deps, method, &url, &token, body, what, repeat).await
    }

    /// A GET of a whole Graph URL (an `@odata.nextLink`).
    async fn graph_url(&self, url: &str, what: &str) -> IdpResult<Answer> {
        let token = bearer(&self.token().await?);
        json_call(
            &self.deps,
            reqwest::Method::GET,
            url,
            &token,
            None,
            what,
            Repeat::Idempotent,
        )
        .await
    }

    async fn add_password(
        &self,
        client_id: &str,
        expire_time: Option<chrono::DateTime<chrono::Utc>>,
    ) -> IdpResult<IssuedSecret> {
        let mut credential = json!({"displayName": "dcr"});
        if let Some(at) = expire_time {
            credential["endDateTime"] =
                json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        let answer = self
            .graph(
                reqwest::Method::POST,
                &format!("{}/addPassword", Self::app_path(client_id)),
                Some(&json!({"passwordCredential": credential})),
                "Graph addPassword",
                Repeat::Once,
            )
            .await?;
        let password: Password = json(&answer, "Graph addPassword")?;
        let secret = issued_secret(password.secret_text, "Graph addPassword")?;
        Ok(IssuedSecret {
            client_secret: secret,
            secret_ref: password.key_id,
            expire_time: password.end_date_time,
            state: None,
        })
    }

    async fn application(&self, client_id: &str) -> IdpResult<Application> {
        let answer = self
            .graph(
                reqwest::Method::GET,
                &format!(
                    "{}?$select=id,appId,passwordCredentials",
                    Self::app_path(client_id)
                ),
                None,
                "Graph get application",
                Repeat::Idempotent,
            )
            .await?;
        json(&answer, "Graph get application")
    }

    async fn remove_password(&self, object_id: &str, key_id: &str) -> IdpResult<()> {
        self.graph(
            reqwest::Method::POST,
            &format!("applications/{object_id}/removePassword"),
            Some(&json!({"keyId": key_id})),
            "Graph removePassword",
            Repeat::Idempotent,
        )
        .await
        .map(|_| ())
    }

    /// The app's service principal and first password, after the app was created: both
    /// may find the app not yet replicated, and wait for it (bounded).
    async fn finish_create(&self, app: &Application) -> IdpResult<IssuedSecret> {
        let what = "Graph create service principal";
        let service_principal = || async {
            match self
                .graph(
                    reqwest::Method::POST,
                    "servicePrincipals",
                    Some(&json!({"appId": app.app_id})),
                    what,
                    Repeat::Once,
                )
                .await
            {
                Ok(_) | Err(IdpError::Conflict(_)) => Ok(()),
                Err(error) => Err(error),
            }
        };
        replication::after_create(&app.app_id, what, service_principal).await?;
        replication::after_create(&app.app_id, "Graph addPassword", || {
            self.add_password(&app.app_id, None)
        })
        .await
    }

    /// Deletes the application just created after the rest of the create failed. A 404
    /// here is the application not replicated yet, not gone: waited for like the create's
    /// other calls; still 404 then, the outcome is unclear.
    async fn undo_create(&self, app_id: &str) -> IdpResult<()> {
        let path = Self::app_path(app_id);
        let delete = || {
            self.graph(
                reqwest::Method::DELETE,
                &path,
                None,
                "Graph delete application",
                Repeat::Idempotent,
            )
        };
        replication::after_create(app_id, "Graph delete application", delete)
            .await
            .map(|_| ())
    }
}

#[async_trait::async_trait]
impl IdpAdapter for EntraAdapter {
    async fn create_client(&self, client: &NewClient) -> IdpResult<CreatedClient> {
        let mut body = json!({
            "displayName": client.name,
            "tags": ["dcr", tag(client.application_id)],
            "signInAudience": "AzureADMyOrg",
        });
        if !client.description.is_empty() {
            body["notes"] = json!(client.description);
        }
        let answer = self
            .graph(
                reqwest::Method::POST,
                "applications",
                Some(&body),
                "Graph create application",
                Repeat::Once,
            )
            .await?;
        let app: Application = json(&answer, "Graph create application")?;
        match self.finish_create(&app).await {
            Ok(secret) => Ok(CreatedClient {
                client_id: app.app_id.clone(),
                secret,
                state: IdpClientState(json!({"object_id": app.id})),
                // Microsoft documents the secret in the form body
                // (https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow);
                // it accepts Basic as well, so either works, and token-svc uses this one.
                auth_method: Some(ClientAuthMethod::ClientSecretPost),
            }),
            Err(error) => {
                // Leave no half-made app behind; if even that fails, say the outcome is
                // unclear so the reconciler finds it by its tag.
                match self.undo_create(&app.app_id).await {
                    Ok(()) => Err(error),
                    Err(_) => Err(IdpError::Ambiguous(format!(
                        "{error}; and the half-created application {} could not be deleted",
                        app.app_id
                    ))),
                }
            }
        }
    }

    async fn update_client(
        &self,
        client: ClientRef<'_>,
        update: &ClientUpdate,
    ) -> IdpResult<Option<IdpClientState>> {
        let body = json!({"displayName": update.name, "notes": update.description});
        self.graph(
            reqwest::Method::PATCH,
            &Self::app_path(client.client_id),
            Some(&body),
            "Graph update application",
            Repeat::Idempotent,
        )
        .await?;
        Ok(None)
    }

    async fn delete_client(&self, client: ClientRef<'_>) -> IdpResult<()> {
        gone_is_done(
            self.graph(
                reqwest::Method::DELETE,
                &Self::app_path(client.client_id),
                None,
                "Graph delete application",
                Repeat::Idempotent,
            )
            .await,
        )
    }

    async fn regenerate_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        let before = self.application(client.client_id).await?;
        let new = self.add_password(client.client_id, None).await?;
        for old in before.password_credentials {
            self.remove_password(&before.id, &old.key_id).await?;
        }
        Ok(new)
    }

    fn expires_secrets(&self) -> bool {
        true
    }

    async fn add_secret(
        &self,
        client: ClientRef<'_>,
        expire_time: Option<chrono::DateTime<chrono::Utc>>,
    ) -> IdpResult<IssuedSecret> {
        self.add_password(client.client_id, expire_time).await
    }

    async fn revoke_secret(&self, client: ClientRef<'_>, secret_ref: &str) -> IdpResult<()> {
        let app = self.application(client.client_id).await?;
        if !app
            .password_credentials
            .iter()
            .any(|p| p.key_id == secret_ref)
        {
            return Ok(()); // already gone
        }
        self.remove_password(&app.id, secret_ref).await
    }

    async fn list_secrets(&self, client: ClientRef<'_>) -> IdpResult<Vec<ListedSecret>> {
        Ok(self
            .application(client.client_id)
            .await?
            .password_credentials
            .into_iter()
            .map(|p| ListedSecret {
                secret_ref: p.key_id,
                enabled: true,
                expire_time: p.end_date_time,
            })
            .collect())
    }

    fn cannot_list_secrets(&self) -> Option<String> {
        None
    }

    async fn registration_changed(
        &self,
        _: ClientRef<'_>,
        _: &ClientUpdate,
        _: &RegistrationEvent,
    ) -> IdpResult<()> {
        // Access to an API is granted by its app roles (admin consent), outside dcr.
        Ok(())
    }

    async fn find_by_marker(&self, application_id: Uuid) -> IdpResult<Option<String>> {
        let filter = format!("tags/any(t:t eq '{}')", odata(&tag(application_id)));
        let filter: String = url::form_urlencoded::byte_serialize(filter.as_bytes()).collect();
        let answer = self
            .graph(
                reqwest::Method::GET,
                &format!("applications?$filter={filter}&$select=id,appId"),
                None,
                "Graph find application",
                Repeat::Idempotent,
            )
            .await?;
        let listing: Listing = json(&answer, "Graph find application")?;
        Ok(listing.value.into_iter().next().map(|a| a.app_id))
    }

    async fn list_marked_clients(&self) -> IdpResult<Vec<MarkedClient>> {
        // Every app dcr makes carries the tag "dcr" beside its marker tag.
        let filter: String =
            url::form_urlencoded::byte_serialize(b"tags/any(t:t eq 'dcr')").collect();
        let mut url = format!(
            "{}/v1.0/applications?$filter={filter}&$select=appId,tags&$top=999",
            self.graph
        );
        let mut marked = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self.graph_url(&url, "Graph list applications").await?;
            let page: TaggedPage = json(&answer, "Graph list applications")?;
            marked.extend(page.value.into_iter().filter_map(|app| {
                let application_id = app
                    .tags
                    .iter()
                    .find_map(|t| Uuid::parse_str(t.strip_prefix("dcr:application:")?).ok())?;
                Some(MarkedClient {
                    client_id: app.app_id,
                    application_id,
                })
            }));
            match page.next_link {
                // The token goes only to this Graph: a next link elsewhere is refused.
                Some(next) if next.starts_with(&format!("{}/v1.0/", self.graph)) => url = next,
                Some(next) => {
                    return Err(IdpError::Rejected(format!(
                        "Graph list applications: the next page {next} is not on {}",
                        self.graph
                    )));
                }
                None => return Ok(marked),
            }
        }
        Err(IdpError::Unsupported(format!(
            "the tenant has more than {} applications tagged dcr; dcr lists at most that many",
            999 * MAX_PAGES
        )))
    }

    async fn client_exists(&self, client: ClientRef<'_>) -> IdpResult<Presence> {
        let read = self
            .graph(
                reqwest::Method::GET,
                &format!("{}?$select=id", Self::app_path(client.client_id)),
                None,
                "Graph read application",
                Repeat::Idempotent,
            )
            .await;
        Presence::of_read(read)
    }

    async fn verify(&self) -> IdpResult<String> {
        let token = self.token().await?;
        let roles = listed(&unverified_claims(token.expose_secret()), "roles");
        if !roles.iter().any(|r| PERMISSIONS.contains(&r.as_str())) {
            return Err(IdpError::Unauthorized(format!(
                "the Entra app {} lacks the Microsoft Graph application permission \
                 Application.ReadWrite.OwnedBy (grant it under API permissions, then grant \
                 admin consent); its token carries roles [{}]",
                self.client_id,
                roles.join(", ")
            )));
        }
        self.graph(
            reqwest::Method::GET,
            "applications?$top=1&$select=id",
            None,
            "Graph list applications",
            Repeat::Idempotent,
        )
        .await?;
        Ok(format!(
            "got a Microsoft Graph token (roles: {}) and listed applications",
            roles.join(", ")
        ))
    }
}
