//! End-to-end tests across the services, in one test binary: the compose file's services
//! as processes (compose), who may call what on every service (roles), and TLS on every
//! hop (tls).

mod compose;
mod roles;
mod tls;
