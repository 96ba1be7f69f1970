//! Okta, through its Dynamic Client Registration API and Client Secrets API, as an API
//! token (`Authorization: SSWS {dcr_token}`) or as an OAuth 2.0 service app (`Bearer`
//! tokens of the org authorization server, client authentication `private_key_jwt`;
//! what Okta recommends: https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/).
//!
//! - create: `POST {org}/oauth2/v1/clients` (RFC 7591 shape; a `service` app with the
//!   `client_credentials` grant) — https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/#tag/Client/operation/createClient
//!   with `token_endpoint_auth_method` `client_secret_basic` (Okta's default, said
//!   explicitly); Okta's token endpoints accept a client's secret only by its method
//!   (https://developer.okta.com/docs/api/openapi/okta-oauth/guides/client-auth), so the
//!   method Okta answers with is recorded for token-svc.
//!   Okta keeps no custom metadata, so dcr's marker is the end of the client name:
//!   `"{name} [dcr:{application id}]"`.
//! - update: `GET` then `PUT {org}/oauth2/v1/clients/{id}` (PUT replaces the metadata).
//! - delete: `DELETE {org}/oauth2/v1/clients/{id}`.
//! - regenerate: `POST {org}/oauth2/v1/clients/{id}/lifecycle/newSecret`.
//! - several secrets: `{org}/api/v1/apps/{id}/credentials/secrets` (create; deactivate,
//!   then delete to revoke) — https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationSSOCredentialOAuth2ClientAuth/
//!   Listing them (`GET`, each with its `id` and `status` ACTIVE or INACTIVE) feeds the
//!   drift report's comparison with dcr's credentials.
//! - find by marker, list marked clients (drift report): `GET {org}/oauth2/v1/clients`
//!   page by page (`Link: rel="next"`); whether one client exists: `GET` it.
//!
//! The org is the issuer without its authorization server path
//! (`https://acme.okta.com/oauth2/default` -> `https://acme.okta.com`).
//!
//! A service app gets its tokens by client credentials at the org authorization server,
//! `{org}/oauth2/v1/token` (only it mints tokens with Okta API scopes), authenticating
//! with a client assertion signed by `management_private_key` (`client_assertion`),
//! for exactly [`SCOPES`]; they are cached like every management token and dropped when a
//! management call refuses one.

use dcr_common::oauth::ClientAuthMethod;
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use url::Url;
use uuid::Uuid;

use super::http::{Answer, json};
use super::jwt_claims::{listed, unverified_claims};
use super::management_token::{ClientAuth, ManagementGrant};
use super::retry::Repeat;
use super::vendor_api::{bearer, gone_is_done, issued_secret, json_call};
use super::{
    ClientRef, ClientUpdate, CreatedClient, IdpAdapter, IdpDeps, IdpError, IdpResult, IssuedSecret,
    ListedSecret, MarkedClient, NewClient, Presence, RegistrationEvent,
};
use crate::domain::IdpClientState;

/// How the clients dcr creates send their secret: Basic, Okta's default.
const CREATED_AUTH_METHOD: ClientAuthMethod = ClientAuthMethod::ClientSecretBasic;
/// Clients per page (Okta's maximum `limit` for listing clients; its default is 20).
const PAGE: usize = 200;
/// Pages read at most while searching for a marker or listing marked clients.
const MAX_PAGES: usize = 100;

/// The Okta API scopes a service app's tokens are asked for: for each endpoint dcr
/// calls, the scope its reference names (https://developer.okta.com/docs/api/oauth2/,
/// and per endpoint in the Client and ApplicationSSOCredentialOAuth2ClientAuth
/// references linked above): list and read clients `okta.clients.read`; register
/// `okta.clients.register`; replace, delete and newSecret `okta.clients.manage`; list
/// secrets `okta.apps.read`; add, deactivate and delete secrets `okta.apps.manage`.
macro_rules! scopes {
    () => {
        "okta.clients.read okta.clients.register okta.clients.manage okta.apps.read okta.apps.manage"
    };
}
pub(super) const SCOPES: &str = scopes!();

/// Where the service app's settings are, in the Okta Admin Console.
const APP: &str = "Okta Admin Console: Applications > Applications > <the service app>";

/// What to check when Okta refuses the service app's client assertion (401
/// `invalid_client`: "The client_assertion signature is invalid.",
/// https://support.okta.com/help/s/article/error-occurs-during-authentication-due-to-invalid-client-assertion-signature;
/// "The client_assertion JWT kid is invalid.",
/// https://support.okta.com/help/s/article/okta-client-assertion-error-invalid-key-id).
const KEY_HINT: &str = "check the service app in the Okta Admin Console (Applications > \
     Applications > <the service app> > General): its Client ID must be \
     management_client_id, Client authentication must be Public key / Private key, and the \
     public key of management_private_key must be one of its Public keys; when that key has \
     a KID there, set management_key_id to it";

