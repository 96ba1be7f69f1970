//! SQLite: applications and their IdP operations. Credentials and registrations are in
//! `sqlite_credentials.rs`; this file's `ApplicationStore` impl hands those calls over.

use chrono::{DateTime, Utc};
use dcr_common::text::echo;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, SqliteConnection};
use uuid::Uuid;

use super::postgres::{finish_page, page_limit, uuid_cursor};
use super::sqlite::{classify, get_id, get_json, get_time, json_text, time_text};
use super::{
    ApplicationStore, Journal, Operation, OperationKind, OperationStore, Page, PageRequest,
    SqliteStore, StoreError, StoreResult,
};
use crate::domain::{
    AppState, Application, Credential, IdpClientState, Registration, RegistrationStatus,
};

fn app_context(id: Uuid) -> String {
    format!("application:{id}")
}

fn op_context(id: Uuid) -> String {
    format!("operation:{id}")
}

pub(super) fn application_from_row(row: &SqliteRow) -> StoreResult<Application> {
    let id = get_id(row, "id")?;
    let state: String = row.try_get("state")?;
    let uris: Vec<String> = get_json(row, "redirect_uris")?;
    Ok(Application {
        id,
        developer_id: row.try_get("developer_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        strategy_id: get_id(row, "strategy_id")?,
        client_id: row.try_get("client_id")?,
        redirect_uris: uris
            .iter()
            .map(|u| {
                u.parse()
                    .map_err(|e| StoreError::Corrupt(format!("application {id} redirect uri: {e}")))
            })
            .collect::<StoreResult<_>>()?,
        state: AppState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("application {id} state {state}")))?,
        failure_reason: row.try_get("failure_reason")?,
        request_id: row.try_get("request_id")?,
        create_time: get_time(row, "create_time")?,
        update_time: get_time(row, "update_time")?,
    })
}

fn uris(app: &Application) -> StoreResult<String> {
    let uris: Vec<&str> = app.redirect_uris.iter().map(|u| u.as_str()).collect();
    json_text(&uris)
}

/// Marks an operation done; `Conflict` when it no longer was pending.
async fn finish_operation(
    conn: &mut SqliteConnection,
    op_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE idp_operations SET state = 'done', update_time = ?2 WHERE id = ?1 AND state = 'pending'",
    )
    .bind(op_id.to_string())
    .bind(time_text(now))
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "operation {op_id} is no longer pending"
        )));
    }
    Ok(())
}

async fn insert_operation(
    conn: &mut SqliteConnection,
    op: &Operation,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO idp_operations (id, application_id, provider_id, kind, state, lease_until,
                                     create_time, update_time)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?6)",
    )
    .bind(op.id.to_string())
    .bind(op.application_id.to_string())
    .bind(op.provider_id.to_string())
    .bind(op.kind.as_str())
    .bind(time_text(op.lease_until))
    .bind(time_text(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Revokes every active credential of an application.
pub(super) async fn revoke_all(
    conn: &mut SqliteConnection,
    app_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE credentials SET revoke_time = ?2 WHERE application_id = ?1 AND revoke_time IS NULL",
    )
    .bind(app_id.to_string())
    .bind(time_text(now))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The application's client id, or "" (none yet, or the app is gone).
pub(super) async fn client_id_of(conn: &mut SqliteConnection, app_id: Uuid) -> StoreResult<String> {
    let client: Option<Option<String>> =
        sqlx::query_scalar("SELECT client_id FROM applications WHERE id = ?1")
            .bind(app_id.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    Ok(client.flatten().unwrap_or_default())
}

impl SqliteStore {
    fn operation_from_row(&self, row: &SqliteRow) -> StoreResult<Operation> {
        let id = get_id(row, "id")?;
        let kind: String = row.try_get("kind")?;
        let sealed: Option<Vec<u8>> = row.try_get("journal_sealed")?;
        let journal = match sealed {
            None => None,
            Some(sealed) => {
                let plain = self.open_sealed(&sealed, &op_context(id))?;
                let value: serde_json::Value = serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Corrupt(format!("operation {id} journal: {e}")))?;
                Some(Journal {
                    client_id: value["client_id"].as_str().unwrap_or_default().to_owned(),
                    idp_state: IdpClientState(value["idp_state"].clone()),
                })
            }
        };
        Ok(Operation {
            id,
            application_id: get_id(row, "application_id")?,
            provider_id: get_id(row, "provider_id")?,
            kind: if kind == "delete" {
                OperationKind::Delete
            } else {
                OperationKind::Create
            },
            journal,
            attempts: row.try_get("attempts")?,
            lease_until: get_time(row, "lease_until")?,
        })
    }

    pub(super) fn seal_state(&self, app_id: Uuid, state: &IdpClientState) -> Vec<u8> {
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&state.0).unwrap_or_default());
        self.seal(&plain, &app_context(app_id))
    }
}

