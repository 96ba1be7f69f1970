//! Test support shared by the services' integration suites: a fresh database per test,
//! captured logs, real peers (node oidc-provider, a Kong-contract bridge, Envoy) and registry-svc
//! started in-process with typed clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod authz;
pub mod emulator;
pub mod envoy;
pub mod load;
pub mod otlp;
pub mod peers;
pub mod registry;
pub mod sqlite;
pub mod tls;
pub mod token;
