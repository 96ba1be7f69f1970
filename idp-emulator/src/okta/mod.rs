//! Okta: an org at `{root}/okta` with the `default` custom authorization server
//! (`/oauth2/default`), the org authorization server's token endpoint for service apps
//! (`/oauth2/v1/token`), the org-level Dynamic Client Registration API
//! (`/oauth2/v1/clients`) and the Client Secrets API (`/api/v1/apps/{id}/credentials/secrets`).

mod client_keys;
mod clients;
mod org_token;
mod secrets;
pub(crate) mod service_apps;
mod token;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{delete, get, post};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::http::{auth_token, json};
use crate::seed::OKTA_API_TOKEN;
use crate::state::{EmulatorState, Vendor, World};
pub(crate) use service_apps::Access;

#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum SecretStatus {
    Active,
    Inactive,
}

impl SecretStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SecretStatus::Active => "ACTIVE",
            SecretStatus::Inactive => "INACTIVE",
        }
    }
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Secret {
    pub id: String,
    pub value: String,
    pub status: SecretStatus,
    pub created: DateTime<Utc>,
    pub last_updated: DateTime<Utc>,
}

impl Secret {
    pub fn new(value: String, status: SecretStatus, now: DateTime<Utc>) -> Self {
        Self {
            id: format!("ocs{}", crate::ids::alnum(17)),
            value,
            status,
            created: now,
            last_updated: now,
        }
    }
}

/// An OAuth client (Okta "app") as the DCR API sees it.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct App {
    pub client_id: String,
    pub issued_at: i64,
    pub client_name: String,
    pub application_type: String,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub token_endpoint_auth_method: String,
    /// Optional RFC 7591 string properties kept as sent (`client_uri`, `logo_uri`, ...).
    pub optional: Map<String, Value>,
    pub secrets: Vec<Secret>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct ApiToken {
    pub token: String,
    pub read_only: bool,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Org {
    pub apps: Vec<App>,
    pub api_tokens: Vec<ApiToken>,
    /// OAuth 2.0 service apps (Okta API scopes, `private_key_jwt`).
    #[serde(default)]
    pub service_apps: Vec<service_apps::ServiceApp>,
    /// Client assertion `jti`s already used (`"{client_id} {jti}"`), until their `exp`.
    #[serde(default)]
    pub assertion_jtis: std::collections::BTreeMap<String, i64>,
    /// The org's URL (`{root}/okta`), its authorization server's issuer; set from the
    /// root the emulator serves at, never stored.
    #[serde(skip)]
    pub org_url: String,
}

impl Org {
    pub fn seeded(org_url: String, _now: DateTime<Utc>) -> Self {
        Self {
            apps: Vec::new(),
            api_tokens: vec![ApiToken {
                token: OKTA_API_TOKEN.into(),
                read_only: false,
            }],
            service_apps: Vec::new(),
            assertion_jtis: Default::default(),
            org_url,
        }
    }

    pub fn service_app(&self, client_id: &str) -> Option<&service_apps::ServiceApp> {
        self.service_apps.iter().find(|a| a.client_id == client_id)
    }

    pub fn app(&self, id: &str) -> Option<&App> {
        self.apps.iter().find(|a| a.client_id == id)
    }

    pub fn app_mut(&mut self, id: &str) -> Option<&mut App> {
        self.apps.iter_mut().find(|a| a.client_id == id)
    }
}

pub(crate) fn new_client_id() -> String {
    format!("0oa{}", crate::ids::alnum(17))
}

pub(crate) fn new_secret() -> String {
    crate::ids::url_safe(64)
}

/// Okta's error body: `{errorCode, errorSummary, errorLink, errorId, errorCauses}`.
pub(crate) fn error_body(code: &str, summary: &str) -> Value {
    json!({
        "errorCode": code,
        "errorSummary": summary,
        "errorLink": code,
        "errorId": format!("oae{}", crate::ids::alnum(22)),
        "errorCauses": [],
    })
}

pub(crate) fn okta_error(
    status: StatusCode,
    code: &str,
    summary: &str,
    causes: &[&str],
) -> Response {
    let mut body = error_body(code, summary);
    body["errorCauses"] = Value::Array(
        causes
            .iter()
            .map(|c| json!({ "errorSummary": c }))
            .collect(),
    );
    json(status, body)
}

/// E0000007 for an unknown app (client), as the Apps and DCR APIs answer it.
pub(crate) fn app_not_found(id: &str) -> Response {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} (AppInstance)"),
        &[],
    )
}

