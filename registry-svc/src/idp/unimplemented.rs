//! Provider types whose adapters have not landed yet: every IdP call says so.

use uuid::Uuid;

use super::{
    ClientRef, ClientUpdate, CreatedClient, IdpAdapter, IdpError, IdpResult, IssuedSecret,
    NewClient, RegistrationEvent,
};
use crate::domain::{IdpClientState, ProviderType};

pub(super) struct Unimplemented(pub ProviderType);

impl Unimplemented {
    fn error(&self) -> IdpError {
        IdpError::Unimplemented(format!(
            "the {} adapter is not implemented yet: providers of this type can be configured, \
             but applications cannot be created on them",
            self.0.as_str()
        ))
    }
}

#[async_trait::async_trait]
impl IdpAdapter for Unimplemented {
    async fn create_client(&self, _: &NewClient) -> IdpResult<CreatedClient> {
        Err(self.error())
    }
    async fn update_client(
        &self,
        _: ClientRef<'_>,
        _: &ClientUpdate,
    ) -> IdpResult<Option<IdpClientState>> {
        Err(self.error())
    }
    async fn delete_client(&self, _: ClientRef<'_>) -> IdpResult<()> {
        Err(self.error())
    }
    async fn regenerate_secret(&self, _: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        Err(self.error())
    }
    async fn add_secret(&self, _: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        Err(self.error())
    }
    async fn revoke_secret(&self, _: ClientRef<'_>, _: &str) -> IdpResult<()> {
        Err(self.error())
    }
    async fn registration_changed(
        &self,
        _: ClientRef<'_>,
        _: &ClientUpdate,
        _: &RegistrationEvent,
    ) -> IdpResult<()> {
        Err(self.error())
    }
    async fn find_by_marker(&self, _: Uuid) -> IdpResult<Option<String>> {
        Err(self.error())
    }
    async fn verify(&self) -> IdpResult<String> {
        Err(self.error())
    }
}
