//! SQLite: credentials and registrations (the `ApplicationStore` impl in `sqlite_apps.rs`
//! calls these).

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Row as _, SqliteConnection};
use uuid::Uuid;

use super::postgres::{finish_page, page_limit, uuid_cursor};
use super::sqlite::{classify, get_id, get_json, get_opt_time, get_time, json_text, time_text};
use super::sqlite_apps::{client_id_of, revoke_all};
use super::{Page, PageRequest, SqliteStore, StoreError, StoreResult};
use crate::domain::{Credential, IdpClientState, Registration, RegistrationStatus};

pub(super) fn credential_from_row(row: &SqliteRow) -> StoreResult<Credential> {
    Ok(Credential {
        id: get_id(row, "id")?,
        application_id: get_id(row, "application_id")?,
        secret_hint: row.try_get("secret_hint")?,
        idp_ref: row.try_get("idp_ref")?,
        create_time: get_time(row, "create_time")?,
        expire_time: get_opt_time(row, "expire_time")?,
        revoke_time: get_opt_time(row, "revoke_time")?,
    })
}

fn registration_from_row(row: &SqliteRow) -> StoreResult<Registration> {
    let status: String = row.try_get("status")?;
    Ok(Registration {
        id: get_id(row, "id")?,
        application_id: get_id(row, "application_id")?,
        product_id: get_id(row, "product_id")?,
        status: RegistrationStatus::parse(&status)
            .ok_or_else(|| StoreError::Corrupt(format!("registration status {status}")))?,
        scopes: get_json(row, "scopes")?,
        create_time: get_time(row, "create_time")?,
        update_time: get_time(row, "update_time")?,
    })
}

pub(super) async fn insert_credential(
    conn: &mut SqliteConnection,
    c: &Credential,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO credentials (id, application_id, secret_hint, idp_ref, create_time, expire_time, revoke_time)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(c.id.to_string())
    .bind(c.application_id.to_string())
    .bind(&c.secret_hint)
    .bind(&c.idp_ref)
    .bind(time_text(c.create_time))
    .bind(c.expire_time.map(time_text))
    .bind(c.revoke_time.map(time_text))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl SqliteStore {
    pub(super) async fn credentials_of(
        &self,
        application_id: Uuid,
    ) -> StoreResult<Vec<Credential>> {
        let rows = sqlx::query(
            "SELECT * FROM credentials WHERE application_id = ?1 ORDER BY create_time, id",
        )
        .bind(application_id.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(credential_from_row).collect()
    }

    pub(super) async fn add_credential_row(
        &self,
        credential: &Credential,
        revoke_active: bool,
        idp_state: Option<&IdpClientState>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let app_id = credential.application_id;
        let mut tx = self.write().await?;
        if revoke_active {
            revoke_all(tx.conn(), app_id, now).await?;
        }
        insert_credential(tx.conn(), credential).await?;
        if let Some(state) = idp_state {
            sqlx::query("UPDATE applications SET idp_state_sealed = ?2 WHERE id = ?1")
                .bind(app_id.to_string())
                .bind(self.seal_state(app_id, state))
                .execute(tx.conn())
                .await?;
        }
        let client_id = client_id_of(tx.conn(), app_id).await?;
        let action = if revoke_active { "rotated" } else { "added" };
        tx.log_change(
            "credential",
            action,
            &credential.id.to_string(),
            &app_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await
    }

    pub(super) async fn revoke_credential_row(
        &self,
        application_id: Uuid,
        credential_id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<Credential> {
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "UPDATE credentials SET revoke_time = COALESCE(revoke_time, ?3)
             WHERE id = ?1 AND application_id = ?2 RETURNING *",
        )
        .bind(credential_id.to_string())
        .bind(application_id.to_string())
        .bind(time_text(now))
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("credential {credential_id}")))?;
        let credential = credential_from_row(&row)?;
        let client_id = client_id_of(tx.conn(), application_id).await?;
        tx.log_change(
            "credential",
            "revoked",
            &credential_id.to_string(),
            &application_id.to_string(),
            &client_id,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(credential)
    }

    pub(super) async fn insert_registration_row(&self, r: &Registration) -> StoreResult<()> {
        let mut tx = self.write().await?;
        sqlx::query(
            "INSERT INTO registrations (id, application_id, product_id, status, create_time, update_time, scopes)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        )
        .bind(r.id.to_string())
        .bind(r.application_id.to_string())
        .bind(r.product_id.to_string())
        .bind(r.status.as_str())
        .bind(time_text(r.create_time))
        .bind(json_text(&r.scopes)?)
        .execute(tx.conn())
        .await
        .map_err(|e| classify(e, "a registration of this application for this product"))?;
        let client_id = client_id_of(tx.conn(), r.application_id).await?;
        tx.log_change(
            "registration",
            "created",
            &r.id.to_string(),
            &r.application_id.to_string(),
            &client_id,
            r.create_time,
        )
        .await?;
        tx.commit().await
    }

    pub(super) async fn registration_by_id(&self, id: Uuid) -> StoreResult<Option<Registration>> {
        let row = sqlx::query("SELECT * FROM registrations WHERE id = ?1")
            .bind(id.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(registration_from_row).transpose()
    }

    pub(super) async fn set_registration_status_row(
        &self,
        id: Uuid,
        status: RegistrationStatus,
        now: DateTime<Utc>,
    ) -> StoreResult<Registration> {
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "UPDATE registrations SET status = ?2, update_time = ?3 WHERE id = ?1 RETURNING *",
        )
        .bind(id.to_string())
        .bind(status.as_str())
        .bind(time_text(now))
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
        let registration = registration_from_row(&row)?;
        let client_id = client_id_of(tx.conn(), registration.application_id).await?;
        let action = status.as_str().to_ascii_lowercase();
        tx.log_change(
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

    pub(super) async fn delete_registration_row(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        let app_id: String =
            sqlx::query_scalar("DELETE FROM registrations WHERE id = ?1 RETURNING application_id")
                .bind(id.to_string())
                .fetch_optional(tx.conn())
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
        let app_uuid: Uuid = app_id
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("registration {id} application: {e}")))?;
        let client_id = client_id_of(tx.conn(), app_uuid).await?;
        tx.log_change(
            "registration",
            "deleted",
            &id.to_string(),
            &app_id,
            &client_id,
            now,
        )
        .await?;
        tx.commit().await
    }

    pub(super) async fn registrations_page(
        &self,
        application_ids: Option<&[Uuid]>,
        product_id: Option<Uuid>,
        status: Option<RegistrationStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Registration>> {
        // The id list travels as one JSON array (SQLite has no array parameters).
        let application_ids = application_ids
            .map(|ids| json_text(&ids.iter().map(Uuid::to_string).collect::<Vec<_>>()))
            .transpose()?;
        let rows = sqlx::query(
            "SELECT * FROM registrations
             WHERE id > ?1
               AND (?2 IS NULL OR application_id IN (SELECT value FROM json_each(?2)))
               AND (?3 IS NULL OR product_id = ?3)
               AND (?4 IS NULL OR status = ?4)
             ORDER BY id LIMIT ?5",
        )
        .bind(uuid_cursor(page.after.as_ref())?.to_string())
        .bind(application_ids)
        .bind(product_id.map(|p| p.to_string()))
        .bind(status.map(RegistrationStatus::as_str))
        .bind(page_limit(page.size))
        .fetch_all(&self.reader)
        .await?;
        let items = rows
            .iter()
            .map(registration_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |r| r.id.to_string()))
    }
}
