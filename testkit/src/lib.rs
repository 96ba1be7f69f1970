//! Test support shared by the services' integration suites: a fresh database per test,
//! captured logs, real peers (node oidc-provider, a Kong-contract bridge, Envoy) and registry-svc
//! started in-process with typed clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[cfg(feature = "authz")]
pub mod authz;
#[cfg(feature = "browser")]
pub mod browser;
#[cfg(feature = "emulator")]
pub mod emulator;
pub mod envoy;
pub mod load;
pub mod otlp;
pub mod peers;
pub mod people;
pub mod reflection;
#[cfg(feature = "registry")]
pub mod registry;
#[cfg(feature = "registry")]
pub mod sqlite;
pub mod tls;
#[cfg(feature = "token")]
pub mod token;
pub mod web_client;
