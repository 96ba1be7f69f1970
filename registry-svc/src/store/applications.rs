//! Applications and the IdP operations that create and delete their clients
//! (invariant 1 of docs/design.md: the intent is committed before the IdP is called).
//! Credentials and registrations are in their own files; this impl delegates to them.

use chrono::{DateTime, Utc};
use dcr_common::oauth::ClientAuthMethod;
use dcr_common::text::echo;
use uuid::Uuid;

use super::dialect::{Conn, Dialect, SqlRow as _, WriteTx as _};
use super::rows::{self, app_context};
use super::sql::{
    SqlStore, app_change, classify, client_id_of, finish_page, page_limit, revoke_all, uuid_cursor,
};
use super::{
    ApplicationStore, ClientChange, Journal, Operation, Page, PageRequest, RegistrationFilter,
    StoreError, StoreResult,
};
use crate::domain::{
    Application, Credential, IdpClientState, ListedRegistration, Owner, Registration,
    RegistrationStatus,
};

fn uris(app: &Application) -> Vec<String> {
    app.redirect_uris.iter().map(|u| u.to_string()).collect()
}

pub(super) async fn insert_operation(
    tx: &mut impl Conn,
    op: &Operation,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO idp_operations (id, application_id, provider_id, kind, state, lease_until,
                                     create_time, update_time, credential_id, product_id)
         VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6, $7, $8)",
        &[
            op.id.into(),
            op.application_id.into(),
            op.provider_id.into(),
            op.kind.as_str().into(),
            op.lease_until.into(),
            now.into(),
            op.credential_id.into(),
            op.product_id.into(),
        ],
    )
    .await?;
    Ok(())
}

/// Marks an operation done; `Conflict` when it no longer was pending, or was claimed
/// since `fence` (another holder has it now).
pub(super) async fn finish_operation(
    tx: &mut impl Conn,
    op_id: Uuid,
    fence: i32,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let done = tx
        .execute(
            "UPDATE idp_operations SET state = 'done', update_time = $2
             WHERE id = $1 AND state = 'pending' AND attempts = $3",
            &[op_id.into(), now.into(), i64::from(fence).into()],
        )
        .await?;
    if done == 0 {
        return Err(lost(op_id));
    }
    Ok(())
}

fn lost(op_id: Uuid) -> StoreError {
    StoreError::Conflict(format!(
        "operation {op_id} is no longer pending, or the reconciler has taken it over"
    ))
}

