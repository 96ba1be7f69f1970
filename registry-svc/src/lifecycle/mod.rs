//! Application workflows that touch the IdP, written to keep invariant 1 of docs/design.md:
//! persist intent (state + pending operation) in one transaction, call the IdP with dcr's
//! application id as marker, journal what it answered, then commit the result. The
//! reconciler (`reconcile.rs`) finishes or undoes whatever a crash interrupted.

mod applications;
mod client_changes;
mod credentials;
pub mod drift;
mod drift_repair;
mod drift_secrets;
pub mod errors;
pub mod reconcile;
mod registrations;

pub use applications::{CreatedApplication, NewApplication};
pub use credentials::RevokedCredential;
