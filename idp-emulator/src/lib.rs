//! An in-memory emulator of the identity-provider APIs dcr's provider adapters call:
//! Auth0 (Authentication + Management API v2), Okta (custom authorization server, DCR
//! API, Client Secrets API), Curity (token service, DCR + RFC 7592 management) and
//! Microsoft Entra ID (v1/v2 token endpoints, Microsoft Graph applications); and an OpenID
//! provider of its own at `/sso` where people sign in (`dcrctl login`). Each vendor
//! lives under its own first path segment of one plain-HTTP listener, with its own
//! issuer and RS256 keys; `/__emulator/` is the test control API. See `README.md` for
//! every endpoint, the reference page it follows, and the seeded credentials.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let emu = dcr_idp_emulator::spawn().await?;
//! println!("Auth0 token endpoint: {}", emu.urls.auth0_token());
//! # Ok(()) }
//! ```

// Handlers build their error answers as `Response`s deep in helpers and return them
// through `Result`; boxing every one would add noise to each call site for no measurable
// gain in a test server.
#![allow(clippy::result_large_err)]

mod auth0;
mod control;
mod curity;
mod entra;
mod faults;
mod http;
mod ids;
mod keys;
mod okta;
mod persist;
mod replication;
pub mod seed;
mod server;
mod sso;
mod state;
mod urls;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use seed::*;
pub use server::{Emulator, serve, spawn, spawn_on, spawn_with_state_file};
pub use state::{EmulatorState, Vendor};
pub use urls::Urls;

/// Every vendor route plus the control API, with fault injection, statistics and a body
/// size limit in front (and, for state from [`EmulatorState::open`], a save to its file
/// after every request that changed it). Serve it with [`serve`] to get `drop` faults;
/// under another server a `drop` fault answers 502 instead.
pub fn router(state: EmulatorState) -> Router {
    let mut routes = Router::new()
        .merge(auth0::routes())
        .merge(okta::routes())
        .merge(curity::routes())
        .merge(entra::routes())
        .merge(sso::routes())
        .merge(control::routes());
    if state.inner.persist.is_some() {
        // Innermost: it runs right after the handler, before the answer leaves.
        routes = routes.layer(axum::middleware::from_fn_with_state(
            state.clone(),
            persist::middleware,
        ));
    }
    routes
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            faults::middleware,
        ))
        .layer(DefaultBodyLimit::max(http::MAX_BODY))
        .with_state(state)
}
