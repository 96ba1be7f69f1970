//! registry-svc integration tests: one binary (see STYLE.md), real Postgres, real peers
//! (node oidc-provider, a Kong-contract HTTP bridge, a Python grpcio client).
//! Run through `scripts/test`, which starts what they need.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dcr_testkit::{peers, registry as helpers};

mod applications;
mod auth;
mod auth0_auth;
mod binary;
mod client_auth;
mod directory;
mod drift;
mod entra_replication;
mod http_bridge;
mod input_rules;
mod okta_service_app;
mod paging;
mod people;
mod provider_secrets;
mod python_client;
mod rate_limits;
mod reconcile;
mod registrations;
mod rfc7591;
mod rotation;
mod schema;
mod secrets;
mod server;
mod sqlite;
mod store_contract;
mod validation;
mod vendors;
