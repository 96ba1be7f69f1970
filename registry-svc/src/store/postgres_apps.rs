//! Postgres: applications, their IdP operations, credentials and registrations.

use chrono::{DateTime, Utc};
use dcr_common::text::echo;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use super::postgres::{classify, finish_page, log_change, page_limit, uuid_cursor};
use super::{
    ApplicationStore, Journal, Operation, OperationKind, OperationStore, Page, PageRequest,
    PgStore, StoreError, StoreResult,
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

pub(super) fn application_from_row(row: &PgRow) -> StoreResult<Application> {
    let id: Uuid = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let uris: Vec<String> = row.try_get("redirect_uris")?;
    Ok(Application {
        id,
        developer_id: row.try_get("developer_id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        strategy_id: row.try_get("strategy_id")?,
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
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}

pub(super) fn credential_from_row(row: &PgRow) -> StoreResult<Credential> {
    Ok(Credential {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        secret_hint: row.try_get("secret_hint")?,
        idp_ref: row.try_get("idp_ref")?,
        create_time: row.try_get("create_time")?,
        expire_time: row.try_get("expire_time")?,
        revoke_time: row.try_get("revoke_time")?,
    })
}

fn registration_from_row(row: &PgRow) -> StoreResult<Registration> {
    let status: String = row.try_get("status")?;
    Ok(Registration {
        id: row.try_get("id")?,
        application_id: row.try_get("application_id")?,
        product_id: row.try_get("product_id")?,
        status: RegistrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("registration status {status}")))?,
        scopes: row.try_get("scopes")?,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}

fn uris(app: &Application) -> Vec<String> {
    app.redirect_uris.iter().map(|u| u.to_string()).collect()
}

impl PgStore {
    fn operation_from_row(&self, row: &PgRow) -> StoreResult<Operation> {
        let id: Uuid = row.try_get("id")?;
        let kind: String = row.try_get("kind")?;
        let sealed: Option<Vec<u8>> = row.try_get("journal_sealed")?;
        let journal = match sealed {
            None => None,
            Some(sealed) => {
                let plain = self.open(&sealed, &op_context(id))?;
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
            application_id: row.try_get("application_id")?,
            provider_id: row.try_get("provider_id")?,
            kind: if kind == "delete" {
                OperationKind::Delete
            } else {
                OperationKind::Create
            },
            journal,
            attempts: row.try_get("attempts")?,
            lease_until: row.try_get("lease_until")?,
        })
    }

    fn seal_state(&self, app_id: Uuid, state: &IdpClientState) -> Vec<u8> {
        let plain = zeroize::Zeroizing::new(serde_json::to_vec(&state.0).unwrap_or_default());
        self.seal(&plain, &app_context(app_id))
    }

    async fn insert_operation(
        &self,
        tx: &mut PgConnection,
        op: &Operation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO idp_operations (id, application_id, provider_id, kind, state, lease_until,
                                         create_time, update_time)
             VALUES ($1, $2, $3, $4, 'pending', $5, $6, $6)",
        )
        .bind(op.id)
        .bind(op.application_id)
        .bind(op.provider_id)
        .bind(op.kind.as_str())
        .bind(op.lease_until)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        Ok(())
    }
}

/// Marks an operation done; `Conflict` when it no longer was pending.
async fn finish_operation(
    tx: &mut PgConnection,
    op_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let done = sqlx::query(
        "UPDATE idp_operations SET state = 'done', update_time = $2 WHERE id = $1 AND state = 'pending'",
    )
    .bind(op_id)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Conflict(format!(
            "operation {op_id} is no longer pending"
        )));
    }
    Ok(())
}

async fn insert_credential(tx: &mut PgConnection, c: &Credential) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO credentials (id, application_id, secret_hint, idp_ref, create_time, expire_time, revoke_time)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(c.id)
    .bind(c.application_id)
    .bind(&c.secret_hint)
    .bind(&c.idp_ref)
    .bind(c.create_time)
    .bind(c.expire_time)
    .bind(c.revoke_time)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

async fn client_id_of(tx: &mut PgConnection, app_id: Uuid) -> StoreResult<String> {
    let client: Option<Option<String>> =
        sqlx::query_scalar("SELECT client_id FROM applications WHERE id = $1")
            .bind(app_id)
            .fetch_optional(&mut *tx)
            .await?;
    Ok(client.flatten().unwrap_or_default())
}

#[async_trait::async_trait]
impl ApplicationStore for PgStore {
    async fn insert_application_intent(
        &self,
        app: &Application,
        op: &Operation,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO applications (id, developer_id, name, description, strategy_id, client_id,
                 redirect_uris, state, request_id, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7, $8, $9, $9)",
        )
        .bind(app.id)
        .bind(&app.developer_id)
        .bind(&app.name)
        .bind(&app.description)
        .bind(app.strategy_id)
        .bind(uris(app))
        .bind(app.state.as_str())
        .bind(&app.request_id)
        .bind(app.create_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("application named \"{}\"", echo(&app.name))))?;
        self.insert_operation(&mut tx, op, app.create_time).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_application(&self, id: Uuid) -> StoreResult<Option<Application>> {
        let row = sqlx::query("SELECT * FROM applications WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn find_application_by_request(
        &self,
        developer_id: &str,
        request_id: &str,
    ) -> StoreResult<Option<Application>> {
        let row =
            sqlx::query("SELECT * FROM applications WHERE developer_id = $1 AND request_id = $2")
                .bind(developer_id)
                .bind(request_id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(application_from_row).transpose()
    }

    async fn list_applications(
        &self,
        developer_id: &str,
        page: &PageRequest,
    ) -> StoreResult<Page<Application>> {
        let rows = sqlx::query(
            "SELECT * FROM applications WHERE developer_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(developer_id)
        .bind(uuid_cursor(page.after.as_ref())?)
        .bind(page_limit(page.size))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(application_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |a| a.id.to_string()))
    }

    async fn get_idp_state(&self, application_id: Uuid) -> StoreResult<Option<IdpClientState>> {
        let sealed: Option<Option<Vec<u8>>> =
            sqlx::query_scalar("SELECT idp_state_sealed FROM applications WHERE id = $1")
                .bind(application_id)
                .fetch_optional(&self.pool)
                .await?;
        match sealed.flatten() {
            None => Ok(None),
            Some(sealed) => {
                let plain = self.open(&sealed, &app_context(application_id))?;
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
        sqlx::query("UPDATE idp_operations SET journal_sealed = $2 WHERE id = $1")
            .bind(op_id)
            .bind(self.seal(&plain, &op_context(op_id)))
            .execute(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        finish_operation(&mut tx, op_id, now).await?;
        sqlx::query(
            "UPDATE applications SET state = 'ACTIVE', client_id = $2, idp_state_sealed = $3, update_time = $4
             WHERE id = $1",
        )
        .bind(app_id)
        .bind(&journal.client_id)
        .bind(self.seal_state(app_id, &journal.idp_state))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("client \"{}\"", echo(&journal.client_id))))?;
        insert_credential(&mut tx, credential).await?;
        log_change(
            &mut tx,
            "application",
            "created",
            &app_id.to_string(),
            &app_id.to_string(),
            &journal.client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn fail_application(
        &self,
        op_id: Uuid,
        app_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        finish_operation(&mut tx, op_id, now).await?;
        let client_id = client_id_of(&mut tx, app_id).await?;
        sqlx::query(
            "UPDATE applications SET state = 'FAILED', failure_reason = $2, client_id = NULL,
                    idp_state_sealed = NULL, update_time = $3
             WHERE id = $1",
        )
        .bind(app_id)
        .bind(reason)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE credentials SET revoke_time = $2 WHERE application_id = $1 AND revoke_time IS NULL")
            .bind(app_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        log_change(
            &mut tx,
            "application",
            "failed",
            &app_id.to_string(),
            &app_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn discard_application(&self, op_id: Uuid, app_id: Uuid) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM idp_operations WHERE id = $1")
            .bind(op_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM applications WHERE id = $1 AND state = 'PROVISIONING'")
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_application(
        &self,
        app: &Application,
        idp_state: Option<&IdpClientState>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE applications SET name = $2, description = $3, redirect_uris = $4, update_time = $5
             WHERE id = $1 AND state = 'ACTIVE'",
        )
        .bind(app.id)
        .bind(&app.name)
        .bind(&app.description)
        .bind(uris(app))
        .bind(app.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("application named \"{}\"", echo(&app.name))))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "application {} is not ACTIVE",
                app.id
            )));
        }
        if let Some(state) = idp_state {
            sqlx::query("UPDATE applications SET idp_state_sealed = $2 WHERE id = $1")
                .bind(app.id)
                .bind(self.seal_state(app.id, state))
                .execute(&mut *tx)
                .await?;
        }
        let client_id = app.client_id.clone().unwrap_or_default();
        log_change(
            &mut tx,
            "application",
            "updated",
            &app.id.to_string(),
            &app.id.to_string(),
            &client_id,
            app.update_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn begin_delete(
        &self,
        app_id: Uuid,
        op: &Operation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let state: Option<String> =
            sqlx::query_scalar("SELECT state FROM applications WHERE id = $1 FOR UPDATE")
                .bind(app_id)
                .fetch_optional(&mut *tx)
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
        sqlx::query("UPDATE idp_operations SET state = 'done', update_time = $2 WHERE application_id = $1 AND state = 'pending'")
            .bind(app_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        // A FAILED app has no IdP client and stays FAILED while its row goes: DELETING
        // would bring its name back into the per-developer uniqueness check.
        sqlx::query(
            "UPDATE applications SET state = CASE WHEN state = 'FAILED' THEN 'FAILED' ELSE 'DELETING' END,
                    update_time = $2
             WHERE id = $1",
        )
            .bind(app_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE credentials SET revoke_time = $2 WHERE application_id = $1 AND revoke_time IS NULL")
            .bind(app_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        self.insert_operation(&mut tx, op, now).await?;
        let client_id = client_id_of(&mut tx, app_id).await?;
        // Gateways must stop accepting the app now, not when the IdP answers.
        log_change(
            &mut tx,
            "application",
            "deleting",
            &app_id.to_string(),
            &app_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_delete(
        &self,
        op_id: Uuid,
        app_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        finish_operation(&mut tx, op_id, now).await?;
        let client_id = client_id_of(&mut tx, app_id).await?;
        sqlx::query("DELETE FROM applications WHERE id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        log_change(
            &mut tx,
            "application",
            "deleted",
            &app_id.to_string(),
            &app_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_credentials(&self, application_id: Uuid) -> StoreResult<Vec<Credential>> {
        let rows = sqlx::query(
            "SELECT * FROM credentials WHERE application_id = $1 ORDER BY create_time, id",
        )
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(credential_from_row).collect()
    }

    async fn add_credential(
        &self,
        credential: &Credential,
        revoke_active: bool,
        idp_state: Option<&IdpClientState>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let app_id = credential.application_id;
        let mut tx = self.pool.begin().await?;
        if revoke_active {
            sqlx::query("UPDATE credentials SET revoke_time = $2 WHERE application_id = $1 AND revoke_time IS NULL")
                .bind(app_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        insert_credential(&mut tx, credential).await?;
        if let Some(state) = idp_state {
            sqlx::query("UPDATE applications SET idp_state_sealed = $2 WHERE id = $1")
                .bind(app_id)
                .bind(self.seal_state(app_id, state))
                .execute(&mut *tx)
                .await?;
        }
        let client_id = client_id_of(&mut tx, app_id).await?;
        let action = if revoke_active { "rotated" } else { "added" };
        log_change(
            &mut tx,
            "credential",
            action,
            &credential.id.to_string(),
            &app_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn revoke_credential(
        &self,
        application_id: Uuid,
        credential_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Credential> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE credentials SET revoke_time = COALESCE(revoke_time, $3)
             WHERE id = $1 AND application_id = $2 RETURNING *",
        )
        .bind(credential_id)
        .bind(application_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("credential {credential_id}")))?;
        let client_id = client_id_of(&mut tx, application_id).await?;
        log_change(
            &mut tx,
            "credential",
            "revoked",
            &credential_id.to_string(),
            &application_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        credential_from_row(&row)
    }

    async fn insert_registration(&self, r: &Registration) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO registrations (id, application_id, product_id, status, create_time, update_time, scopes)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
        )
        .bind(r.id)
        .bind(r.application_id)
        .bind(r.product_id)
        .bind(r.status.as_str())
        .bind(r.create_time)
        .bind(&r.scopes)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, "a registration of this application for this product"))?;
        let client_id = client_id_of(&mut tx, r.application_id).await?;
        log_change(
            &mut tx,
            "registration",
            "created",
            &r.id.to_string(),
            &r.application_id.to_string(),
            &client_id,
            r.create_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_registration(&self, id: Uuid) -> StoreResult<Option<Registration>> {
        let row = sqlx::query("SELECT * FROM registrations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(registration_from_row).transpose()
    }

    async fn set_registration_status(
        &self,
        id: Uuid,
        status: RegistrationStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<Registration> {
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query(
            "UPDATE registrations SET status = $2, update_time = $3 WHERE id = $1 RETURNING *",
        )
        .bind(id)
        .bind(status.as_str())
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
        let registration = registration_from_row(&row)?;
        let client_id = client_id_of(&mut tx, registration.application_id).await?;
        let action = status.as_str().to_ascii_lowercase();
        log_change(
            &mut tx,
            "registration",
            &action,
            &id.to_string(),
            &registration.application_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(registration)
    }

    async fn delete_registration(&self, id: Uuid, now: DateTime<Utc>) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let app_id: Uuid =
            sqlx::query_scalar("DELETE FROM registrations WHERE id = $1 RETURNING application_id")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
        let client_id = client_id_of(&mut tx, app_id).await?;
        log_change(
            &mut tx,
            "registration",
            "deleted",
            &id.to_string(),
            &app_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_registrations(
        &self,
        application_ids: Option<&[Uuid]>,
        product_id: Option<Uuid>,
        status: Option<RegistrationStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Registration>> {
        let rows = sqlx::query(
            "SELECT * FROM registrations
             WHERE id > $1
               AND ($2::uuid[] IS NULL OR application_id = ANY($2))
               AND ($3::uuid IS NULL OR product_id = $3)
               AND ($4::text IS NULL OR status = $4)
             ORDER BY id LIMIT $5",
        )
        .bind(uuid_cursor(page.after.as_ref())?)
        .bind(application_ids)
        .bind(product_id)
        .bind(status.map(RegistrationStatus::as_str))
        .bind(page_limit(page.size))
        .fetch_all(&self.pool)
        .await?;
        let items = rows
            .iter()
            .map(registration_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |r| r.id.to_string()))
    }

    async fn application_ids_of(&self, developer_id: &str) -> StoreResult<Vec<Uuid>> {
        Ok(
            sqlx::query_scalar("SELECT id FROM applications WHERE developer_id = $1")
                .bind(developer_id)
                .fetch_all(&self.pool)
                .await?,
        )
    }
}

#[async_trait::async_trait]
impl OperationStore for PgStore {
    async fn claim_stale_operations(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> StoreResult<Vec<Operation>> {
        let rows = sqlx::query(
            "UPDATE idp_operations SET lease_until = $2, attempts = attempts + 1, update_time = $1
             WHERE id IN (SELECT id FROM idp_operations
                          WHERE state = 'pending' AND lease_until <= $1
                          ORDER BY lease_until LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING *",
        )
        .bind(now)
        .bind(lease_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.operation_from_row(r)).collect()
    }

    async fn record_operation_error(&self, op_id: Uuid, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE idp_operations SET last_error = $2 WHERE id = $1")
            .bind(op_id)
            .bind(error)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn pending_operations(&self) -> StoreResult<Vec<Operation>> {
        let rows = sqlx::query(
            "SELECT * FROM idp_operations WHERE state = 'pending' ORDER BY create_time",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.operation_from_row(r)).collect()
    }
}
