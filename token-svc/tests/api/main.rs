//! token-svc integration tests: registry-svc and token-svc in-process, against a real
//! Postgres and the real node oidc-provider. Run through `scripts/test`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use dcr_testkit::token as harness;

mod auth0;
mod issue;
mod keys;
mod oauth_http;
mod vendors;