/// `Authorization: SSWS <api token>`, where writes need a token that is not read-only,
/// or `Authorization: Bearer <a service app's token>` holding the endpoint's scope
/// ([`service_apps::authorize_bearer`]).
/// Follows <https://developer.okta.com/docs/guides/create-an-api-token/main/> and
/// <https://developer.okta.com/docs/reference/error-codes/>.
pub(crate) fn authorize(w: &World, headers: &HeaderMap, access: Access) -> Result<(), Response> {
    if let Some(token) = auth_token(headers, "Bearer") {
        return service_apps::authorize_bearer(w, token, access);
    }
    let write = access.write();
    let token = auth_token(headers, "SSWS");
    match token.and_then(|t| {
        w.okta
            .api_tokens
            .iter()
            .find(|a| crate::ids::secret_eq(&a.token, t))
    }) {
        None => Err(okta_error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
            &[],
        )),
        Some(t) if write && t.read_only => Err(okta_error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
            &[],
        )),
        Some(_) => Ok(()),
    }
}

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route(
            "/okta/oauth2/default/.well-known/openid-configuration",
            get(discovery),
        )
        .route(
            "/okta/oauth2/default/.well-known/oauth-authorization-server",
            get(discovery),
        )
        .route("/okta/oauth2/default/v1/keys", get(keys))
        .route("/okta/oauth2/default/v1/token", post(token::token))
        .route("/okta/oauth2/v1/token", post(org_token::token))
        .route(
            "/okta/oauth2/default/v1/introspect",
            post(token::introspect),
        )
        .route(
            "/okta/oauth2/v1/clients",
            post(clients::create).get(clients::list),
        )
        .route(
            "/okta/oauth2/v1/clients/{id}",
            get(clients::get_one)
                .put(clients::replace)
                .delete(clients::remove),
        )
        .route(
            "/okta/oauth2/v1/clients/{id}/lifecycle/newSecret",
            post(clients::generate_secret),
        )
        .route(
            "/okta/api/v1/apps/{app}/credentials/secrets",
            get(secrets::list).post(secrets::create),
        )
        .route(
            "/okta/api/v1/apps/{app}/credentials/secrets/{secret}",
            delete(secrets::remove).get(secrets::get_one),
        )
        .route(
            "/okta/api/v1/apps/{app}/credentials/secrets/{secret}/lifecycle/activate",
            post(secrets::activate),
        )
        .route(
            "/okta/api/v1/apps/{app}/credentials/secrets/{secret}/lifecycle/deactivate",
            post(secrets::deactivate),
        )
}

/// Authorization server metadata (served at both well-known paths).
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/CustomAS/#tag/CustomAS/operation/getWellKnownOpenIDConfigurationCustomAS>.
async fn discovery(State(st): State<EmulatorState>) -> Response {
    let u = st.urls();
    let issuer = u.okta_issuer();
    json(
        StatusCode::OK,
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/v1/authorize"),
            "token_endpoint": u.okta_token(),
            "registration_endpoint": u.okta_clients(),
            "jwks_uri": u.okta_jwks(),
            "introspection_endpoint": u.okta_introspect(),
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
            "revocation_endpoint": format!("{issuer}/v1/revoke"),
            "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
            "end_session_endpoint": format!("{issuer}/v1/logout"),
            "response_types_supported": ["code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
            "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
            "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password", "client_credentials", "urn:ietf:params:oauth:grant-type:device_code"],
            "subject_types_supported": ["public"],
            "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access", "device_sso"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
            "claims_supported": ["ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp", "sub"],
            "code_challenge_methods_supported": ["S256"],
            "request_parameter_supported": true,
            "request_object_signing_alg_values_supported": ["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"],
        }),
    )
}

/// The authorization server's signing keys.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/CustomAS/#tag/CustomAS/operation/oauthKeysCustomAS>.
async fn keys(State(st): State<EmulatorState>) -> Response {
    let body = st.with(|w| w.keys.get(Vendor::Okta).jwks(&Map::new()));
    json(StatusCode::OK, body)
}

/// OpenID Connect scopes: a client-credentials request may not ask for them.
pub(super) const OIDC_SCOPES: &[&str] = &[
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
    "groups",
    "device_sso",
];

pub(super) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// An Okta access token for a client credentials grant and the token endpoint's answer:
/// both of Okta's authorization servers (the org one and `default`) shape them alike and
/// give them an hour ("The lifetime for this token is fixed at one hour."). Claims per
/// <https://developer.okta.com/docs/api/openapi/okta-oauth/guides/overview/#access-token>.
pub(super) fn access_token_answer(
    w: &World,
    issuer: &str,
    audience: &str,
    client_id: &str,
    scopes: &[String],
) -> Response {
    const TOKEN_TTL: i64 = 3600;
    let now = w.now_secs();
    let claims = json!({
        "ver": 1,
        "jti": format!("AT.{}", crate::ids::url_safe(43)),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "cid": client_id,
        "scp": scopes,
        "sub": client_id,
    });
    match w.keys.get(Vendor::Okta).sign(&claims, &[]) {
        Ok(access_token) => json(
            StatusCode::OK,
            json!({
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL,
                "access_token": access_token,
                "scope": scopes.join(" "),
            }),
        ),
        Err(_) => oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "signing failed",
        ),
    }
}
