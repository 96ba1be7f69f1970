//! From a verified caller to the decision: its application must be known and ACTIVE, the
//! credential not issued before a revocation, the registration for this product APPROVED,
//! and the required scopes granted. An allow on a strategy with sessions comes with a new
//! session cookie.

use chrono::{DateTime, Utc};
use dcr_common::directory::{ClientEntry, DirectoryError, ProductEntry};

use super::{Caller, Checker};
use crate::decision::{CredentialType, Decision, Denial, DenyReason, Principal};
use crate::session::{self, Session};

impl Checker {
    pub(super) async fn authorize(
        &self,
        caller: Caller,
        product: &ProductEntry,
        required_scopes: &[String],
        challenge: &'static str,
    ) -> Result<Decision, Denial> {
        let deny = |reason: DenyReason, why: &'static str| Denial::new(reason, why, challenge);
        let client = self.client(&caller.client_id, challenge).await?;
        let app = &client.application;
        let other_app = caller
            .session_application
            .as_ref()
            .is_some_and(|id| *id != app.id);
        if !app.active || other_app {
            return Err(deny(
                DenyReason::InvalidToken,
                "the application is not active",
            ));
        }
        if issued_before_revocation(&caller, client.revoked_before) {
            return Err(deny(
                DenyReason::InvalidToken,
                "the credential behind this token was revoked",
            ));
        }
        self.issued_through_dcr(&caller, &client, challenge).await?;
        if !client.approved_for(&product.id) {
            return Err(if client.pending_for(&product.id) {
                deny(
                    DenyReason::RegistrationPending,
                    "the registration awaits approval",
                )
            } else {
                deny(
                    DenyReason::NotRegistered,
                    "the application is not registered for this product",
                )
            });
        }
        if required_scopes.iter().any(|s| !caller.scopes.contains(s)) {
            let mut denial = deny(
                DenyReason::InsufficientScope,
                "the token lacks a required scope",
            );
            denial.scope = Some(required_scopes.join(" "));
            return Err(denial);
        }
        let expires = caller.expires;
        let principal = Principal {
            application_id: app.id.clone(),
            developer_id: app.developer_id.clone(),
            client_id: caller.client_id,
            scopes: caller.scopes,
            credential: caller.credential,
        };
        let set_cookie = (product.strategy.methods.session
            && principal.credential != CredentialType::Session)
            .then(|| self.new_session(&principal, product, expires));
        Ok(Decision::Allow {
            principal,
            set_cookie,
        })
    }

    /// While a revoked secret of the client may still work at its IdP, a token counts
    /// only if token-svc (which refuses revoked secrets) recorded handing it out: one the
    /// IdP issued directly cannot be told from one of the revoked secret.
    async fn issued_through_dcr(
        &self,
        caller: &Caller,
        client: &ClientEntry,
        challenge: &'static str,
    ) -> Result<(), Denial> {
        let Some(digest) = caller.token_digest else {
            return Ok(());
        };
        if !client.issue_records.required_for(caller.issued) {
            return Ok(());
        }
        match self
            .directory
            .issued_token_found(&caller.client_id, digest)
            .await
        {
            Ok(true) => Ok(()),
            Err(DirectoryError::Unavailable(_)) => Err(Denial::unavailable("the registry")),
            Ok(false) | Err(_) => Err(Denial::new(
                DenyReason::InvalidToken,
                "this client's tokens count only when dcr's token service issued them",
                challenge,
            )),
        }
    }

    /// The application behind a client id; unknown clients are not registered anywhere.
    async fn client(
        &self,
        client_id: &str,
        challenge: &'static str,
    ) -> Result<std::sync::Arc<ClientEntry>, Denial> {
        match self.directory.resolve_client(client_id).await {
            Ok(Some(client)) => Ok(client),
            Err(DirectoryError::Unavailable(_)) => Err(Denial::unavailable("the registry")),
            Ok(None) | Err(_) => Err(Denial::new(
                DenyReason::NotRegistered,
                "the client is not a dcr application",
                challenge,
            )),
        }
    }

    /// A `Set-Cookie` value for a session of this allow, bound to this product and
    /// ending at the strategy's session lifetime or the credential's expiry, whichever
    /// comes first.
    fn new_session(&self, principal: &Principal, product: &ProductEntry, until: i64) -> String {
        let now = self.clock.now();
        let expires = (now.timestamp() + product.strategy.session_ttl_seconds).min(until);
        let session = Session {
            application_id: principal.application_id.clone(),
            client_id: principal.client_id.clone(),
            scopes: principal.scopes.clone(),
            expires,
            issued_ms: now.timestamp_millis(),
            product_id: product.id.clone(),
            strategy_id: product.strategy.id.clone(),
            issuer: product.issuer.clone(),
            audience: product.audience.clone(),
        };
        let value = session::seal(&self.sealer, &session);
        let max_age = (expires - now.timestamp()).max(0);
        session::set_cookie(&product.strategy.session_cookie_name, &value, max_age)
    }
}

/// Was the credential issued before the app's newest revocation? A token issued in the
/// revocation's own second counts as before unless this replica saw it before then. A
/// token that does not say when it was issued (no `iat`; RFC 9068 requires one, RFC 7662
/// introspection may omit it) cannot be shown to postdate the revocation: when this
/// replica first saw it says nothing of when it was minted, so it counts as before.
fn issued_before_revocation(caller: &Caller, revoked: Option<DateTime<Utc>>) -> bool {
    let Some(revoked) = revoked else {
        return false;
    };
    match caller.issued {
        Some(iat) => {
            iat < revoked.timestamp() || (iat == revoked.timestamp() && caller.first_seen < revoked)
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(issued: Option<i64>, first_seen: DateTime<Utc>) -> Caller {
        Caller {
            client_id: "app-1".into(),
            scopes: Vec::new(),
            credential: CredentialType::Bearer,
            issued,
            first_seen,
            session_application: None,
            expires: i64::MAX,
            token_digest: None,
        }
    }

    #[test]
    fn only_credentials_shown_to_be_newer_than_the_revocation_pass() {
        let revoked = DateTime::from_timestamp(1_800_000_000, 500_000_000).unwrap_or_default();
        let later = revoked + chrono::Duration::seconds(10);
        let earlier = revoked - chrono::Duration::seconds(10);
        let at = |iat: i64| Some(iat);
        // No revocation: nothing is before it.
        assert!(!issued_before_revocation(&caller(None, later), None));
        // By iat, whenever this replica first saw the token.
        assert!(issued_before_revocation(
            &caller(at(1_799_999_990), later),
            Some(revoked)
        ));
        assert!(!issued_before_revocation(
            &caller(at(1_800_000_010), later),
            Some(revoked)
        ));
        // In the revocation's own second: by whether it was seen before the revocation.
        assert!(issued_before_revocation(
            &caller(at(1_800_000_000), earlier),
            Some(revoked)
        ));
        assert!(!issued_before_revocation(
            &caller(at(1_800_000_000), later),
            Some(revoked)
        ));
        // Without iat, first seen after the revocation proves nothing: refused.
        assert!(issued_before_revocation(
            &caller(None, later),
            Some(revoked)
        ));
    }
}