/// A service app with "Require Demonstrating Proof of Possession (DPoP) header in token
/// requests" on answers a token request without a DPoP proof with 400
/// `invalid_dpop_proof`, "The DPoP proof JWT header is missing."
/// (https://support.okta.com/help/s/article/the-dpop-proof-jwt-header-is-missing), and
/// one without its nonce with `use_dpop_nonce`. dcr sends no DPoP proofs.
const DPOP_HINT: &str = "the service app requires DPoP-bound tokens, which dcr does not \
     use: turn off \"Require Demonstrating Proof of Possession (DPoP) header in token \
     requests\" (Okta Admin Console: Applications > Applications > <the service app> > \
     General > General Settings > Edit)";

/// Okta's token endpoint errors that an admin fixes in the Admin Console, with how.
const TOKEN_HINTS: &[(&str, &str)] = &[
    ("invalid_client", KEY_HINT),
    ("invalid_dpop_proof", DPOP_HINT),
    ("use_dpop_nonce", DPOP_HINT),
    (
        "invalid_scope",
        concat!(
            "dcr asks for ",
            scopes!(),
            ": grant each of them to the service app on its Okta API Scopes tab (Okta Admin \
             Console: Applications > Applications > <the service app> > Okta API Scopes > \
             Grant)"
        ),
    ),
    (
        "unauthorized_client",
        "the app must be an API Services app (a service app) allowed the Client \
         Credentials grant",
    ),
];

/// How dcr authenticates to Okta's management APIs.
pub(super) enum OktaAuth {
    /// An API token: `Authorization: SSWS {token}`.
    ApiToken(SecretString),
    /// An OAuth 2.0 service app: `Authorization: Bearer {token}`, its tokens obtained
    /// with client assertions signed by `private_key` (PEM).
    ServiceApp {
        client_id: String,
        private_key: SecretString,
        key_id: Option<String>,
    },
}

pub(super) struct OktaAdapter {
    pub issuer: String,
    pub auth: OktaAuth,
    pub deps: IdpDeps,
}

#[derive(Deserialize)]
struct Secret {
    id: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    client_secret: Option<String>,
}