#[async_trait::async_trait]
impl ApplicationStore for SqliteStore {
    async fn insert_application_intent(
        &self,
        app: &Application,
        op: &Operation,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO applications (id, developer_id, name, description, strategy_id, client_id,
                 redirect_uris, state, request_id, create_time, update_time)
             VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7, ?8, ?9, ?9)",
        )
        .bind(app.id.to_string())
        .bind(&app.developer_id)
        .bind(&app.name)
        .bind(&app.description)
        .bind(app.strategy_id.to_string())
        .bind(uris(app)?)
        .bind(app.state.as_str())
        .bind(&app.request_id)
        .bind(time_text(app.create_time))
        .execute(tx.conn())
        .await
        .map_err(|e| classify(e, &format!("application named \"{}\"", echo(&app.name))))?;
        insert_operation(tx.conn(), op, app.create_time).await?;
        tx.commit().await
    }

    async fn get_application(&self, id: Uuid) -> StoreResult<Option<Application>> {
        let row = sqlx::query("SELECT * FROM applications WHERE id = ?1")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn find_application_by_request(
        &self,
        developer_id: &str,
        request_id: &str,
    ) -> StoreResult<Option<Application>> {
        let row =
            sqlx::query("SELECT * FROM applications WHERE developer_id = ?1 AND request_id = ?2")
                .bind(developer_id)
                .bind(request_id)
                .fetch_optional(&self.reader)
                .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(
        &self,
        developer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Application>> {
        let rows = sqlx::query(
            "SELECT * FROM applications WHERE developer_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )
        .bind(developer_id)
        .bind(uuid_cursor(page.after.as_ref())?.to_string())
        .bind(page_limit(page.size))
        .fetch_all(&self.reader)
        .await?;
        let items = rows
            .iter()
            .map(application_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |a| a.id.to_string()))
    }

    async fn get_idp_state(&self, application_id: Uuid) -> StoreResult<Option<IdpClientState>> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT idp_state_sealed FROM applications WHERE id = ?1")
                .bind(application_id.to_string())
                .fetch_optional(&self.reader)
                .await?;
        match sealed.flatten() {
            None => Ok(None),
            Some(sealed) => {
                let plain = self.open_sealed(&sealed, &app_context(application_id))?;
                let value = serde_json::from_slice(&plain).map_err(|e| {
                    StoreError::Corrupt(format!("application {application_id} idp state: {e}"))
                })?;
                Ok(Some(IdpClientState(value)))
            }
        }
    }

    async fn record_journal(&self, op_id: Uuid, journal: &Journal) -> StoreResult<()> {
        let value =
            serde_json::json!({ "client_id": journal.client_id, "idp_state": journal.idp_state.0 });
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&value).unwrap_or_default());
        sqlx::query("UPDATE idp_operations SET journal_sealed = ?2 WHERE id = ?1")
            .bind(op_id.to_string())
            .bind(self.seal(&plain, &op_context(op_id)))
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn complete_create(
        &self,
        op_id: Uuid,
        app_id: Uuid,
        journal: &Journal,
        credential: &Credential,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        finish_operation(tx.conn(), op_id, now).await?;
        sqlx::query(
            "UPDATE applications SET state = 'ACTIVE', client_id = ?2, idp_state_sealed = ?3, update_time = ?4
             WHERE id = ?1",
        )
        .bind(app_id.to_string())
        .bind(&journal.client_id)
        .bind(self.seal_state(app_id, &journal.idp_state))
        .bind(time_text(now))
        .execute(tx.conn())
        .await
        .map_err(|e| classify(e, &format!("client \"{}\"", echo(&journal.client_id))))?;
        super::sqlite_credentials::insert_credential(tx.conn(), credential).await?;
        let app = app_id.to_string();
        tx.log_change(
            "application",
            "created",
            &app,
            &app,
            &journal.client_id,
            now,
        )
        .await?;
        tx.commit().await
    }

    async fn fail_application(
        &self,
        op_id: Uuid,
        app_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        finish_operation(tx.conn(), op_id, now).await?;
        let client_id = client_id_of(tx.conn(), app_id).await?;
        sqlx::query(
            "UPDATE applications SET state = 'FAILED', failure_reason = ?2, client_id = NULL,
                    idp_state_sealed = NULL, update_time = ?3
             WHERE id = ?1",
        )
        .bind(app_id.to_string())
        .bind(reason)
        .bind(time_text(now))
        .execute(tx.conn())
        .await?;
        revoke_all(tx.conn(), app_id, now).await?;
        let app = app_id.to_string();
        tx.log_change("application", "failed", &app, &app, &client_id, now)
            .await?;
        tx.commit().await
    }

    async fn discard_application(&self, op_id: Uuid, app_id: Uuid) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query("DELETE FROM idp_operations WHERE id = ?1")
            .bind(op_id.to_string())
            .execute(tx.conn())
            .await?;
        sqlx::query("DELETE FROM applications WHERE id = ?1 AND state = 'PROVISIONING'")
            .bind(app_id.to_string())
            .execute(tx.conn())
            .await?;
        tx.commit().await
    }

    async fn update_application(
        &self,
        app: &Application,
        idp_state: Option<&IdpClientState>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let done = sqlx::query(
            "UPDATE applications SET name = ?2, description = ?3, redirect_uris = ?4, update_time = ?5
             WHERE id = ?1 AND state = 'ACTIVE'",
        )
        .bind(app.id.to_string())
        .bind(&app.name)
        .bind(&app.description)
        .bind(uris(app)?)
        .bind(time_text(app.update_time))
        .execute(tx.conn())
        .await
        .map_err(|e| classify(e, &format!("application named \"{}\"", echo(&app.name))))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "application {} is not ACTIVE",
                app.id
            )));
        }
        if let Some(state) = idp_state {
            sqlx::query("UPDATE applications SET idp_state_sealed = ?2 WHERE id = ?1")
                .bind(app.id.to_string())
                .bind(self.seal_state(app.id, state))
                .execute(tx.conn())
                .await?;
        }
        let client_id = app.client_id.clone().unwrap_or_default();
        let id = app.id.to_string();
        tx.log_change(
            "application",
            "updated",
            &id,
            &id,
            &client_id,
            app.update_time,
        )
        .await?;
        tx.commit().await
    }

    async fn begin_delete(
        &self,
        app_id: Uuid,
        op: &Operation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        // BEGIN IMMEDIATE already holds the write lock: no FOR UPDATE needed.
        let mut tx = self.write().await?;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM applications WHERE id = ?1")
                .bind(app_id.to_string())
                .fetch_optional(tx.conn())
                .await?;
        match state.as_deref() {
            None => return Err(StoreError::NotFound(format!("application {app_id}"))),
            Some("PROVISIONING") => {
                return Err(StoreError::Conflict(format!(
                    "application {app_id} is still being provisioned"
                )));
            }
            Some(_) => {}
        }
        // A delete already under way is taken over rather than duplicated.
        sqlx::query(
            "UPDATE idp_operations SET state = 'done', update_time = ?2
             WHERE application_id = ?1 AND state = 'pending'",
        )
        .bind(app_id.to_string())
        .bind(time_text(now))
        .execute(tx.conn())
        .await?;
        // A FAILED app has no IdP client and stays FAILED while its row goes: DELETING
        // would bring its name back into the per-developer uniqueness check.
        sqlx::query(
            "UPDATE applications SET state = CASE WHEN state = 'FAILED' THEN 'FAILED' ELSE 'DELETING' END,
                    update_time = ?2
             WHERE id = ?1",
        )
        .bind(app_id.to_string())
        .bind(time_text(now))
        .execute(tx.conn())
        .await?;
        revoke_all(tx.conn(), app_id, now).await?;
        insert_operation(tx.conn(), op, now).await?;
        let client_id = client_id_of(tx.conn(), app_id).await?;
        // Gateways must stop accepting the app now, not when the IdP answers.
        let app = app_id.to_string();
        tx.log_change("application", "deleting", &app, &app, &client_id, now)
            .await?;
        tx.commit().await
    }

    async fn complete_delete(
        &self,
        op_id: Uuid,
        app_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        finish_operation(tx.conn(), op_id, now).await?;
        let client_id = client_id_of(tx.conn(), app_id).await?;
        sqlx::query("DELETE FROM applications WHERE id = ?1")
            .bind(app_id.to_string())
            .execute(tx.conn())
            .await?;
        let app = app_id.to_string();
        tx.log_change("application", "deleted", &app, &app, &client_id, now)
            .await?;
        tx.commit().await
    }

    async fn list_credentials(&self, application_id: Uuid) -> StoreResult<Vec<Credential>> {
        self.credentials_of(application_id).await
    }

    async fn add_credential(
        &self,
        credential: &Credential,
        revoke_active: bool,
        idp_state: Option<&IdpClientState>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.add_credential_row(credential, revoke_active, idp_state, now)
            .await
    }

    async fn revoke_credential(
        &self,
        application_id: Uuid,
        credential_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Credential> {
        self.revoke_credential_row(application_id, credential_id, now)
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
        now: DateTime<Utc>,
    ) -> StoreResult<Registration> {
        self.set_registration_status_row(id, status, now).await
    }

    async fn delete_registration(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        self.delete_registration_row(id, now).await
    }

    async fn list_registrations(
        &self,
        application_ids: Option<&[Uuid]>,
        product_id: Option<Uuid>,
        status: Option<RegistrationStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Registration>> {
        self.registrations_page(application_ids, product_id, status, page)
            .await
    }

    async fn application_ids_of(&self, developer_id: &str) -> StoreResult<Vec<Uuid>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM applications WHERE developer_id = ?1")
                .bind(developer_id)
                .fetch_all(&self.reader)
                .await?;
        ids.iter()
            .map(|id| {
                id.parse()
                    .map_err(|e| StoreError::Corrupt(format!("application id {id:?}: {e}")))
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl OperationStore for SqliteStore {
    async fn claim_stale_operations(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>> {
        // One statement under the write lock: no other claimant, in this process or
        // another, runs between the pick and the update (Postgres needs FOR UPDATE SKIP
        // LOCKED for that).
        let mut tx = self.write().await?;
        let rows = sqlx::query(
            "UPDATE idp_operations SET lease_until = ?2, attempts = attempts + 1, update_time = ?1
             WHERE id IN (SELECT id FROM idp_operations
                          WHERE state = 'pending' AND lease_until <= ?1
                          ORDER BY lease_until LIMIT ?3)
             RETURNING *",
        )
        .bind(time_text(now))
        .bind(time_text(lease_until))
        .bind(limit)
        .fetch_all(tx.conn())
        .await?;
        tx.commit().await?;
        rows.iter().map(|r| self.operation_from_row(r)).collect()
    }

    async fn record_operation_error(&self, op_id: Uuid, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE idp_operations SET last_error = ?2 WHERE id = ?1")
            .bind(op_id.to_string())
            .bind(error)
            .execute(self.writer())
            .await?;
        Ok(())
    }

    async fn pending_operations(&self) -> StoreResult<Vec<Operation>> {
        let rows = sqlx::query(
            "SELECT * FROM idp_operations WHERE state = 'pending' ORDER BY create_time, id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(|r| self.operation_from_row(r)).collect()
    }
}
