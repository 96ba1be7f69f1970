//! Rows to domain types, once for both backends. Sealed columns are opened with the row
//! they belong to as context (`*_context`), so a sealed value moved to another row fails.

use std::time::Duration;

use dcr_common::fingerprint::SecretFingerprint;

use uuid::Uuid;

use super::dialect::{Dialect, SqlRow};
use super::sql::SqlStore;
use super::{AuditEvent, Change, Journal, Operation, OperationKind, StoreError, StoreResult};
use crate::domain::{
    ApiProduct, AppState, Application, AuthMethod, AuthStrategy, Credential, IdpClientState,
    ListedRegistration, Owner, Provider, ProviderSecrets, Registration, RegistrationStatus,
};

pub(super) fn provider_context(id: Uuid) -> String {
    format!("provider:{id}")
}

pub(super) fn app_context(id: Uuid) -> String {
    format!("application:{id}")
}

pub(super) fn op_context(id: Uuid) -> String {
    format!("operation:{id}")
}

fn from_json<T: serde::de::DeserializeOwned>(
    row: &impl SqlRow,
    column: &str,
    whose: &str,
) -> StoreResult<T> {
    serde_json::from_value(row.json(column)?)
        .map_err(|e| StoreError::Corrupt(format!("{whose} {column}: {e}")))
}

impl<D: Dialect> SqlStore<D> {
    pub(super) fn provider(&self, row: &D::Row) -> StoreResult<Provider> {
        let id = row.id("id")?;
        let whose = format!("provider {id}");
        let sealed = row.bytes("secrets_sealed")?;
        let secrets = ProviderSecrets::from_json(&self.unseal(&sealed, &provider_context(id))?)
            .map_err(|e| StoreError::Corrupt(format!("{whose} secrets: {e}")))?;
        Ok(Provider {
            id,
            name: row.text("name")?,
            display_name: row.text("display_name")?,
            issuer: row.text("issuer")?,
            config: from_json(row, "config", &whose)?,
            secrets,
            labels: from_json(row, "labels", &whose)?,
            active: row.bool("active")?,
            create_time: row.time("create_time")?,
            update_time: row.time("update_time")?,
        })
    }

    pub(super) fn operation(&self, row: &D::Row) -> StoreResult<Operation> {
        let id = row.id("id")?;
        let journal = match row.opt_bytes("journal_sealed")? {
            None => None,
            Some(sealed) => {
                let plain = self.unseal(&sealed, &op_context(id))?;
                Some(
                    super::journal::from_json(&plain)
                        .map_err(|e| StoreError::Corrupt(format!("operation {id} journal: {e}")))?,
                )
            }
        };
        let kind = row.text("kind")?;
        Ok(Operation {
            id,
            application_id: row.id("application_id")?,
            provider_id: row.id("provider_id")?,
            kind: OperationKind::parse(&kind)
                .ok_or_else(|| StoreError::Corrupt(format!("operation {id} kind {kind:?}")))?,
            journal,
            attempts: i32::try_from(row.int("attempts")?).unwrap_or(i32::MAX),
            lease_until: row.time("lease_until")?,
            credential_id: row.opt_id("credential_id")?,
            product_id: row.opt_id("product_id")?,
        })
    }

    /// The journal as sealed into `idp_operations.journal_sealed`.
    pub(super) fn seal_journal(&self, op_id: Uuid, journal: &Journal) -> Vec<u8> {
        let plain = zeroize::Zeroizing::new(super::journal::to_json(journal));
        self.seal(&plain, &op_context(op_id))
    }

    /// An application's IdP state as sealed into `applications.idp_state_sealed`.
    pub(super) fn seal_state(&self, app_id: Uuid, state: &IdpClientState) -> Vec<u8> {
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&state.0).unwrap_or_default());
        self.seal(&plain, &app_context(app_id))
    }
}

pub(super) fn strategy(row: &impl SqlRow) -> StoreResult<AuthStrategy> {
    let ttl = row.int("session_ttl_seconds")?;
    Ok(AuthStrategy {
        id: row.id("id")?,
        name: row.text("name")?,
        provider_id: row.id("provider_id")?,
        credential_claims: row.texts("credential_claims")?,
        scopes: row.texts("scopes")?,
        audience: row.text("audience")?,
        auth_methods: row
            .texts("auth_methods")?
            .iter()
            .filter_map(|m| AuthMethod::parse(m))
            .collect(),
        session_cookie_name: row.text("session_cookie_name")?,
        session_ttl: Duration::from_secs(u64::try_from(ttl).unwrap_or(0)),
        auto_approve: row.bool("auto_approve")?,
        create_time: row.time("create_time")?,
        update_time: row.time("update_time")?,
    })
}

