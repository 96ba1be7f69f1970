//! Credentials: the secrets of an application's client, as dcr knows them (a hint and
//! dates; the secret itself lives only at the IdP and, hashed, nowhere else).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::applications::insert_operation;
use super::dialect::{Conn, Dialect, Value, WriteTx as _};
use super::rows;
use super::sql::{SqlStore, app_change, client_id_of};
use super::{Operation, StoreError, StoreResult};
use crate::domain::Credential;

pub(super) async fn insert_credential(tx: &mut impl Conn, c: &Credential) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO credentials (id, application_id, secret_hint, idp_ref, create_time,
                                  expire_time, revoke_time, secret_salt, secret_digest)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        &[
            c.id.into(),
            c.application_id.into(),
            (&c.secret_hint).into(),
            (&c.idp_ref).into(),
            c.create_time.into(),
            c.expire_time.into(),
            c.revoke_time.into(),
            Value::OptBytes(c.fingerprint.as_ref().map(|f| f.salt.as_slice())),
            Value::OptBytes(c.fingerprint.as_ref().map(|f| f.digest.as_slice())),
        ],
    )
    .await?;
    Ok(())
}

impl<D: Dialect> SqlStore<D> {
    pub(super) async fn credentials_of(
        &self,
        application_id: Uuid,
    ) -> StoreResult<Vec<Credential>> {
        self.db
            .fetch_all(
                "SELECT * FROM credentials WHERE application_id = $1 ORDER BY create_time, id",
                &[application_id.into()],
            )
            .await?
            .iter()
            .map(rows::credential)
            .collect()
    }

    /// Revokes one credential (a second revoke keeps the first time), with the intent to
    /// revoke it at the IdP when given.
    pub(super) async fn revoke_credential_row(
        &self,
        application_id: Uuid,
        credential_id: Uuid,
        intent: Option<&Operation>,
        now: DateTime<Utc>,
    ) -> StoreResult<Credential> {
        let mut tx = self.db.begin().await?;
        let row = tx
            .fetch_optional(
                "UPDATE credentials SET revoke_time = COALESCE(revoke_time, $3)
                 WHERE id = $1 AND application_id = $2 RETURNING *",
                &[credential_id.into(), application_id.into(), now.into()],
            )
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("credential {credential_id}")))?;
        let credential = rows::credential(&row)?;
        if let Some(op) = intent {
            insert_operation(&mut tx, op, now).await?;
        }
        let client_id = client_id_of(&mut tx, application_id).await?;
        tx.log_change(app_change(
            "credential",
            "revoked",
            &credential_id.to_string(),
            &application_id.to_string(),
            &client_id,
            now,
        ))
        .await?;
        tx.commit().await?;
        Ok(credential)
    }
}
