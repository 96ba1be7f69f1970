//! Test support for running docker-compose.yml's services as local processes (see
//! tests/compose.rs): the compose file as compose reads it, the rewriting one host needs,
//! processes with health checks, and the demo's echo upstream.

pub mod compose;
pub mod echo;
pub mod interpolate;
pub mod process;
pub mod rewrite;
