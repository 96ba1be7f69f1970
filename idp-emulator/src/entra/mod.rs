//! Microsoft Entra ID: one tenant's login endpoints at `{root}/entra/{tenant}` (v1 and v2
//! token endpoints, discovery, keys) and the Microsoft Graph `applications` and
//! `servicePrincipals` APIs at `{root}/graph/v1.0`.

mod graph;
mod graph_query;
mod passwords;
mod service_principals;
mod token;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::http::json;
use crate::seed::{
    ENTRA_GRAPH_APP_ID, ENTRA_INITIAL_CLIENT_ID, ENTRA_INITIAL_CLIENT_SECRET, ENTRA_TENANT_ID,
};
use crate::state::{EmulatorState, Vendor};

pub(crate) use graph::graph_error_body;

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Password {
    pub key_id: String,
    pub display_name: Option<String>,
    pub secret: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Password {
    /// Entra shows the first three characters of a secret as its hint.
    pub fn hint(&self) -> String {
        self.secret.chars().take(3).collect()
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Application {
    /// Object id.
    pub id: String,
    /// Application (client) id.
    pub app_id: String,
    pub display_name: String,
    pub description: Option<String>,
    pub notes: Option<String>,
    pub tags: Vec<String>,
    pub sign_in_audience: String,
    pub identifier_uris: Vec<String>,
    /// The `api` object (`requestedAccessTokenVersion` decides the token format).
    pub api: Map<String, Value>,
    /// Other writable properties (`web`, `spa`, `requiredResourceAccess`, ...), as sent.
    pub extra: Map<String, Value>,
    pub passwords: Vec<Password>,
    pub created: DateTime<Utc>,
    /// Object ids of owning service principals.
    pub owners: Vec<String>,
}

impl Application {
    pub fn new(display_name: String, now: DateTime<Utc>) -> Self {
        let mut api = Map::new();
        api.insert("acceptMappedClaims".into(), Value::Null);
        api.insert("knownClientApplications".into(), json!([]));
        api.insert("requestedAccessTokenVersion".into(), Value::Null);
        api.insert("oauth2PermissionScopes".into(), json!([]));
        api.insert("preAuthorizedApplications".into(), json!([]));
        Self {
            id: crate::ids::guid(),
            app_id: crate::ids::guid(),
            display_name,
            description: None,
            notes: None,
            tags: Vec::new(),
            sign_in_audience: "AzureADMyOrg".into(),
            identifier_uris: Vec::new(),
            api,
            extra: Map::new(),
            passwords: Vec::new(),
            created: now,
            owners: Vec::new(),
        }
    }

    /// Tokens for this resource are v2.0 only when its API asks for them.
    pub fn wants_v2_tokens(&self) -> bool {
        self.api
            .get("requestedAccessTokenVersion")
            .and_then(Value::as_i64)
            == Some(2)
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ServicePrincipal {
    pub id: String,
    pub app_id: String,
}

/// An application permission (app role) granted to a client app on a resource app.
#[derive(Serialize, Deserialize)]
pub(crate) struct RoleGrant {
    pub client_app_id: String,
    pub resource_app_id: String,
    pub roles: Vec<String>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Directory {
    pub apps: Vec<Application>,
    pub sps: Vec<ServicePrincipal>,
    pub role_grants: Vec<RoleGrant>,
}

impl Directory {
    pub fn seeded(now: DateTime<Utc>) -> Self {
        let mut dir = Self {
            apps: Vec::new(),
            sps: Vec::new(),
            role_grants: Vec::new(),
        };
        dir.seed_app(
            Some(ENTRA_INITIAL_CLIENT_ID.into()),
            "dcr management (emulator seed)".into(),
            ENTRA_INITIAL_CLIENT_SECRET.into(),
            vec!["Application.ReadWrite.OwnedBy".into()],
            now,
        );
        dir
    }

    /// Creates an app with a service principal, one password and Graph app roles.
    pub fn seed_app(
        &mut self,
        app_id: Option<String>,
        name: String,
        secret: String,
        graph_roles: Vec<String>,
        now: DateTime<Utc>,
    ) -> &Application {
        let mut app = Application::new(name, now);
        if let Some(id) = app_id {
            app.app_id = id;
        }
        app.passwords.push(Password {
            key_id: crate::ids::guid(),
            display_name: Some("seeded".into()),
            secret,
            start: now,
            end: now + chrono::Duration::days(730),
        });
        self.sps.push(ServicePrincipal {
            id: crate::ids::guid(),
            app_id: app.app_id.clone(),
        });
        if !graph_roles.is_empty() {
            self.role_grants.push(RoleGrant {
                client_app_id: app.app_id.clone(),
                resource_app_id: ENTRA_GRAPH_APP_ID.into(),
                roles: graph_roles,
            });
        }
        self.apps.retain(|a| a.app_id != app.app_id);
        self.apps.push(app);
        let idx = self.apps.len() - 1;
        &self.apps[idx]
    }

    pub fn app_by_app_id(&self, app_id: &str) -> Option<&Application> {
        self.apps
            .iter()
            .find(|a| a.app_id.eq_ignore_ascii_case(app_id))
    }

    pub fn sp_for(&self, app_id: &str) -> Option<&ServicePrincipal> {
        self.sps
            .iter()
            .find(|s| s.app_id.eq_ignore_ascii_case(app_id))
    }

    pub fn roles(&self, client_app_id: &str, resource_app_id: &str) -> Vec<String> {
        self.role_grants
            .iter()
            .filter(|g| g.client_app_id == client_app_id && g.resource_app_id == resource_app_id)
            .flat_map(|g| g.roles.iter().cloned())
            .collect()
    }
}

/// The AADSTS error body of the login endpoints.
pub(crate) fn aadsts_body(error: &str, code: u32, message: &str) -> Value {
    let now = Utc::now();
    let timestamp = now.format("%Y-%m-%d %H:%M:%SZ").to_string();
    let trace_id = crate::ids::guid();
    let correlation_id = crate::ids::guid();
    json!({
        "error": error,
        "error_description": format!(
            "AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {timestamp}"
        ),
        "error_codes": [code],
        "timestamp": timestamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
    })
}

pub(crate) fn aadsts(status: StatusCode, error: &str, code: u32, message: &str) -> Response {
    json(status, aadsts_body(error, code, message))
}

pub(crate) fn tenant_not_found(tenant: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    )
}

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route(
            "/entra/{tenant}/v2.0/.well-known/openid-configuration",
            get(discovery_v2),
        )
        .route(
            "/entra/{tenant}/.well-known/openid-configuration",
            get(discovery_v1),
        )
        .route("/entra/{tenant}/discovery/v2.0/keys", get(keys))
        .route("/entra/{tenant}/discovery/keys", get(keys))
        .route("/entra/{tenant}/oauth2/v2.0/token", post(token::token_v2))
        .route("/entra/{tenant}/oauth2/token", post(token::token_v1))
        .merge(graph::routes())
}

/// v2.0 OpenID Provider metadata.
/// Follows <https://learn.microsoft.com/en-us/entra/identity-platform/v2-protocols-oidc#find-your-apps-openid-configuration-document-uri>.
async fn discovery_v2(State(st): State<EmulatorState>, Path(tenant): Path<String>) -> Response {
    if tenant != ENTRA_TENANT_ID {
        return tenant_not_found(&tenant);
    }
    let u = st.urls();
    let login = u.entra_login();
    json(
        StatusCode::OK,
        json!({
            "token_endpoint": u.entra_v2_token(),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": u.entra_jwks(),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": u.entra_v2_issuer(),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{}/oidc/userinfo", u.graph_resource()),
            "authorization_endpoint": format!("{login}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{login}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{login}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": format!("{login}/kerberos"),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": u.graph_resource(),
            "rbac_url": "https://pas.windows.net",
        }),
    )
}

/// v1.0 OpenID Provider metadata (issuer is the `sts` form).
/// Follows <https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-issuer>.
async fn discovery_v1(State(st): State<EmulatorState>, Path(tenant): Path<String>) -> Response {
    if tenant != ENTRA_TENANT_ID {
        return tenant_not_found(&tenant);
    }
    let u = st.urls();
    let login = u.entra_login();
    json(
        StatusCode::OK,
        json!({
            "token_endpoint": u.entra_v1_token(),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{login}/discovery/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
            "scopes_supported": ["openid"],
            "issuer": u.entra_v1_issuer(),
            "authorization_endpoint": format!("{login}/oauth2/authorize"),
            "end_session_endpoint": format!("{login}/oauth2/logout"),
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "msgraph_host": u.graph_resource(),
        }),
    )
}

/// The tenant's signing keys (shared by v1 and v2 tokens).
/// Follows <https://learn.microsoft.com/en-us/entra/identity-platform/access-tokens#validate-the-signature>.
async fn keys(State(st): State<EmulatorState>, Path(_tenant): Path<String>) -> Response {
    let issuer = st.urls().entra_v2_issuer();
    let body = st.with(|w| {
        let mut extra = Map::new();
        extra.insert("issuer".into(), json!(issuer));
        let mut jwks = w.keys.get(Vendor::AzureAd).jwks(&extra);
        // Entra publishes the certificate thumbprint as `x5t`; the emulator uses the kid.
        if let Some(keys) = jwks["keys"].as_array_mut() {
            for k in keys {
                k["x5t"] = k["kid"].clone();
            }
        }
        jwks
    });
    json(StatusCode::OK, body)
}
