//! One adapter per IdP type behind one trait. The lifecycle code (`crate::lifecycle`)
//! only ever talks to `IdpAdapter`; each adapter speaks its vendor's management API.

mod auth0;
mod client_assertion;
mod curity;
mod discovery;
mod entra;
mod http;
mod http_bridge;
mod jwt_claims;
mod management_token;
mod okta;
mod replication;
mod retry;
mod rfc7591;
#[cfg(test)]
pub(crate) mod test_keys;
mod vendor_api;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use url::Url;
use uuid::Uuid;

use crate::domain::validate::UrlPolicy;
use crate::domain::{IdpClientState, Provider, ProviderConfig};

pub use client_assertion::AssertionKey;
pub use discovery::{Discovery, ProbeFailure};

/// Microsoft Graph, where azure_ad providers name no other.
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";

/// What dcr asks the IdP to create. `application_id` is the idempotency marker: adapters
/// put it where the IdP keeps it (client metadata, name, tags) when the API allows.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub application_id: Uuid,
    pub developer_id: String,
    pub strategy_id: Uuid,
    pub name: String,
    pub description: String,
    pub redirect_uris: Vec<Url>,
    pub scopes: Vec<String>,
}

/// An IdP client's current metadata, for updates and event hooks.
pub type ClientUpdate = NewClient;

/// A secret the IdP just issued. The plaintext lives only until it is returned.
#[derive(Debug)]
pub struct IssuedSecret {
    pub client_secret: SecretString,
    /// The IdP's id for this secret, where it has one.
    pub secret_ref: String,
    pub expire_time: Option<DateTime<Utc>>,
    /// New adapter state, when the call changed it (e.g. a rotated RFC 7592 token).
    pub state: Option<IdpClientState>,
}

#[derive(Debug)]
pub struct CreatedClient {
    pub client_id: String,
    pub secret: IssuedSecret,
    pub state: IdpClientState,
    /// How the client must send its secret to the token endpoint, where the IdP enforces
    /// the one it was created with (Auth0): token-svc uses exactly this one. None: not
    /// known, token-svc chooses from the IdP's discovery document.
    pub auth_method: Option<dcr_common::oauth::ClientAuthMethod>,
}

/// A client dcr manages: its id and the adapter's state for it.
#[derive(Debug, Clone, Copy)]
pub struct ClientRef<'a> {
    pub client_id: &'a str,
    pub state: &'a IdpClientState,
}

/// A registration change, for IdPs that want to hear about them (bridge event hooks).
#[derive(Debug, Clone)]
pub struct RegistrationEvent {
    pub added: bool,
    pub product_id: Uuid,
    pub audience: String,
    /// The registration's scopes: the developer's choice, else the strategy's.
    pub scopes: Vec<String>,
}

/// A client at the IdP that carries dcr's marker, as listed there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarkedClient {
    pub client_id: String,
    /// The application id the marker names.
    pub application_id: Uuid,
}

/// A secret the IdP holds for a client, as listed there (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSecret {
    /// The IdP's id for it (`Credential::idp_ref`).
    pub secret_ref: String,
    /// False when deactivated there (an Okta INACTIVE secret).
    pub enabled: bool,
    /// When the IdP stops accepting it, where it expires secrets (Entra's `endDateTime`).
    pub expire_time: Option<DateTime<Utc>>,
}

impl ListedSecret {
    /// True when it authenticates the client at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.expire_time.is_none_or(|t| t > now)
    }
}

/// Whether a client dcr manages still exists at the IdP.
#[derive(Debug, Clone)]
pub enum Presence {
    /// It exists; `state` is new adapter state when asking rotated it (an RFC 7592 read
    /// may issue a new registration access token), which the caller must keep.
    Present { state: Option<IdpClientState> },
    /// The IdP has no such client (or no longer lets dcr manage it).
    Gone,
    /// This IdP cannot say without side effects or an API to ask; the sentence says why.
    CannotTell(String),
}

