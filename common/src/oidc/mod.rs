//! The client side of a person's sign-in (OAuth 2.0 authorization code + PKCE, OpenID
//! Connect), shared by `dcrctl login` (a public native client) and portal-svc (a
//! confidential web client):
//!
//! - `pkce`: the verifier, challenge, `state` and `nonce` of one sign-in;
//! - `provider`: the identity provider over HTTP: discovery, the authorization request,
//!   the token and revocation endpoints, and the ID token's claims.
//!
//! Tokens only ever travel in request bodies or headers, never in a URL, and go only to
//! https URLs or plain http where the [`UrlPolicy`](crate::url_policy::UrlPolicy) allows.

mod errors;
mod pkce;
mod provider;

pub use errors::OidcError;
pub use pkce::OneTime;
pub use provider::{
    AuthorizationRequest, ClientAuth, Metadata, Tokens, audience_params, checked_url, discover,
    http_client, id_token_claims, jwt_payload, revoke, token_request,
};
