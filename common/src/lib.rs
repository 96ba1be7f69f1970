//! Plumbing shared by the dcr services. Nothing here knows about providers or
//! applications; it is the part every service would otherwise write again.

pub mod auth;
pub mod capped;
pub mod clock;
pub mod coalesce;
pub mod concurrency;
pub mod config;
pub mod directory;
pub mod error;
pub mod fingerprint;
pub mod jwt;
pub mod listen;
pub mod metrics;
pub mod oauth;
pub mod oidc;
pub mod otel;
pub mod peer;
pub mod person;
pub mod pki;
pub mod private_files;
pub mod rate_limit;
pub mod request_id;
pub mod seal;
pub mod server;
pub mod telemetry;
pub mod text;
pub mod tls;
pub mod url_policy;