fn segment(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn marker(application_id: Uuid) -> String {
    format!("[dcr:{application_id}]")
}

/// The `rel="next"` target of a `Link` header (RFC 8288).
fn next_link(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all("link")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find(|part| part.contains("rel=\"next\""))
        .and_then(|part| {
            let start = part.find('<')? + 1;
            let end = part.find('>')?;
            part.get(start..end).map(str::to_owned)
        })
}

/// The application id in a client's name marker, if it carries one.
fn marker_of(client: &Map<String, Value>) -> Option<Uuid> {
    let name = client.get("client_name")?.as_str()?;
    let inner = name.strip_suffix(']')?;
    let at = inner.rfind("[dcr:")?;
    Uuid::parse_str(&inner[at + "[dcr:".len()..]).ok()
}

impl OktaAdapter {
    /// Every OAuth client of the org, page by page (`Link: rel="next"`), up to
    /// `MAX_PAGES`; the flag is false when clients were left unread.
    async fn all_clients(&self) -> IdpResult<(Vec<Map<String, Value>>, bool)> {
        let mut url = format!("{}/oauth2/v1/clients?limit={PAGE}", self.org());
        let mut clients = Vec::new();
        for _ in 0..MAX_PAGES {
            let answer = self
                .api(
                    reqwest::Method::GET,
                    &url,
                    None,
                    "Okta list clients",
                    Repeat::Idempotent,
                )
                .await?;
            let page: Vec<Map<String, Value>> = json(&answer, "Okta list clients")?;
            clients.extend(page);
            match next_link(&answer) {
                // The API token goes only to this org: a next link elsewhere is refused.
                Some(next) if next.starts_with(&format!("{}/", self.org())) => url = next,
                Some(next) => {
                    return Err(IdpError::Rejected(format!(
                        "Okta list clients: the next page {next} is not on {}",
                        self.org()
                    )));
                }
                None => return Ok((clients, true)),
            }
        }
        Ok((clients, false))
    }

    /// `https://acme.okta.com` for issuers `https://acme.okta.com` and
    /// `https://acme.okta.com/oauth2/{server}`.
    fn org(&self) -> &str {
        let issuer = self.issuer.trim_end_matches('/');
        match issuer.find("/oauth2/") {
            Some(at) => &issuer[..at],
            None => issuer,
        }
    }

    /// The org authorization server's token endpoint, where a service app gets tokens.
    fn token_endpoint(&self) -> IdpResult<Url> {
        let url = format!("{}/oauth2/v1/token", self.org());
        crate::domain::validate::idp_url(&url, self.deps.policy)
            .map_err(|e| IdpError::Rejected(format!("Okta token endpoint {url} {e}")))
    }

    /// The service app's token request at `endpoint`, for [`SCOPES`]; None for an API
    /// token provider.
    fn service_grant<'a>(&'a self, endpoint: &'a Url) -> Option<ManagementGrant<'a>> {
        let OktaAuth::ServiceApp {
            client_id,
            private_key,
            key_id,
        } = &self.auth
        else {
            return None;
        };
        Some(ManagementGrant {
            token_endpoint: endpoint,
            client_id,
            client_noun: "service app",
            auth: ClientAuth::PrivateKeyJwt {
                private_key,
                key_id: key_id.as_deref(),
            },
            refusal_hint: KEY_HINT,
            error_hints: TOKEN_HINTS,
            params: &[("scope", SCOPES)],
            single_use: false,
        })
    }

    /// The service app's token (cached unless `fresh`).
    async fn service_token(&self, fresh: bool) -> IdpResult<SecretString> {
        let endpoint = self.token_endpoint()?;
        let grant = self.service_grant(&endpoint).ok_or_else(|| {
            IdpError::Unsupported("this Okta provider has an API token, no service app".into())
        })?;
        if fresh {
            self.deps.tokens.forget(&grant);
        }
        self.deps.tokens.token(&grant).await
    }

    /// After Okta refused a service app's token: the cached token is dropped (the next
    /// call gets a new one, with the scopes and roles granted by then) and the error
    /// says where to grant what is missing.
    fn refused_service_token(&self, error: IdpError) -> IdpError {
        let (IdpError::Unauthorized(detail), OktaAuth::ServiceApp { client_id, .. }) =
            (&error, &self.auth)
        else {
            return error;
        };
        if let Ok(endpoint) = self.token_endpoint()
            && let Some(grant) = self.service_grant(&endpoint)
        {
            self.deps.tokens.forget(&grant);
        }
        let hint = if detail.contains("insufficient_scope") {
            format!(
                "grant that scope to the service app {client_id} on its Okta API Scopes tab \
                 ({APP} > Okta API Scopes > Grant); dcr needs {SCOPES}"
            )
        } else {
            // Okta names a missing scope in its challenge; a 403 without one is the
            // admin role (https://support.okta.com/help/s/article/how-to-assign-the-correct-admin-role-to-a-service-application).
            format!(
                "the service app {client_id} needs an admin role that may manage OAuth \
                 apps, such as Application Administrator or API Access Management \
                 Administrator ({APP} > Admin roles)"
            )
        };
        IdpError::Unauthorized(format!("{detail}; {hint}"))
    }

    async fn api(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
        what: &str,
        repeat: Repeat,
    ) -> IdpResult<Answer> {
        let authorization = match &self.auth {
            OktaAuth::ApiToken(token) => {
                SecretString::from(format!("SSWS {}", token.expose_secret()))
            }
            OktaAuth::ServiceApp { .. } => bearer(&self.service_token(false).await?),
        };
        json_call(&self.deps, method, url, &authorization, body, what, repeat)
            .await
            .map_err(|error| self.refused_service_token(error))
    }

    fn client_url(&self, client_id: &str) -> String {
        format!("{}/oauth2/v1/clients/{}", self.org(), segment(client_id))
    }

    fn secrets_url(&self, client_id: &str) -> String {
        format!(
            "{}/api/v1/apps/{}/credentials/secrets",
            self.org(),
            segment(client_id)
        )
    }

    fn metadata(client: &NewClient) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert(
            "client_name".into(),
            json!(format!("{} {}", client.name, marker(client.application_id))),
        );
        body.insert("application_type".into(), json!("service"));
        body.insert("grant_types".into(), json!(["client_credentials"]));
        body.insert("response_types".into(), json!(["token"]));
        body.insert(
            "token_endpoint_auth_method".into(),
            json!(CREATED_AUTH_METHOD.as_str()),
        );
        body
    }

    async fn secrets(&self, client_id: &str) -> IdpResult<Vec<Secret>> {
        let answer = self
            .api(
                reqwest::Method::GET,
                &self.secrets_url(client_id),
                None,
                "Okta list client secrets",
                Repeat::Idempotent,
            )
            .await?;
        json(&answer, "Okta list client secrets")
    }

    /// The id of the client's one active secret (the one just issued), for revocation.
    async fn active_secret_id(&self, client_id: &str) -> IdpResult<String> {
        let active: Vec<Secret> = self
            .secrets(client_id)
            .await?
            .into_iter()
            .filter(|s| s.status == "ACTIVE")
            .collect();
        Ok(match active.as_slice() {
            [only] => only.id.clone(),
            _ => String::new(),
        })
    }
}

