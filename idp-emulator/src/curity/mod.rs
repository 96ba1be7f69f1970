//! Curity Identity Server: the token service profile at `{root}/curity` with its
//! anonymous OAuth endpoints, non-templatized Dynamic Client Registration (RFC 7591) and
//! DCR management (RFC 7592).

mod registration;

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::http::{client_creds, json, json_with, parse_params, split_scopes};
use crate::ids::secret_eq;
use crate::seed::{CURITY_INITIAL_CLIENT_ID, CURITY_INITIAL_CLIENT_SECRET};
use crate::state::{EmulatorState, Vendor, World};
use crate::urls::Urls;

/// Access-token lifetime of the emulated profile (Curity's default is 300 s).
const TOKEN_TTL: i64 = 300;

#[derive(Serialize, Deserialize)]
pub(crate) struct Client {
    pub client_id: String,
    pub secret: String,
    /// Scopes the client may request.
    pub scopes: Vec<String>,
    pub grant_types: Vec<String>,
    /// Registered metadata returned by RFC 7592 reads (DCR clients only).
    pub metadata: Map<String, Value>,
    pub issued_at: i64,
    /// Current registration access token and its expiry (DCR clients only).
    pub rat: Option<(String, i64)>,
}

#[derive(Serialize, Deserialize)]
pub(crate) struct Server {
    pub clients: Vec<Client>,
    /// `jti`s of initial access tokens already spent: a `dcr` token registers one client.
    pub spent_tokens: BTreeSet<String>,
}

impl Server {
    pub fn seeded() -> Self {
        Self {
            clients: vec![Client {
                client_id: CURITY_INITIAL_CLIENT_ID.into(),
                secret: CURITY_INITIAL_CLIENT_SECRET.into(),
                scopes: vec!["dcr".into()],
                grant_types: vec!["client_credentials".into()],
                metadata: Map::new(),
                issued_at: 0,
                rat: None,
            }],
            spent_tokens: BTreeSet::new(),
        }
    }

    pub fn client(&self, id: &str) -> Option<&Client> {
        self.clients.iter().find(|c| c.client_id == id)
    }
}

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route(
            "/curity/oauth/v2/oauth-anonymous/.well-known/openid-configuration",
            get(discovery),
        )
        .route("/curity/oauth/v2/oauth-anonymous/jwks", get(jwks))
        .route("/curity/oauth/v2/oauth-token", post(token))
        .route("/curity/oauth/v2/oauth-introspect", post(introspect))
        .route(
            "/curity/token-service/oauth-registration",
            post(registration::register),
        )
        .route(
            "/curity/token-service/oauth-registration/{id}",
            get(registration::read)
                .put(registration::update)
                .delete(registration::remove),
        )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        json!({ "error": error, "error_description": description }),
    )
}

