//! Domain types of the registry. They are built from requests by parsing (see
//! `crate::api::convert`), so code that holds one knows it is valid.

pub mod application;
pub mod owner;
pub mod provider;
pub mod strategy;
pub mod validate;

pub use application::{
    AppState, Application, Credential, IdpClientState, ListedRegistration, Registration,
    RegistrationStatus,
};
pub use owner::Owner;
pub use provider::{Provider, ProviderConfig, ProviderSecrets, ProviderType};
pub use strategy::{ApiProduct, AuthMethod, AuthStrategy};
