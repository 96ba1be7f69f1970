//! Token revocation (RFC 7009) for login clients, authenticated as at the token endpoint
//! ([`super::client_auth`]): a refresh token ends its sign-in
//! (the grant). Access tokens are self-contained JWTs that live out their 10 minutes.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth::authenticate;
use super::grants::hash;
use super::issue::oauth_error;
use crate::http::parse_params;
use crate::state::EmulatorState;

/// `POST /sso/revoke` (`token`, the client's `client_id` or Basic credentials, optional
/// `token_type_hint`): 200 whether or not the token was known (RFC 7009 section 2.2);
/// `invalid_client` when the client does not authenticate.
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
    let Some(token) = params.get("token") else {
        return oauth_error("invalid_request", "token is missing");
    };
    st.with_mut(|w| {
        let client_id = match authenticate(&w.sso, &headers, &params) {
            Ok(client) => client.client_id.clone(),
            Err(resp) => return resp,
        };
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
