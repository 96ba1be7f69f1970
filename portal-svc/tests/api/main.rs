//! portal-svc end to end over HTTP: people sign in at the IdP emulator's OpenID provider
//! (the real authorization code flow, as the portal's confidential client), and work with
//! a real registry-svc (on a fresh database) as themselves. A small cookie-keeping client
//! plays the browser; tests/browser drives real Chromium through the same flows.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod gateway;
mod helpers;

mod admin;
mod admin_config;
mod admin_ops;
mod apps;
mod browser;
mod oidc_provider;
mod safety;
mod sign_in;
