//! The provider's metadata (OpenID Connect Discovery 1.0, RFC 8414) and its keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, json};

use super::SCOPES;
use crate::http::json;
use crate::state::EmulatorState;

/// `GET /sso/.well-known/openid-configuration` (and `oauth-authorization-server`).
pub(super) async fn discovery(State(st): State<EmulatorState>) -> Response {
    let u = st.urls();
    json(
        StatusCode::OK,
        json!({
            "issuer": u.sso_issuer(),
            "authorization_endpoint": u.sso_authorize(),
            "token_endpoint": u.sso_token(),
            "userinfo_endpoint": u.sso_userinfo(),
            "revocation_endpoint": u.sso_revoke(),
            "jwks_uri": u.sso_jwks(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            // Public clients (none) and confidential web clients (HTTP Basic only).
            "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
            "scopes_supported": SCOPES,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "name", "preferred_username", "email", "email_verified", "groups"],
            "authorization_response_iss_parameter_supported": true,
        }),
    )
}

/// `GET /sso/jwks`.
pub(super) async fn jwks(State(st): State<EmulatorState>) -> Response {
    let body = st.with(|w| w.sso.keys.jwks(&Map::new()));
    json(StatusCode::OK, body)
}
