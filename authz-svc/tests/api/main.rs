//! authz-svc integration tests: the whole stack in-process (registry, token-svc,
//! authz-svc) against a real Postgres and the real node oidc-provider, and a real Envoy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod bearer;
mod client_credentials;
mod envoy;
mod fast_path;
mod floods;
mod opaque;
mod otel;
mod product_names;
mod readiness;
mod request_ids;
mod revocation;
mod session;
mod vendors;
