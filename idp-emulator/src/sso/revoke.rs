//! Token revocation (RFC 7009) for login clients: a refresh token ends its sign-in
//! (the grant). Access tokens are self-contained JWTs that live out their 10 minutes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::grants::hash;
use super::issue::oauth_error;
use crate::http::{basic_auth, parse_params};
use crate::state::EmulatorState;

/// `POST /sso/revoke` (`token`, `client_id`, optional `token_type_hint`): 200 whether or
/// not the token was known (RFC 7009 section 2.2); `invalid_client` for an unknown client.
pub(super) async fn revoke(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(params) = parse_params(&headers, &body, false) else {
        return oauth_error(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    if basic_auth(&headers).is_some() || params.contains_key("client_secret") {
        return oauth_error(
            "invalid_client",
            "login clients are public: send client_id and no secret",
        );
    }
    let Some(token) = params.get("token") else {
        return oauth_error("invalid_request", "token is missing");
    };
    let client_id = params.get("client_id").map_or("", String::as_str);
    st.with_mut(|w| {
        if w.sso.client(client_id).is_none() {
            return oauth_error("invalid_client", "unknown client");
        }
        let token_hash = hash(token);
        // Only the client's own grants: another client's token is left alone, and the
        // answer is the same 200 either way.
        let found = w
            .sso
            .grants
            .iter()
            .find(|g| {
                g.client_id == client_id
                    && (g.refresh_hash.as_deref() == Some(token_hash.as_str())
                        || g.spent.contains(&token_hash))
            })
            .map(|g| g.id.clone());
        if let Some(id) = found {
            w.sso.revoke_grant(&id);
        }
        StatusCode::OK.into_response()
    })
}
