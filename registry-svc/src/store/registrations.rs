//! Registrations: an application's request to use an API product, and its status.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::applications::insert_operation;
use super::dialect::{Conn as _, Dialect, SqlRow as _, WriteTx as _};
use super::rows;
use super::sql::{
    SqlStore, app_change, classify, client_id_of, finish_page, page_limit, uuid_cursor,
};
use super::{Operation, Page, PageRequest, RegistrationFilter, StoreError, StoreResult};
use crate::domain::{ListedRegistration, Registration, RegistrationStatus};

impl<D: Dialect> SqlStore<D> {
    pub(super) async fn insert_registration_row(&self, r: &Registration) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        tx.execute(
            "INSERT INTO registrations (id, application_id, product_id, status, create_time,
                                        update_time, scopes)
             VALUES ($1, $2, $3, $4, $5, $5, $6)",
            &[
                r.id.into(),
                r.application_id.into(),
                r.product_id.into(),
                r.status.as_str().into(),
                r.create_time.into(),
                (&r.scopes).into(),
            ],
        )
        .await
        .map_err(|e| classify(e, "a registration of this application for this product"))?;
        let client_id = client_id_of(&mut tx, r.application_id).await?;
        tx.log_change(app_change(
            "registration",
            "created",
            &r.id.to_string(),
            &r.application_id.to_string(),
            &client_id,
            r.create_time,
        ))
        .await?;
        tx.commit().await
    }

    pub(super) async fn registration_by_id(&self, id: Uuid) -> StoreResult<Option<Registration>> {
        self.db
            .fetch_optional("SELECT * FROM registrations WHERE id = $1", &[id.into()])
            .await?
            .as_ref()
            .map(rows::registration)
            .transpose()
    }

    pub(super) async fn set_registration_status_row(
        &self,
        id: Uuid,
        status: RegistrationStatus,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<Registration> {
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_optional(
                "UPDATE registrations SET status = $2, update_time = $3 WHERE id = $1 RETURNING *",
                &[id.into(), status.as_str().into(), now.into()],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?;
        let registration = rows::registration(&row)?;
        if let Some(op) = intent {
            insert_operation(&mut tx, op, now).await?;
        }
        let client_id = client_id_of(&mut tx, registration.application_id).await?;
        let action = status.as_str().to_ascii_lowercase();
        tx.log_change(app_change(
            "registration",
            &action,
            &id.to_string(),
            &registration.application_id.to_string(),
            &client_id,
            now,
        ))
        .await?;
        tx.commit().await?;
        Ok(registration)
    }

    pub(super) async fn delete_registration_row(
        &self,
        id: Uuid,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let app_id = tx
            .fetch_optional(
                "DELETE FROM registrations WHERE id = $1 RETURNING application_id",
                &[id.into()],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("registration {id}")))?
            .id("application_id")?;
        if let Some(op) = intent {
            insert_operation(&mut tx, op, now).await?;
        }
        let client_id = client_id_of(&mut tx, app_id).await?;
        tx.log_change(app_change(
            "registration",
            "deleted",
            &id.to_string(),
            &app_id.to_string(),
            &client_id,
            now,
        ))
        .await?;
        tx.commit().await
    }

    /// One query for both backends: the registrations joined with their applications,
    /// so a list names each application and its owner without a query per row.
    pub(super) async fn registrations_page(
        &self,
        filter: &RegistrationFilter<'_>,
        page: &PageRequest,
    ) -> StoreResult<Page<ListedRegistration>> {
        let sql = format!(
            "SELECT r.*, a.name AS application_name, a.owner_kind, a.developer_id
             FROM registrations r JOIN applications a ON a.id = r.application_id
             WHERE r.id > $1
               AND ($2 IS NULL OR {})
               AND ($3 IS NULL OR r.product_id = $3)
               AND ($4 IS NULL OR r.status = $4)
               AND ($5 IS NULL OR (a.owner_kind = 'developer' AND a.developer_id = $5))
             ORDER BY r.id LIMIT $6",
            D::member_of("r.application_id", "$2")
        );
        let rows = self
            .db
            .fetch_all(
                &sql,
                &[
                    uuid_cursor(page.after.as_ref())?.into(),
                    super::dialect::Value::Ids(filter.application_ids),
                    filter.product_id.into(),
                    filter.status.map(RegistrationStatus::as_str).into(),
                    filter.developer_id.into(),
                    page_limit(page.size).into(),
                ],
            )
            .await?;
        let items = rows
            .iter()
            .map(rows::listed_registration)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |r| {
            r.registration.id.to_string()
        }))
    }
}