impl Presence {
    /// What a plain read of the client says: it is there, or a 404 says it is gone.
    pub(super) fn of_read<T>(read: IdpResult<T>) -> IdpResult<Self> {
        match read {
            Ok(_) => Ok(Self::Present { state: None }),
            Err(IdpError::NotFound) => Ok(Self::Gone),
            Err(error) => Err(error),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// The IdP (or its configuration) cannot do this; the message says why.
    #[error("{0}")]
    Unsupported(String),
    /// The IdP refused the request for a reason in the request (OAuth error fields).
    #[error("the identity provider refused the request: {0}")]
    Rejected(String),
    /// The IdP refused dcr's management credentials.
    #[error(
        "the identity provider refused dcr's credentials ({0}); check the provider's configuration"
    )]
    Unauthorized(String),
    /// The IdP accepted a secret regeneration but kept the old secret: it does not rotate
    /// secrets this way. `state` is the adapter state after the call (it may have rotated).
    #[error("the identity provider does not issue new client secrets through RFC 7592")]
    SecretNotRotated { state: IdpClientState },
    #[error("the identity provider has no such client")]
    NotFound,
    /// The IdP already has what was asked for (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Nothing reached the IdP (connection refused, DNS): safe to retry.
    #[error("the identity provider is unreachable: {0}")]
    Unreachable(String),
    /// The IdP refused the request for now (HTTP 429: before acting on it) and asks to
    /// wait longer than dcr keeps a request open; the message says until when.
    #[error("the identity provider is rate limiting dcr: {0}")]
    RateLimited(String),
    /// The request may or may not have taken effect (timeout, 5xx, dropped connection,
    /// unreadable answer).
    #[error("the identity provider did not answer clearly: {0}")]
    Ambiguous(String),
}

impl IdpError {
    /// True when the IdP certainly did not act on the request.
    pub fn is_definite(&self) -> bool {
        !matches!(self, Self::Ambiguous(_))
    }
}

pub type IdpResult<T> = Result<T, IdpError>;

