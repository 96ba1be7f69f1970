//! Auth0: a tenant at `{root}/auth0` with the Authentication API's client-credentials
//! token endpoint and the Management API v2 (`clients`, `client-grants`).

mod clients;
mod grants;
mod mgmt;
mod token;

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, patch, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::http::json;
use crate::seed::{AUTH0_MGMT_CLIENT_ID, AUTH0_MGMT_CLIENT_SECRET, AUTH0_MGMT_SCOPES};
use crate::state::{EmulatorState, Vendor};
use crate::urls::Urls;

/// Grant types Auth0 gives a client created without `grant_types`.
const DEFAULT_GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
];

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Client {
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    pub description: Option<String>,
    pub app_type: Option<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub client_metadata: Map<String, Value>,
    /// Other accepted client properties, stored and returned as sent.
    pub extra: Map<String, Value>,
}

impl Client {
    pub fn new(client_id: String, client_secret: String, name: String) -> Self {
        Self {
            client_id,
            client_secret,
            name,
            description: None,
            app_type: None,
            grant_types: DEFAULT_GRANT_TYPES.iter().map(|s| s.to_string()).collect(),
            token_endpoint_auth_method: "client_secret_post".into(),
            client_metadata: Map::new(),
            extra: Map::new(),
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Grant {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Tenant {
    pub clients: Vec<Client>,
    pub grants: Vec<Grant>,
    /// Identifiers of the tenant's APIs (resource servers): a token or a client grant can
    /// only name one of these as audience.
    pub resource_servers: Vec<String>,
}

impl Tenant {
    pub fn seeded(urls: &Urls) -> Self {
        let mgmt = urls.auth0_management_audience();
        let mut client = Client::new(
            AUTH0_MGMT_CLIENT_ID.into(),
            AUTH0_MGMT_CLIENT_SECRET.into(),
            "dcr management (emulator seed)".into(),
        );
        client.app_type = Some("non_interactive".into());
        client.grant_types = vec!["client_credentials".into()];
        Self {
            clients: vec![client],
            grants: vec![Grant {
                id: new_grant_id(),
                client_id: AUTH0_MGMT_CLIENT_ID.into(),
                audience: mgmt.clone(),
                scope: AUTH0_MGMT_SCOPES.iter().map(|s| s.to_string()).collect(),
            }],
            resource_servers: vec![mgmt],
        }
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == id)
    }

    pub fn client_mut(&mut self, id: &str) -> Option<&mut Client> {
        self.clients.iter_mut().find(|c| c.client_id == id)
    }

    /// Adds (or widens) a grant; used by seeding through `/__emulator/clients`.
    pub fn upsert_grant(&mut self, client_id: &str, audience: &str, scope: Vec<String>) {
        if !self.resource_servers.iter().any(|r| r == audience) {
            self.resource_servers.push(audience.to_string());
        }
        match self
            .grants
            .iter_mut()
            .find(|g| g.client_id == client_id && g.audience == audience)
        {
            Some(g) => g.scope = scope,
            None => self.grants.push(Grant {
                id: new_grant_id(),
                client_id: client_id.into(),
                audience: audience.into(),
                scope,
            }),
        }
    }
}

pub(crate) fn new_client_id() -> String {
    crate::ids::alnum(32)
}

pub(crate) fn new_client_secret() -> String {
    crate::ids::url_safe(64)
}

fn new_grant_id() -> String {
    format!("cgr_{}", crate::ids::alnum(16))
}

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route("/auth0/.well-known/openid-configuration", get(discovery))
        .route("/auth0/.well-known/jwks.json", get(jwks))
        .route("/auth0/oauth/token", post(token::token))
        .route(
            "/auth0/api/v2/clients",
            post(clients::create_client).get(clients::list_clients),
        )
        .route(
            "/auth0/api/v2/clients/{id}",
            get(clients::get_client)
                .patch(clients::update_client)
                .delete(clients::delete_client),
        )
        .route(
            "/auth0/api/v2/clients/{id}/rotate-secret",
            post(clients::rotate_secret),
        )
        .route(
            "/auth0/api/v2/client-grants",
            post(grants::create_grant).get(grants::list_grants),
        )
        .route(
            "/auth0/api/v2/client-grants/{id}",
            patch(grants::update_grant).delete(grants::delete_grant),
        )
}

/// OpenID Provider metadata.
/// Follows <https://auth0.com/docs/get-started/applications/configure-applications-with-oidc-discovery>.
async fn discovery(State(st): State<EmulatorState>) -> Response {
    let u = st.urls();
    let base = u.auth0_base();
    json(
        axum::http::StatusCode::OK,
        json!({
            "issuer": u.auth0_issuer(),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": u.auth0_token(),
            "device_authorization_endpoint": format!("{base}/oauth/device/code"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "mfa_challenge_endpoint": format!("{base}/mfa/challenge"),
            "jwks_uri": u.auth0_jwks(),
            "registration_endpoint": format!("{base}/oidc/register"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "end_session_endpoint": format!("{base}/oidc/logout"),
            "scopes_supported": ["openid", "profile", "offline_access", "name", "given_name",
                "family_name", "nickname", "email", "email_verified", "picture", "created_at",
                "identities", "phone", "address"],
            "response_types_supported": ["code", "token", "id_token", "code token",
                "code id_token", "token id_token", "code token id_token"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post",
                "private_key_jwt"],
            "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
            "request_uri_parameter_supported": false,
            "request_parameter_supported": false,
        }),
    )
}

/// The tenant's signing keys.
/// Follows <https://auth0.com/docs/secure/tokens/json-web-tokens/json-web-key-sets>.
async fn jwks(State(st): State<EmulatorState>) -> Response {
    let body = st.with(|w| w.keys.get(Vendor::Auth0).jwks(&Map::new()));
    json(axum::http::StatusCode::OK, body)
}
