//! End-to-end tests across the services, in one test binary: the compose file's services
//! as processes (compose), and who may call what on every service (roles).

mod compose;
mod roles;
