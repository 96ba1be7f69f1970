//! People sign in: `dcrctl login` runs the OAuth 2.0 authorization code flow with PKCE
//! through the system browser and a loopback redirect (RFC 8252, OAuth 2.0 for native
//! apps), and keeps the tokens in the user's config dir; every registry call that has no
//! static token for its role then carries the person's access token, refreshed when it
//! is about to expire.
//!
//! - `store`: the tokens file (one per user, keyed by issuer; 0600 in a 0700 folder);
//! - `provider`: dcrctl's settings for `dcr_common::oidc` (the identity provider over
//!   HTTP, shared with portal-svc): its HTTP client and URL policy;
//! - `loopback`: the one-shot listener on 127.0.0.1 that receives the redirect;
//! - `browser`: opening the address when `$BROWSER` says how;
//! - `flow`: `dcrctl login` from discovery to saved tokens;
//! - `session`: the access token for a registry call, refreshed when due.

mod browser;
mod errors;
mod flow;
mod loopback;
mod provider;
pub mod session;
pub mod store;

pub use errors::LoginError;
pub use flow::{LoginOptions, login};
pub use provider::revoke;
pub use session::PersonLogin;

/// The scopes `dcrctl login` asks for by default: an ID token with the person's name,
/// email and groups, and a refresh token.
pub const DEFAULT_SCOPE: &str = "openid profile email groups offline_access";
/// The login client's id when none is given: the public client the IdP registered for
/// dcrctl (the emulator's is `dcrctl`).
pub const DEFAULT_CLIENT_ID: &str = "dcrctl";

/// Seconds since the Unix epoch by this machine's clock: when tokens were saved and
/// when they expire.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
