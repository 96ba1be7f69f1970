//! Curity Identity Server: RFC 7591 registration authorized by an access token with the
//! `dcr` scope (client credentials of the provider's initial client; Curity spends such a
//! token on one registration, so it is fetched fresh each time), then RFC 7592 with the
//! registration access token — https://curity.io/docs/idsvr/latest/token-service-admin-guide/dcr/dcr-api.html
//!
//! Curity rotates the client secret and the registration access token on every RFC 7592
//! read or update (https://curity.io/resources/learn/dynamic-client-registration-management/).
//! So one `GET` is its secret regeneration, and dcr does not push name or description
//! changes there: that would silently replace the developer's secret.

use secrecy::{ExposeSecret as _, SecretString};
use uuid::Uuid;

use super::jwt_claims::{listed, unverified_claims};
use super::rfc7591::Rfc7591Adapter;
use super::vendor_api::{ManagementClient, management_token};
use super::{
    ClientRef, ClientUpdate, CreatedClient, IdpAdapter, IdpDeps, IdpError, IdpResult, IssuedSecret,
    MarkedClient, NewClient, Presence, RegistrationEvent,
};
use crate::domain::IdpClientState;

pub(super) struct CurityAdapter {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub deps: IdpDeps,
}

impl CurityAdapter {
    /// A fresh access token with the `dcr` scope.
    async fn dcr_token(&self) -> IdpResult<SecretString> {
        let client = ManagementClient {
            issuer: &self.issuer,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            // What dcr has always sent here; not yet a provider setting (issue 14).
            auth_method: dcr_common::oauth::ClientAuthMethod::ClientSecretBasic,
            refusal_hint: "",
        };
        management_token(&self.deps, &client, &[("scope", "dcr")], true).await
    }

    fn registration(&self, token: Option<SecretString>) -> Rfc7591Adapter {
        Rfc7591Adapter::new(self.issuer.clone(), None, token, self.deps.clone())
    }
}

#[async_trait::async_trait]
impl IdpAdapter for CurityAdapter {
    fn state_rotates(&self) -> bool {
        true // RFC 7592 lets every write rotate the registration access token
    }

    async fn create_client(&self, client: &NewClient) -> IdpResult<CreatedClient> {
        let token = self.dcr_token().await?;
        self.registration(Some(token)).create_client(client).await
    }

    async fn update_client(
        &self,
        client: ClientRef<'_>,
        _: &ClientUpdate,
    ) -> IdpResult<Option<IdpClientState>> {
        tracing::info!(
            client_id = client.client_id,
            "not pushing metadata to Curity: an RFC 7592 update there replaces the client secret"
        );
        Ok(None)
    }

    async fn delete_client(&self, client: ClientRef<'_>) -> IdpResult<()> {
        self.registration(None).delete_client(client).await
    }

    async fn regenerate_secret(&self, client: ClientRef<'_>) -> IdpResult<IssuedSecret> {
        self.registration(None).read_rotating(client).await
    }

    async fn add_secret(
        &self,
        _: ClientRef<'_>,
        _: Option<chrono::DateTime<chrono::Utc>>,
    ) -> IdpResult<IssuedSecret> {
        Err(IdpError::Unsupported(
            "a Curity dynamic client holds one secret, which Curity replaces on every RFC 7592 \
             read; use RegenerateSecret"
                .into(),
        ))
    }

    fn cannot_list_secrets(&self) -> Option<String> {
        Some(
            "a Curity dynamic client holds one secret, and reading it (RFC 7592) replaces it: \
             there is no list of secrets to compare with dcr's credentials"
                .into(),
        )
    }

    async fn revoke_secret(&self, _: ClientRef<'_>, _: &str) -> IdpResult<()> {
        Err(IdpError::Unsupported(
            "a Curity dynamic client holds one secret; it cannot be revoked on its own (use \
             RegenerateSecret or DeleteApplication)"
                .into(),
        ))
    }

    async fn registration_changed(
        &self,
        _: ClientRef<'_>,
        _: &ClientUpdate,
        _: &RegistrationEvent,
    ) -> IdpResult<()> {
        Ok(())
    }

    async fn find_by_marker(&self, _: Uuid) -> IdpResult<Option<String>> {
        Ok(None) // RFC 7592 has no search; the operation journal covers crashes
    }

    async fn list_marked_clients(&self) -> IdpResult<Vec<MarkedClient>> {
        Err(IdpError::Unsupported(
            "Curity's DCR endpoint (RFC 7591/7592) has no call that lists clients".into(),
        ))
    }

    async fn client_exists(&self, _: ClientRef<'_>) -> IdpResult<Presence> {
        // The only read, RFC 7592 GET, issues a new secret at Curity: asking would break
        // the developer's credentials.
        Ok(Presence::CannotTell(
            "Curity issues a new client secret on every RFC 7592 read, so dcr cannot check \
             a client without breaking its secret"
                .into(),
        ))
    }

    async fn verify(&self) -> IdpResult<String> {
        let token = self.dcr_token().await?;
        let scopes = listed(&unverified_claims(token.expose_secret()), "scope");
        if !scopes.is_empty() && !scopes.iter().any(|s| s == "dcr") {
            return Err(IdpError::Unauthorized(format!(
                "the Curity client {} got a token without the dcr scope (scopes: {}); allow it \
                 the dcr scope in the token profile",
                self.client_id,
                scopes.join(" ")
            )));
        }
        let detail = self.registration(Some(token)).verify().await?;
        Ok(format!(
            "got a dcr-scoped token as {}; {detail}",
            self.client_id
        ))
    }
}
