//! Integration tests: each test spawns an emulator in-process and talks to it over real
//! HTTP, the way dcr's provider adapters will. One binary for all modules.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod auth0;
mod binary;
mod control;
mod curity;
mod entra;
mod faults;
mod fidelity;
mod helpers;
mod okta;
mod okta_service_apps;
mod persist;
mod sso;
mod sso_strict;
mod sso_web;