#[async_trait::async_trait]
pub trait IdpAdapter: Send + Sync {
    async fn create_client(&self, client: &NewClient) -> IdpResult<CreatedClient>;
    /// Pushes changed metadata; returns new adapter state when the IdP rotated it.
    async fn update_client(
        &self,
        client: ClientRef<'_>,
        update: &ClientUpdate,
    ) -> IdpResult<Option<IdpClientState>>;
    /// Deletes the client; a client that is already gone counts as deleted.
    async fn delete_client(&self, client: ClientRef<'_>) -> IdpResult<()>;
    /// Replaces the client's secret; the old one stops working.
    async fn regenerate_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret>;
    /// Adds a secret beside the current ones, where the IdP can hold several; with an
    /// expiry where the IdP can expire secrets.
    async fn add_secret(
        &self,
        client: ClientRef<'_>,
        expire_time: Option<DateTime<Utc>>,
    ) -> IdpResult<IssuedSecret>;
    /// True when `add_secret` honours an expiry (the IdP expires secrets itself).
    fn expires_secrets(&self) -> bool {
        false
    }
    /// True when the adapter's state for a client (`IdpClientState`) may change on a
    /// write, as the RFC 7592 registration access token does: losing the new one loses
    /// dcr's way to manage the client.
    fn state_rotates(&self) -> bool {
        false
    }
    /// Revokes one secret by its IdP reference, where the IdP can.
    async fn revoke_secret(&self, client: ClientRef<'_>, secret_ref: &str) -> IdpResult<()>;
    async fn registration_changed(
        &self,
        client: ClientRef<'_>,
        app: &ClientUpdate,
        event: &RegistrationEvent,
    ) -> IdpResult<()>;
    /// Finds a client by dcr's marker, for reconciling after a crash. None when the
    /// IdP's API cannot search (the caller then relies on the journal).
    async fn find_by_marker(&self, application_id: Uuid) -> IdpResult<Option<String>>;
    /// Every client at the IdP carrying dcr's marker, for the drift report. `Unsupported`
    /// (with a sentence for the operator) where the IdP's API cannot list clients.
    async fn list_marked_clients(&self) -> IdpResult<Vec<MarkedClient>> {
        Err(IdpError::Unsupported(
            "this provider type offers no way to list its clients".into(),
        ))
    }
    /// Every secret the IdP holds for the client, active or not, for the drift report.
    /// `Unsupported` (the sentence of `cannot_list_secrets`) where the IdP cannot list.
    async fn list_secrets(&self, _client: ClientRef<'_>) -> IdpResult<Vec<ListedSecret>> {
        Err(IdpError::Unsupported(
            self.cannot_list_secrets().unwrap_or_default(),
        ))
    }
    /// None where `list_secrets` works; else why this IdP cannot list a client's
    /// secrets, for the operator.
    fn cannot_list_secrets(&self) -> Option<String> {
        Some("this provider type offers no way to list a client's secrets".into())
    }
    /// Whether the client still exists, for the drift report. Must not change the client
    /// (no secret rotation); where only a changing read exists, `CannotTell`.
    async fn client_exists(&self, _client: ClientRef<'_>) -> IdpResult<Presence> {
        Ok(Presence::CannotTell(
            "this provider type offers no way to read a client".into(),
        ))
    }
    /// A live, harmless round trip with the stored credentials: Ok(what was checked).
    async fn verify(&self) -> IdpResult<String>;
}

/// Shared by all adapters: one HTTP client (connection pool, timeouts), the URL policy,
/// the discovery cache, the retry policy and the source of management tokens.
#[derive(Clone, Debug)]
pub struct IdpDeps {
    pub http: reqwest::Client,
    pub policy: UrlPolicy,
    pub discovery: Arc<Discovery>,
    pub retry: retry::RetryPolicy,
    pub tokens: Arc<dyn management_token::ManagementTokens>,
}

impl IdpDeps {
    pub fn new(policy: UrlPolicy, timeout: std::time::Duration) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("dcr-registry/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let retry = retry::RetryPolicy::default();
        Ok(Self {
            discovery: Arc::new(Discovery::new(http.clone(), policy)),
            tokens: Arc::new(management_token::DirectTokens::new(http.clone(), retry)),
            retry,
            http,
            policy,
        })
    }
}

/// A write-only provider field (empty when unset).
fn secret(value: &Option<SecretString>) -> SecretString {
    value.clone().unwrap_or_else(|| SecretString::from(""))
}

/// The adapter for a provider.
pub fn adapter_for(provider: &Provider, deps: &IdpDeps) -> Arc<dyn IdpAdapter> {
    match &provider.config {
        ProviderConfig::Rfc7591 {
            registration_endpoint,
            ..
        } => Arc::new(rfc7591::Rfc7591Adapter::new(
            provider.issuer.clone(),
            registration_endpoint.clone(),
            provider.secrets.initial_access_token.clone(),
            deps.clone(),
        )),
        ProviderConfig::HttpBridge {
            dcr_base_url,
            disable_event_hooks,
            disable_refresh_secret,
            allow_multiple_credentials,
        } => Arc::new(http_bridge::HttpBridgeAdapter {
            base_url: dcr_base_url.clone(),
            api_key: secret(&provider.secrets.api_key),
            provider_id: provider.id,
            disable_event_hooks: *disable_event_hooks,
            disable_refresh_secret: *disable_refresh_secret,
            allow_multiple_credentials: *allow_multiple_credentials,
            http: deps.http.clone(),
        }),
        ProviderConfig::Auth0 {
            initial_client_id,
            initial_client_audience,
            use_developer_managed_scopes,
            token_endpoint_auth_method,
        } => Arc::new(auth0::Auth0Adapter::new(
            provider.issuer.clone(),
            initial_client_id.clone(),
            secret(&provider.secrets.initial_client_secret),
            initial_client_audience.clone(),
            *use_developer_managed_scopes,
            token_endpoint_auth_method
                .unwrap_or_else(crate::domain::provider::auth0_default_auth_method),
            deps.clone(),
        )),
        ProviderConfig::Okta {
            management_client_id,
            management_key_id,
        } => Arc::new(okta::OktaAdapter {
            issuer: provider.issuer.clone(),
            auth: match management_client_id {
                Some(client_id) => okta::OktaAuth::ServiceApp {
                    client_id: client_id.clone(),
                    private_key: secret(&provider.secrets.management_private_key),
                    key_id: management_key_id.clone(),
                },
                None => okta::OktaAuth::ApiToken(secret(&provider.secrets.dcr_token)),
            },
            deps: deps.clone(),
        }),
        ProviderConfig::Curity {
            initial_client_id, ..
        } => Arc::new(curity::CurityAdapter {
            issuer: provider.issuer.clone(),
            client_id: initial_client_id.clone(),
            client_secret: secret(&provider.secrets.initial_client_secret),
            deps: deps.clone(),
        }),
        ProviderConfig::AzureAd {
            initial_client_id,
            graph_base_url,
        } => Arc::new(entra::EntraAdapter {
            issuer: provider.issuer.clone(),
            client_id: initial_client_id.clone(),
            client_secret: secret(&provider.secrets.initial_client_secret),
            graph: graph_base_url.as_ref().map_or_else(
                || DEFAULT_GRAPH.to_owned(),
                |u| u.as_str().trim_end_matches('/').to_owned(),
            ),
            deps: deps.clone(),
        }),
    }
}