#[async_trait::async_trait]
impl<D: Dialect> ApplicationStore for SqlStore<D> {
    async fn insert_application_intent(
        &self,
        app: &Application,
        op: &Operation,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO applications (id, developer_id, name, description, strategy_id,
                 client_id, redirect_uris, state, request_id, create_time, update_time,
                 owner_kind)
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $9, $10)",
            &[
                app.id.into(),
                app.owner.id().into(),
                (&app.name).into(),
                (&app.description).into(),
                app.strategy_id.into(),
                (&uris(app)).into(),
                app.state.as_str().into(),
                app.request_id.as_deref().into(),
                app.create_time.into(),
                app.owner.kind().into(),
            ],
        )
        .await
        .map_err(|e| classify(e, &format!("application named \"{}\"", echo(&app.name))))?;
        insert_operation(&mut tx, op, app.create_time).await?;
        tx.commit().await
    }

    async fn get_application(&self, id: Uuid) -> StoreResult<Option<Application>> {
        self.db
            .fetch_optional("SELECT * FROM applications WHERE id = $1", &[id.into()])
            .await?
            .as_ref()
            .map(rows::application)
            .transpose()
    }

    async fn find_application_by_request(
        &self,
        owner: &Owner,
        request_id: &str,
    ) -> StoreResult<Option<Application>> {
        self.db
            .fetch_optional(
                "SELECT * FROM applications
                 WHERE owner_kind = $1 AND developer_id = $2 AND request_id = $3",
                &[owner.kind().into(), owner.id().into(), request_id.into()],
            )
            .await?
            .as_ref()
            .map(rows::application)
            .transpose()
    }

    async fn list_applications(
        &self,
        developer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Application>> {
        let rows = self
            .db
            .fetch_all(
                "SELECT * FROM applications
                 WHERE owner_kind = 'developer' AND developer_id = $1 AND id > $2
                 ORDER BY id LIMIT $3",
                &[
                    developer_id.into(),
                    uuid_cursor(page.after.as_ref())?.into(),
                    page_limit(page.size).into(),
                ],
            )
            .await?;
        let items = rows
            .iter()
            .map(rows::application)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |a| a.id.to_string()))
    }

    async fn get_idp_state(&self, application_id: Uuid) -> StoreResult<Option<IdpClientState>> {
        let row = self
            .db
            .fetch_optional(
                "SELECT idp_state_sealed FROM applications WHERE id = $1",
                &[application_id.into()],
            )
            .await?;
        let Some(sealed) = row
            .map(|r| r.opt_bytes("idp_state_sealed"))
            .transpose()?
            .flatten()
        else {
            return Ok(None);
        };
        let plain = self.unseal(&sealed, &app_context(application_id))?;
        let value = serde_json::from_slice(&plain).map_err(|e| {
            StoreError::Corrupt(format!("application {application_id} idp state: {e}"))
        })?;
        Ok(Some(IdpClientState(value)))
    }

    async fn record_journal(&self, op_id: Uuid, fence: i32, journal: &Journal) -> StoreResult<()> {
        let written = self
            .db
            .execute(
                "UPDATE idp_operations SET journal_sealed = $2
                 WHERE id = $1 AND state = 'pending' AND attempts = $3",
                &[
                    op_id.into(),
                    (&self.seal_journal(op_id, journal)).into(),
                    i64::from(fence).into(),
                ],
            )
            .await?;
        if written == 0 {
            return Err(lost(op_id));
        }
        Ok(())
    }

    async fn complete_create(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        journal: &Journal,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        finish_operation(&mut tx, op_id, fence, now).await?;
        tx.execute(
            "UPDATE applications SET state = 'ACTIVE', client_id = $2, idp_state_sealed = $3,
                    update_time = $4, token_endpoint_auth_method = $5
             WHERE id = $1",
            &[
                app_id.into(),
                (&journal.client_id).into(),
                (&self.seal_state(app_id, &journal.idp_state)).into(),
                now.into(),
                journal.auth_method.map(ClientAuthMethod::as_str).into(),
            ],
        )
        .await
        .map_err(|e| classify(e, &format!("client \"{}\"", echo(&journal.client_id))))?;
        super::credentials::insert_credential(&mut tx, credential).await?;
        let app = app_id.to_string();
        tx.log_change(app_change(
            "application",
            "created",
            &app,
            &app,
            &journal.client_id,
            now,
        ))
        .await?;
        tx.commit().await
    }

    async fn fail_application(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        finish_operation(&mut tx, op_id, fence, now).await?;
        let client_id = client_id_of(&mut tx, app_id).await?;
        tx.execute(
            "UPDATE applications SET state = 'FAILED', failure_reason = $2, client_id = NULL,
                    idp_state_sealed = NULL, update_time = $3
             WHERE id = $1",
            &[app_id.into(), reason.into(), now.into()],
        )
        .await?;
        revoke_all(&mut tx, app_id, now).await?;
        let app = app_id.to_string();
        tx.log_change(app_change(
            "application",
            "failed",
            &app,
            &app,
            &client_id,
            now,
        ))
        .await?;
        tx.commit().await
    }

    async fn discard_application(&self, op_id: Uuid, app_id: Uuid) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.execute("DELETE FROM idp_operations WHERE id = $1", &[op_id.into()])
            .await?;
        tx.execute(
            "DELETE FROM applications WHERE id = $1 AND state = 'PROVISIONING'",
            &[app_id.into()],
        )
        .await?;
        tx.commit().await
    }

    async fn begin_client_change(&self, op: &Operation, now: DateTime<Utc>) -> StoreResult<()> {
        self.begin_client_change_row(op, now).await
    }

    async fn complete_client_change(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        change: &ClientChange,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.complete_client_change_row(op_id, fence, app_id, change, now)
            .await
    }

    async fn set_attention(
        &self,
        app_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.set_attention_row(app_id, reason, now).await
    }

    async fn begin_delete(
        &self,
        app_id: Uuid,
        op: &Operation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let state = tx
            .fetch_optional(
                &format!(
                    "SELECT state FROM applications WHERE id = $1{}",
                    D::LOCK_ROWS
                ),
                &[app_id.into()],
            )
            .await?
            .map(|r| r.text("state"))
            .transpose()?;
        match state.as_deref() {
            None => return Err(StoreError::NotFound(format!("application {app_id}"))),
            Some("PROVISIONING") => {
                return Err(StoreError::Conflict(format!(
                    "application {app_id} is still being provisioned"
                )));
            }
            Some(_) => {}
        }
        // A client change the IdP confirmed but nobody committed may have rotated the
        // adapter state (the registration access token): the delete needs the newest.
        let journaled = tx
            .fetch_all(
                "SELECT * FROM idp_operations
                 WHERE application_id = $1 AND state = 'pending' AND journal_sealed IS NOT NULL
                   AND kind IN ('regenerate_secret', 'add_secret', 'update_client')",
                &[app_id.into()],
            )
            .await?;
        for row in &journaled {
            if let Some(journal) = self.operation(row)?.journal {
                self.replace_idp_state(&mut tx, app_id, &journal.idp_state)
                    .await?;
            }
        }
        // A delete already under way is taken over rather than duplicated.
        tx.execute(
            "UPDATE idp_operations SET state = 'done', update_time = $2
             WHERE application_id = $1 AND state = 'pending'",
            &[app_id.into(), now.into()],
        )
        .await?;
        // A FAILED app has no IdP client and stays FAILED while its row goes: DELETING
        // would bring its name back into the per-developer uniqueness check.
        tx.execute(
            "UPDATE applications
             SET state = CASE WHEN state = 'FAILED' THEN 'FAILED' ELSE 'DELETING' END,
                 update_time = $2
             WHERE id = $1",
            &[app_id.into(), now.into()],
        )
        .await?;
        revoke_all(&mut tx, app_id, now).await?;
        insert_operation(&mut tx, op, now).await?;
        let client_id = client_id_of(&mut tx, app_id).await?;
        // Gateways must stop accepting the app now, not when the IdP answers.
        let app = app_id.to_string();
        tx.log_change(app_change(
            "application",
            "deleting",
            &app,
            &app,
            &client_id,
            now,
        ))
        .await?;
        tx.commit().await
    }

    async fn complete_delete(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        finish_operation(&mut tx, op_id, fence, now).await?;
        let client_id = client_id_of(&mut tx, app_id).await?;
        tx.execute("DELETE FROM applications WHERE id = $1", &[app_id.into()])
            .await?;
        let app = app_id.to_string();
        tx.log_change(app_change(
            "application",
            "deleted",
            &app,
            &app,
            &client_id,
            now,
        ))
        .await?;
        tx.commit().await
    }

    async fn list_credentials(&self, application_id: Uuid) -> StoreResult<Vec<Credential>> {
        self.credentials_of(application_id).await
    }

    async fn revoke_credential(
        &self,
        application_id: Uuid,
        credential_id: Uuid,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<Credential> {
        self.revoke_credential_row(application_id, credential_id, intent, now)
            .await
    }

    async fn insert_registration(&self, registration: &Registration) -> StoreResult<()> {
        self.insert_registration_row(registration).await
    }

    async fn get_registration(&self, id: Uuid) -> StoreResult<Option<Registration>> {
        self.registration_by_id(id).await
    }

    async fn set_registration_status(
        &self,
        id: Uuid,
        status: RegistrationStatus,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<Registration> {
        self.set_registration_status_row(id, status, intent, now)
            .await
    }

    async fn delete_registration(
        &self,
        id: Uuid,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.delete_registration_row(id, intent, now).await
    }

    async fn list_registrations(
        &self,
        filter: &RegistrationFilter<'_>,
        page: &PageRequest,
    ) -> StoreResult<Page<ListedRegistration>> {
        self.registrations_page(filter, page).await
    }

    async fn application_ids_of(&self, developer_id: &str) -> StoreResult<Vec<Uuid>> {
        self.db
            .fetch_all(
                "SELECT id FROM applications WHERE owner_kind = 'developer' AND developer_id = $1",
                &[developer_id.into()],
            )
            .await?
            .iter()
            .map(|r| r.id("id"))
            .collect()
    }
}

impl<D: Dialect> SqlStore<D> {
    /// Replaces the application's sealed IdP state (a rotated registration token, a new
    /// secret's key id) inside the caller's transaction.
    pub(super) async fn replace_idp_state(
        &self,
        tx: &mut impl Conn,
        app_id: Uuid,
        state: &IdpClientState,
    ) -> StoreResult<()> {
        tx.execute(
            "UPDATE applications SET idp_state_sealed = $2 WHERE id = $1",
            &[app_id.into(), (&self.seal_state(app_id, state)).into()],
        )
        .await?;
        Ok(())
    }
}