/// OpenID Provider metadata of the token service profile.
/// Follows <https://curity.io/docs/identity-server/token-service-admin-guide/endpoints/>
/// (endpoint kinds `oauth-token`, `oauth-introspect`, `oauth-anonymous`, `oauth-dynamic-client-registration`).
async fn discovery(State(st): State<EmulatorState>) -> Response {
    let u = st.urls();
    let base = format!("{}/curity/oauth/v2", u.root);
    json(
        StatusCode::OK,
        json!({
            "issuer": u.curity_issuer(),
            "authorization_endpoint": format!("{base}/oauth-authorize"),
            "token_endpoint": u.curity_token(),
            "introspection_endpoint": u.curity_introspect(),
            "registration_endpoint": u.curity_registration(),
            "revocation_endpoint": format!("{base}/oauth-revoke"),
            "userinfo_endpoint": format!("{base}/oauth-userinfo"),
            "jwks_uri": u.curity_jwks(),
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token", "implicit", "password", "urn:ietf:params:oauth:grant-type:device_code"],
            "response_types_supported": ["code", "token", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
            "scopes_supported": ["openid", "profile", "email", "dcr", "dcrm"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["plain", "S256"],
        }),
    )
}

/// The profile's signing keys.
/// Follows <https://curity.io/docs/identity-server/token-service-admin-guide/endpoints/> (anonymous endpoint, `/jwks`).
async fn jwks(State(st): State<EmulatorState>) -> Response {
    let body = st.with(|w| w.keys.get(Vendor::Curity).jwks(&Map::new()));
    json(StatusCode::OK, body)
}

/// Authenticates a client by Basic or `client_id`/`client_secret` in the form body.
fn authenticate<'a>(
    w: &'a World,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<&'a Client, Response> {
    let unauthorized = || {
        json_with(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client", "error_description": "Client authentication failed" }),
            &[("www-authenticate", "Basic realm=\"oauth\"".into())],
        )
    };
    let creds = client_creds(headers, params).ok_or_else(unauthorized)?;
    match w.curity.client(&creds.id) {
        Some(c)
            if creds
                .secret
                .as_deref()
                .is_some_and(|s| secret_eq(s, &c.secret)) =>
        {
            Ok(c)
        }
        _ => Err(unauthorized()),
    }
}

/// Client credentials grant. Requested scopes must be among the client's scopes; the
/// initial client gets `dcr` this way, and the token is the registration's initial
/// access token.
/// Follows <https://curity.io/docs/identity-server/token-service-admin-guide/flows/client-credentials-flow/>
/// and <https://curity.io/resources/learn/non-templatized-dcr/>.
async fn token(State(st): State<EmulatorState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(params) = parse_params(&headers, &body, false) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Expected a form-encoded body",
        );
    };
    let urls = st.urls().clone();
    st.with(|w| {
        let client = match authenticate(w, &headers, &params) {
            Ok(c) => c,
            Err(resp) => return resp,
        };
        if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The grant type is not supported",
            );
        }
        if !client.grant_types.iter().any(|g| g == "client_credentials") {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "The client is not allowed to use this grant type",
            );
        }
        let scopes = params
            .get("scope")
            .map(|s| split_scopes(s))
            .unwrap_or_default();
        if let Some(bad) = scopes.iter().find(|s| !client.scopes.contains(s)) {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                &format!("The scope '{bad}' is not allowed for this client"),
            );
        }
        match issue(w, &urls, &client.client_id.clone(), &scopes) {
            Ok(access_token) => json(
                StatusCode::OK,
                json!({
                    "access_token": access_token,
                    "scope": scopes.join(" "),
                    "token_type": "bearer",
                    "expires_in": TOKEN_TTL,
                }),
            ),
            Err(resp) => resp,
        }
    })
}

fn issue(w: &World, urls: &Urls, client_id: &str, scopes: &[String]) -> Result<String, Response> {
    let now = w.now_secs();
    let claims = json!({
        "jti": crate::ids::guid(),
        "iss": urls.curity_issuer(),
        "sub": client_id,
        "client_id": client_id,
        "aud": client_id,
        "scope": scopes.join(" "),
        "purpose": "access_token",
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_TTL,
    });
    w.keys.get(Vendor::Curity).sign(&claims, &[]).map_err(|_| {
        oauth_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "signing failed",
        )
    })
}

/// A valid, unexpired access token of this profile: its claims.
pub(crate) fn valid_token(w: &World, urls: &Urls, token: &str) -> Option<Value> {
    w.keys
        .get(Vendor::Curity)
        .verify(token)
        .filter(|c| c["iss"].as_str() == Some(urls.curity_issuer().as_str()))
        .filter(|c| c["purpose"].as_str() == Some("access_token"))
        .filter(|c| c["exp"].as_i64().is_some_and(|exp| exp > w.now_secs()))
}

/// Token introspection (RFC 7662) by an authenticated client.
/// Follows <https://curity.io/docs/identity-server/token-service-admin-guide/endpoints/> (`oauth-introspect`).
async fn introspect(State(st): State<EmulatorState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(params) = parse_params(&headers, &body, false) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Expected a form-encoded body",
        );
    };
    let urls = st.urls().clone();
    st.with(|w| {
        if let Err(resp) = authenticate(w, &headers, &params) {
            return resp;
        }
        let body = match params.get("token").and_then(|t| valid_token(w, &urls, t)) {
            Some(c) => json!({
                "active": true,
                "sub": c["sub"],
                "client_id": c["client_id"],
                "scope": c["scope"],
                "aud": c["aud"],
                "iss": c["iss"],
                "exp": c["exp"],
                "iat": c["iat"],
                "nbf": c["nbf"],
                "purpose": c["purpose"],
                "token_type": "bearer",
            }),
            None => json!({ "active": false }),
        };
        json(StatusCode::OK, body)
    })
}