pub(super) fn product(row: &impl SqlRow) -> StoreResult<ApiProduct> {
    Ok(ApiProduct {
        id: row.id("id")?,
        name: row.text("name")?,
        description: row.text("description")?,
        strategy_id: row.id("strategy_id")?,
        audience: row.text("audience")?,
        create_time: row.time("create_time")?,
        update_time: row.time("update_time")?,
    })
}

pub(super) fn application(row: &impl SqlRow) -> StoreResult<Application> {
    let id = row.id("id")?;
    let state = row.text("state")?;
    Ok(Application {
        id,
        owner: {
            let kind = row.text("owner_kind")?;
            Owner::parse(&kind, row.text("developer_id")?).ok_or_else(|| {
                StoreError::Corrupt(format!("application {id} has an owner of kind {kind:?}"))
            })?
        },
        name: row.text("name")?,
        description: row.text("description")?,
        strategy_id: row.id("strategy_id")?,
        client_id: row.opt_text("client_id")?,
        redirect_uris: row
            .texts("redirect_uris")?
            .iter()
            .map(|u| {
                u.parse()
                    .map_err(|e| StoreError::Corrupt(format!("application {id} redirect uri: {e}")))
            })
            .collect::<StoreResult<_>>()?,
        state: AppState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("application {id} state {state}")))?,
        failure_reason: row.text("failure_reason")?,
        attention: row.text("attention")?,
        request_id: row.opt_text("request_id")?,
        create_time: row.time("create_time")?,
        update_time: row.time("update_time")?,
    })
}

pub(super) fn credential(row: &impl SqlRow) -> StoreResult<Credential> {
    Ok(Credential {
        id: row.id("id")?,
        application_id: row.id("application_id")?,
        secret_hint: row.text("secret_hint")?,
        idp_ref: row.text("idp_ref")?,
        create_time: row.time("create_time")?,
        expire_time: row.opt_time("expire_time")?,
        revoke_time: row.opt_time("revoke_time")?,
        fingerprint: match (
            row.opt_bytes("secret_salt")?,
            row.opt_bytes("secret_digest")?,
        ) {
            (Some(salt), Some(digest)) => Some(
                SecretFingerprint::from_parts(&salt, &digest)
                    .ok_or_else(|| StoreError::Corrupt("credential fingerprint".into()))?,
            ),
            _ => None,
        },
    })
}

pub(super) fn registration(row: &impl SqlRow) -> StoreResult<Registration> {
    let status = row.text("status")?;
    Ok(Registration {
        id: row.id("id")?,
        application_id: row.id("application_id")?,
        product_id: row.id("product_id")?,
        status: RegistrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("registration status {status}")))?,
        scopes: row.texts("scopes")?,
        create_time: row.time("create_time")?,
        update_time: row.time("update_time")?,
    })
}

/// A registration joined with its application's `application_name`, `owner_kind` and
/// `developer_id` (see `registrations_page`).
pub(super) fn listed_registration(row: &impl SqlRow) -> StoreResult<ListedRegistration> {
    let kind = row.text("owner_kind")?;
    Ok(ListedRegistration {
        registration: registration(row)?,
        application_name: row.text("application_name")?,
        owner: Owner::parse(&kind, row.text("developer_id")?).ok_or_else(|| {
            StoreError::Corrupt(format!("an application has an owner of kind {kind:?}"))
        })?,
    })
}

/// The kinds the change log holds, as the static names `Change` carries.
fn kind_name(kind: &str) -> &'static str {
    match kind {
        "provider" => "provider",
        "strategy" => "strategy",
        "product" => "product",
        "application" => "application",
        "credential" => "credential",
        "registration" => "registration",
        _ => "unknown",
    }
}

pub(super) fn change(row: &impl SqlRow) -> StoreResult<Change> {
    Ok(Change {
        seq: row.int("seq")?,
        kind: kind_name(&row.text("kind")?),
        action: row.text("action")?,
        resource_id: row.text("resource_id")?,
        application_id: row.text("application_id")?,
        client_id: row.text("client_id")?,
        time: row.time("time")?,
    })
}

pub(super) fn audit_event(row: &impl SqlRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: row.int("id")?,
        time: row.time("time")?,
        actor: row.text("actor")?,
        role: row.text("role")?,
        actor_name: row.opt_text("actor_name")?,
        actor_email: row.opt_text("actor_email")?,
        action: row.text("action")?,
        resource_type: row.text("resource_type")?,
        resource_id: row.text("resource_id")?,
        outcome: row.text("outcome")?,
    })
}
