//! What the registry's DirectoryService answers, as the services use it: converted once
//! when an answer is cached, so a lookup hands out plain domain values (no `Option`s for
//! fields the registry always fills, no enum integers, no empty-string sentinels).
//! An answer missing what it must carry is an error here, and never cached.

use crate::fingerprint::SecretFingerprint;
use crate::oauth::ClientAuthMethod;
use chrono::{DateTime, Utc};
use dcr_proto::registry::v1 as pb;

use super::DirectoryError;

/// How long a session lasts when the strategy says nothing.
const DEFAULT_SESSION_TTL_SECONDS: i64 = 3600;

/// Which credentials a strategy accepts from a gateway's caller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthMethods {
    pub client_credentials: bool,
    pub bearer: bool,
    pub session: bool,
}

impl AuthMethods {
    fn from_proto(methods: &[i32]) -> Self {
        let has = |m: pb::AuthMethod| methods.contains(&(m as i32));
        Self {
            client_credentials: has(pb::AuthMethod::ClientCredentials),
            bearer: has(pb::AuthMethod::Bearer),
            session: has(pb::AuthMethod::Session),
        }
    }
}

/// What a gateway's check needs of an auth strategy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyPolicy {
    pub id: String,
    pub methods: AuthMethods,
    /// Scopes asked for when dcr exchanges client credentials for a token.
    pub scopes: Vec<String>,
    /// Token claims that may carry the client id, in order.
    pub credential_claims: Vec<String>,
    pub session_cookie_name: String,
    pub session_ttl_seconds: i64,
}

impl StrategyPolicy {
    fn from_proto(strategy: &pb::AuthStrategy) -> Self {
        Self {
            id: strategy.id.clone(),
            methods: AuthMethods::from_proto(&strategy.auth_methods),
            scopes: strategy.scopes.clone(),
            credential_claims: strategy.credential_claims.clone(),
            session_cookie_name: strategy.session_cookie_name.clone(),
            session_ttl_seconds: strategy
                .session_ttl
                .as_ref()
                .map(|d| d.seconds)
                .filter(|s| *s > 0)
                .unwrap_or(DEFAULT_SESSION_TTL_SECONDS),
        }
    }
}

/// An API product with everything a check of a call to it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductEntry {
    pub id: String,
    pub name: String,
    /// The audience tokens must carry: the product's own, else its strategy's; None when
    /// neither sets one.
    pub audience: Option<String>,
    pub strategy: StrategyPolicy,
    pub provider_id: String,
    pub provider_type: String,
    pub issuer: String,
}

impl TryFrom<pb::ResolveProductResponse> for ProductEntry {
    type Error = DirectoryError;

    fn try_from(answer: pb::ResolveProductResponse) -> Result<Self, DirectoryError> {
        let (Some(product), Some(strategy)) = (answer.product, answer.strategy) else {
            return Err(incomplete("product"));
        };
        let audience = [&product.audience, &strategy.audience]
            .into_iter()
            .find(|a| !a.is_empty())
            .cloned();
        Ok(Self {
            id: product.id,
            name: product.name,
            audience,
            strategy: StrategyPolicy::from_proto(&strategy),
            provider_id: answer.provider_id,
            provider_type: answer.provider_type,
            issuer: answer.issuer,
        })
    }
}

/// The application an OAuth client belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationEntry {
    pub id: String,
    pub developer_id: String,
    /// ACTIVE: only then do its credentials count.
    pub active: bool,
}

/// Which of a client's tokens count only if token-svc recorded handing them out
/// (`Directory::record_issued_token`): those the IdP may have issued directly for a
/// revoked secret it still takes. A token from the IdP carries nothing that names the
/// secret it was asked with, so only token-svc, which refuses revoked secrets, can vouch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IssueRecords {
    /// Every token: a revoked secret may work at the IdP now (its revocation waits for
    /// the IdP, or the IdP cannot revoke one secret of several).
    pub always: bool,
    /// Tokens issued up to this time: the IdP took a revoked secret until then.
    pub before: Option<DateTime<Utc>>,
}

impl IssueRecords {
    fn from_proto(required: bool, before: Option<prost_types::Timestamp>) -> Self {
        Self {
            always: required,
            before: before.map(|t| revocation_time(t.seconds, t.nanos)),
        }
    }

    /// Whether a token issued at `iat` (seconds; None when it does not say) counts only
    /// with token-svc's record. `iat` has whole seconds: the second of `before` counts.
    pub fn required_for(&self, iat: Option<i64>) -> bool {
        self.always
            || match (self.before, iat) {
                (None, _) => false,
                (Some(_), None) => true,
                (Some(before), Some(iat)) => iat <= before.timestamp(),
            }
    }
}

/// An OAuth client dcr created: its application, where it lives, what it may call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEntry {
    pub application: ApplicationEntry,
    pub provider_id: String,
    pub provider_type: String,
    pub issuer: String,
    pub approved_product_ids: Vec<String>,
    pub pending_product_ids: Vec<String>,
    /// The newest revocation of any of the app's credentials: tokens and sessions issued
    /// before it no longer count.
    pub revoked_before: Option<DateTime<Utc>>,
    /// Fingerprints of revoked secrets: such a secret is refused before any IdP call.
    pub revoked_secrets: Vec<SecretFingerprint>,
    /// How the client sends its secret to the IdP's token endpoint, as the IdP created
    /// it; None when the registry did not record it (older clients).
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    pub issue_records: IssueRecords,
}

impl ClientEntry {
    /// Whether `secret` is one of this client's revoked secrets.
    pub fn is_revoked_secret(&self, client_id: &str, secret: &str) -> bool {
        self.revoked_secrets
            .iter()
            .any(|print| print.matches(client_id, secret))
    }
}

