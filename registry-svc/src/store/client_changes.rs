//! Changes to an ACTIVE application's IdP client (new secrets, new metadata): the intent
//! first, then what the IdP confirmed, committed with the end of its operation. Like a
//! create, so a crash between the IdP's answer and the commit loses neither the new
//! secret's record nor a rotated registration access token.

use chrono::{DateTime, Utc};
use dcr_common::text::echo;
use uuid::Uuid;

use super::applications::{finish_operation, insert_operation};
use super::credentials::insert_credential;
use super::dialect::{Conn, Dialect, WriteTx as _};
use super::sql::{SqlStore, app_change, classify, client_id_of, revoke_all};
use super::{ClientChange, Operation, StoreError, StoreResult};
use crate::domain::Application;

impl<D: Dialect> SqlStore<D> {
    pub(super) async fn begin_client_change_row(
        &self,
        op: &Operation,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let active = tx
            .execute(
                "UPDATE applications SET update_time = update_time WHERE id = $1 AND state = 'ACTIVE'",
                &[op.application_id.into()],
            )
            .await?;
        if active == 0 {
            return Err(StoreError::Conflict(format!(
                "application {} is not ACTIVE",
                op.application_id
            )));
        }
        match insert_operation(&mut tx, op, now).await {
            Ok(()) => {}
            // The partial unique index idp_operations_one_client_change.
            Err(StoreError::Database(error)) => {
                return Err(match classify(error, "") {
                    StoreError::AlreadyExists(_) => StoreError::Conflict(format!(
                        "another change to application {}'s IdP client is still under way; \
                         try again when it has finished (at most a lease, about a minute)",
                        op.application_id
                    )),
                    other => other,
                });
            }
            Err(other) => return Err(other),
        }
        tx.commit().await
    }

    pub(super) async fn complete_client_change_row(
        &self,
        op_id: Uuid,
        fence: i32,
        app_id: Uuid,
        change: &ClientChange,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        finish_operation(&mut tx, op_id, fence, now).await?;
        if let Some(app) = &change.metadata {
            update_metadata(&mut tx, app).await?;
        }
        if change.replaces {
            revoke_all(&mut tx, app_id, now).await?;
            // A fresh secret dcr knows: whatever an unclear rotation left is settled.
            tx.execute(
                "UPDATE applications SET attention = '' WHERE id = $1",
                &[app_id.into()],
            )
            .await?;
        }
        if let Some(credential) = &change.credential {
            insert_credential(&mut tx, credential).await?;
        }
        if let Some(state) = &change.idp_state {
            self.replace_idp_state(&mut tx, app_id, state).await?;
        }
        let client_id = client_id_of(&mut tx, app_id).await?;
        let app = app_id.to_string();
        let (kind, action, resource) = match (&change.credential, change.replaces) {
            (Some(c), true) => ("credential", "rotated", c.id.to_string()),
            (Some(c), false) => ("credential", "added", c.id.to_string()),
            (None, _) => ("application", "updated", app.clone()),
        };
        tx.log_change(app_change(kind, action, &resource, &app, &client_id, now))
            .await?;
        tx.commit().await
    }

    pub(super) async fn set_attention_row(
        &self,
        app_id: Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        self.db
            .execute(
                "UPDATE applications SET attention = $2, update_time = $3 WHERE id = $1",
                &[app_id.into(), reason.into(), now.into()],
            )
            .await?;
        Ok(())
    }
}

/// Name, description and redirect URIs of an ACTIVE application.
async fn update_metadata(tx: &mut impl Conn, app: &Application) -> StoreResult<()> {
    let uris: Vec<String> = app.redirect_uris.iter().map(|u| u.to_string()).collect();
    let done = tx
        .execute(
            "UPDATE applications SET name = $2, description = $3, redirect_uris = $4,
                    update_time = $5
             WHERE id = $1 AND state = 'ACTIVE'",
            &[
                app.id.into(),
                (&app.name).into(),
                (&app.description).into(),
                (&uris).into(),
                app.update_time.into(),
            ],
        )
        .await
        .map_err(|e| classify(e, &format!("application named \"{}\"", echo(&app.name))))?;
    if done == 0 {
        return Err(StoreError::Conflict(format!(
            "application {} is not ACTIVE",
            app.id
        )));
    }
    Ok(())
}
