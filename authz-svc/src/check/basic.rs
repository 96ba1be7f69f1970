//! Client credentials (HTTP Basic): exchanged for a token through token-svc, which asks the
//! IdP (so the IdP, not dcr, judges the secret), cached here by a keyed hash of the secret
//! and the client's generation (a change of the client retires the entry).

use std::sync::Arc;

use dcr_common::directory::ProductEntry;
use dcr_proto::token::v1 as tok;

use super::{Caller, Checker};
use crate::decision::{BASIC, CredentialType, Denial, DenyReason, challenge};

impl Checker {
    /// The caller Basic credentials prove: the exchanged token, verified like any bearer
    /// token, must name the same client.
    pub(super) async fn client_credentials(
        &self,
        source: &str,
        client_id: &str,
        secret: &str,
        product: &ProductEntry,
    ) -> Result<Caller, Denial> {
        let token = self.exchange(source, client_id, secret, product).await?;
        let caller = self
            .bearer(source, &token, product, CredentialType::ClientCredentials)
            .await?;
        if caller.client_id != client_id {
            return Err(Denial::new(
                DenyReason::InvalidClient,
                "the token names another client",
                challenge(product.strategy.methods),
            ));
        }
        Ok(caller)
    }

    /// A token for Basic credentials, through token-svc (cached there and here).
    async fn exchange(
        &self,
        source: &str,
        client_id: &str,
        secret: &str,
        product: &ProductEntry,
    ) -> Result<String, Denial> {
        let audience = product.audience.as_deref().unwrap_or_default();
        let generation = self.directory.generation(client_id);
        let material = format!("{client_id}\u{0}{secret}\u{0}{audience}\u{0}{generation}");
        let key = *blake3::keyed_hash(&self.mac_key, material.as_bytes()).as_bytes();
        if let Some(token) = self.basic.get(&key).await {
            self.stats.lookup("basic", true);
            return Ok(token.to_string());
        }
        self.stats.lookup("basic", false);
        if self.source_exhausted(source) {
            return Err(Denial::rate_limited("attempts from this address", BASIC));
        }
        let request = tok::IssueTokenRequest {
            client_id: client_id.to_owned(),
            client_secret: secret.to_owned(),
            scopes: product.strategy.scopes.clone(),
            audience: audience.to_owned(),
        };
        let refused = |why: &'static str, challenge: &'static str| {
            Denial::new(DenyReason::InvalidClient, why, challenge)
        };
        match self.tokens.issue(request).await {
            Ok(response) => {
                if response.expires_in > 60 {
                    let token: Arc<str> = Arc::from(response.access_token.as_str());
                    self.basic.insert(key, token).await;
                }
                Ok(response.access_token)
            }
            Err(status) => Err(match status.code() {
                tonic::Code::Unauthenticated => refused("client authentication failed", BASIC),
                tonic::Code::InvalidArgument => refused(
                    "the identity provider refused the request",
                    challenge(product.strategy.methods),
                ),
                // token-svc's limit for this client id (attempts that would reach the IdP).
                tonic::Code::ResourceExhausted => {
                    Denial::rate_limited("attempts with these credentials", BASIC)
                }
                _ => Denial::unavailable("token-svc"),
            }),
        }
    }
}