impl ClientEntry {
    pub fn approved_for(&self, product_id: &str) -> bool {
        self.approved_product_ids.iter().any(|p| p == product_id)
    }

    pub fn pending_for(&self, product_id: &str) -> bool {
        self.pending_product_ids.iter().any(|p| p == product_id)
    }
}

impl TryFrom<pb::ResolveClientResponse> for ClientEntry {
    type Error = DirectoryError;

    fn try_from(answer: pb::ResolveClientResponse) -> Result<Self, DirectoryError> {
        let Some(app) = answer.application else {
            return Err(incomplete("client"));
        };
        // A fingerprint that does not parse must not quietly drop a revocation.
        let revoked_secrets = answer
            .revoked_secrets
            .iter()
            .map(|p| SecretFingerprint::from_parts(&p.salt, &p.digest))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| incomplete("client"))?;
        let revoked_before = answer
            .revoked_before
            .map(|t| revocation_time(t.seconds, t.nanos));
        Ok(Self {
            application: ApplicationEntry {
                active: app.state == pb::ApplicationState::Active as i32,
                id: app.id,
                developer_id: app.developer_id,
            },
            provider_id: answer.provider_id,
            provider_type: answer.provider_type,
            issuer: answer.issuer,
            approved_product_ids: answer.approved_product_ids,
            pending_product_ids: answer.pending_product_ids,
            revoked_before,
            revoked_secrets,
            token_endpoint_auth_method: ClientAuthMethod::parse(&answer.token_endpoint_auth_method),
            issue_records: IssueRecords::from_proto(
                answer.issue_record_required,
                answer.issue_record_required_before,
            ),
        })
    }
}

/// A client that may call a product now (ListApprovedClients): its application ACTIVE,
/// its registration for the product APPROVED.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovedClientEntry {
    pub product_id: String,
    pub client_id: String,
    pub application_id: String,
    /// As in `ClientEntry`: tokens and sessions issued before it no longer count.
    pub revoked_before: Option<DateTime<Utc>>,
    /// As in `ClientEntry`.
    pub issue_records: IssueRecords,
}

impl TryFrom<pb::ApprovedClient> for ApprovedClientEntry {
    type Error = DirectoryError;

    fn try_from(answer: pb::ApprovedClient) -> Result<Self, DirectoryError> {
        if [
            &answer.product_id,
            &answer.client_id,
            &answer.application_id,
        ]
        .iter()
        .any(|id| id.is_empty())
        {
            return Err(incomplete("approved client"));
        }
        Ok(Self {
            revoked_before: answer
                .revoked_before
                .map(|t| revocation_time(t.seconds, t.nanos)),
            issue_records: IssueRecords::from_proto(
                answer.issue_record_required,
                answer.issue_record_required_before,
            ),
            product_id: answer.product_id,
            client_id: answer.client_id,
            application_id: answer.application_id,
        })
    }
}

/// A revocation time as sent. Out of chrono's range: revoke everything rather than
/// nothing.
fn revocation_time(seconds: i64, nanos: i32) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, u32::try_from(nanos).unwrap_or(0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Fail closed on an answer without what it must carry: callers treat it as an outage.
fn incomplete(what: &str) -> DirectoryError {
    DirectoryError::Unavailable(format!("the registry sent an incomplete {what} entry"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn strategy(audience: &str) -> pb::AuthStrategy {
        pb::AuthStrategy {
            id: "s".into(),
            audience: audience.into(),
            auth_methods: vec![
                pb::AuthMethod::Bearer as i32,
                pb::AuthMethod::Session as i32,
            ],
            ..Default::default()
        }
    }

    fn product(audience: &str, strategy_audience: &str) -> pb::ResolveProductResponse {
        pb::ResolveProductResponse {
            product: Some(pb::ApiProduct {
                id: "p".into(),
                audience: audience.into(),
                ..Default::default()
            }),
            strategy: Some(strategy(strategy_audience)),
            ..Default::default()
        }
    }

    #[test]
    fn a_product_audience_wins_over_its_strategy_and_none_is_none() {
        let entry = ProductEntry::try_from(product("https://p", "https://s")).unwrap();
        assert_eq!(entry.audience.as_deref(), Some("https://p"));
        let entry = ProductEntry::try_from(product("", "https://s")).unwrap();
        assert_eq!(entry.audience.as_deref(), Some("https://s"));
        assert_eq!(
            ProductEntry::try_from(product("", "")).unwrap().audience,
            None
        );
    }

    #[test]
    fn methods_and_session_defaults_are_read_once() {
        let entry = ProductEntry::try_from(product("", "")).unwrap();
        assert_eq!(
            entry.strategy.methods,
            AuthMethods {
                client_credentials: false,
                bearer: true,
                session: true
            }
        );
        assert_eq!(entry.strategy.session_ttl_seconds, 3600);
    }

    #[test]
    fn an_incomplete_answer_is_an_outage_not_an_entry() {
        let mut answer = product("", "");
        answer.strategy = None;
        assert!(matches!(
            ProductEntry::try_from(answer),
            Err(DirectoryError::Unavailable(_))
        ));
        assert!(matches!(
            ClientEntry::try_from(pb::ResolveClientResponse::default()),
            Err(DirectoryError::Unavailable(_))
        ));
        assert!(matches!(
            ApprovedClientEntry::try_from(pb::ApprovedClient {
                product_id: "p".into(),
                ..Default::default()
            }),
            Err(DirectoryError::Unavailable(_))
        ));
    }
}