fn secret_from(body: &Map<String, Value>, what: &str) -> IdpResult<SecretString> {
    let secret = body.get("client_secret").and_then(Value::as_str);
    issued_secret(secret.map(str::to_owned), what)
}

#[async_trait::async_trait]
impl IdpAdapter for OktaAdapter {
    async fn create_client(&self, client: &NewClient) -> IdpResult<CreatedClient> {
        let url = format!("{}/oauth2/v1/clients", self.org());
        let body = Value::Object(Self::metadata(client));
        let answer = self
            .api(
                reqwest::Method::POST,
                &url,
                Some(&body),
                "Okta create client",
                Repeat::Once,
            )
            .await?;
        let created: Map<String, Value> = json(&answer, "Okta create client")?;
        let client_id = created
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or_else(|| IdpError::Ambiguous("Okta create client: no client_id".into()))?
            .to_owned();
        let client_secret = secret_from(&created, "Okta create client")?;
        // Best effort: without the secret's id it can still be replaced, only not revoked
        // on its own.
        let secret_ref = self.active_secret_id(&client_id).await.unwrap_or_default();
        Ok(CreatedClient {
            client_id,
            secret: IssuedSecret {
                client_secret,
                secret_ref,
                expire_time: None,
                state: None,
            },
            state: IdpClientState::default(),
            // What Okta says the client has, else what was asked for.
            auth_method: Some(
                created
                    .get("token_endpoint_auth_method")
                    .and_then(Value::as_str)
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
        let url = self.client_url(client.client_id);
        let answer = self
            .api(
                reqwest::Method::GET,
                &url,
                None,
                "Okta read client",
                Repeat::Idempotent,
            )
            .await?;
        let mut body: Map<String, Value> = json(&answer, "Okta read client")?;
        for server_only in [
            "client_secret",
            "client_id_issued_at",
            "client_secret_expires_at",
            "_links",
        ] {
            body.remove(server_only);
        }
        body.insert("client_id".into(), json!(client.client_id));
        body.insert(
            "client_name".into(),
            json!(format!("{} {}", update.name, marker(update.application_id))),
        );
        self.api(
            reqwest::Method::PUT,
            &url,
            Some(&Value::Object(body)),
            "Okta update client",
            Repeat::Idempotent,
        )
        .await?;
        Ok(None)
    }

    async fn delete_client(&self, client: ClientRef<'_>) -> IdpResult<()> {
        gone_is_done(
            self.api(
                reqwest::Method::DELETE,
                &self.client_url(client.client_id),
                None,
                "Okta delete client",
                Repeat::Idempotent,
            )
            .await,
        )
    }

    async fn regenerate_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        let url = format!("{}/lifecycle/newSecret", self.client_url(client.client_id));
        let answer = self
            .api(
                reqwest::Method::POST,
                &url,
                None,
                "Okta new client secret",
                Repeat::Once,
            )
            .await?;
        let body: Map<String, Value> = json(&answer, "Okta new client secret")?;
        let client_secret = secret_from(&body, "Okta new client secret")?;
        let secret_ref = self
            .active_secret_id(client.client_id)
            .await
            .unwrap_or_default();
        Ok(IssuedSecret {
            client_secret,
            secret_ref,
            expire_time: None,
            state: None,
        })
    }

    async fn add_secret(
        &self,
        client: ClientRef<'_>,
        _: Option<chrono::DateTime<chrono::Utc>>,
    ) -> IdpResult<IssuedSecret> {
        let answer = self
            .api(
                reqwest::Method::POST,
                &self.secrets_url(client.client_id),
                Some(&json!({})),
                "Okta add client secret",
                Repeat::Once,
            )
            .await?;
        let secret: Secret = json(&answer, "Okta add client secret")?;
        let client_secret = issued_secret(secret.client_secret, "Okta add client secret")?;
        Ok(IssuedSecret {
            client_secret,
            secret_ref: secret.id,
            expire_time: None,
            state: None,
        })
    }

    async fn revoke_secret(&self, client: ClientRef<'_>, secret_ref: &str) -> IdpResult<()> {
        if secret_ref.is_empty() {
            return Err(IdpError::Unsupported(
                "Okta did not name this secret when it was issued, so it cannot be revoked on \
                 its own; use RegenerateSecret"
                    .into(),
            ));
        }
        let url = format!(
            "{}/{}",
            self.secrets_url(client.client_id),
            segment(secret_ref)
        );
        // Okta deletes only inactive secrets: deactivate first (idempotent), then delete.
        match self
            .api(
                reqwest::Method::POST,
                &format!("{url}/lifecycle/deactivate"),
                None,
                "Okta deactivate client secret",
                Repeat::Idempotent,
            )
            .await
        {
            Ok(_) => {}
            Err(IdpError::NotFound) => return Ok(()),
            Err(error) => return Err(error),
        }
        gone_is_done(
            self.api(
                reqwest::Method::DELETE,
                &url,
                None,
                "Okta delete client secret",
                Repeat::Idempotent,
            )
            .await,
        )
    }

    async fn list_secrets(&self, client: ClientRef<'_>) -> IdpResult<Vec<ListedSecret>> {
        Ok(self
            .secrets(client.client_id)
            .await?
            .into_iter()
            .map(|s| ListedSecret {
                enabled: s.status == "ACTIVE",
                secret_ref: s.id,
                expire_time: None,
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
        // Okta grants scopes by authorization server policy, not per client.
        Ok(())
    }

    async fn find_by_marker(&self, application_id: Uuid) -> IdpResult<Option<String>> {
        // `q` matches the start of client_name only, and the marker is at its end.
        let (clients, _) = self.all_clients().await?;
        Ok(clients
            .iter()
            .find(|c| marker_of(c) == Some(application_id))
            .and_then(|c| c.get("client_id").and_then(Value::as_str))
            .map(str::to_owned))
    }

    async fn list_marked_clients(&self) -> IdpResult<Vec<MarkedClient>> {
        let (clients, complete) = self.all_clients().await?;
        if !complete {
            // A partial list would report every client past the cut as missing.
            return Err(IdpError::Unsupported(format!(
                "the org has more than {} OAuth clients; dcr lists at most that many",
                PAGE * MAX_PAGES
            )));
        }
        Ok(clients
            .iter()
            .filter_map(|c| {
                Some(MarkedClient {
                    client_id: c.get("client_id")?.as_str()?.to_owned(),
                    application_id: marker_of(c)?,
                })
            })
            .collect())
    }

    async fn client_exists(&self, client: ClientRef<'_>) -> IdpResult<Presence> {
        let read = self
            .api(
                reqwest::Method::GET,
                &self.client_url(client.client_id),
                None,
                "Okta read client",
                Repeat::Idempotent,
            )
            .await;
        Presence::of_read(read)
    }

    async fn verify(&self) -> IdpResult<String> {
        if let OktaAuth::ServiceApp { client_id, .. } = &self.auth {
            // A fresh token: scopes granted since the cached one was issued count.
            let token = self.service_token(true).await?;
            let granted = listed(&unverified_claims(token.expose_secret()), "scp");
            let missing: Vec<&str> = SCOPES
                .split(' ')
                .filter(|s| !granted.iter().any(|g| g == s))
                .collect();
            if !missing.is_empty() {
                return Err(IdpError::Unauthorized(format!(
                    "Okta gave the service app {client_id} a token without {}: grant {} on \
                     its Okta API Scopes tab ({APP} > Okta API Scopes > Grant)",
                    missing.join(", "),
                    if missing.len() == 1 { "it" } else { "them" }
                )));
            }
        }
        let url = format!("{}/oauth2/v1/clients?limit=1", self.org());
        let listed = self
            .api(
                reqwest::Method::GET,
                &url,
                None,
                "Okta list clients",
                Repeat::Idempotent,
            )
            .await;
        match (&self.auth, listed) {
            (OktaAuth::ApiToken(_), Ok(_)) => Ok(format!(
                "the API token lists OAuth clients at {}",
                self.org()
            )),
            (OktaAuth::ServiceApp { client_id, .. }, Ok(_)) => Ok(format!(
                "the service app {client_id} got a token at {}/oauth2/v1/token with {SCOPES} \
                 and lists OAuth clients at {}",
                self.org(),
                self.org()
            )),
            (OktaAuth::ApiToken(_), Err(IdpError::Unauthorized(detail))) => {
                Err(IdpError::Unauthorized(format!(
                    "Okta refused the API token (dcr_token): {detail}; it may be revoked or \
                     expired, or its admin may lack the Application Administrator role"
                )))
            }
            (_, Err(error)) => Err(error),
        }
    }
}
