//! Providers, auth strategies and API products.

use dcr_common::text::echo;
use uuid::Uuid;

use super::dialect::{Conn as _, Dialect, SqlRow as _, Value, WriteTx as _};
use super::rows::{self, provider_context};
use super::sql::{SqlStore, classify, config_change, finish_page, page_limit, uuid_cursor};
use super::{ConfigStore, Page, PageRequest, StoreError, StoreResult, in_use};
use crate::domain::{ApiProduct, AuthStrategy, Provider};

fn json(value: &impl serde::Serialize) -> StoreResult<serde_json::Value> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn methods(strategy: &AuthStrategy) -> Vec<String> {
    strategy
        .auth_methods
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect()
}

fn ttl_seconds(strategy: &AuthStrategy) -> i64 {
    i64::try_from(strategy.session_ttl.as_secs()).unwrap_or(i64::MAX)
}

impl<D: Dialect> SqlStore<D> {
    /// One config row written and its change logged, in one transaction.
    async fn write_config_row(
        &self,
        sql: &str,
        params: &[Value<'_>],
        named: (&str, &str),
        id: Uuid,
        action: &str,
        time: chrono::DateTime<chrono::Utc>,
    ) -> StoreResult<()> {
        let (kind, name) = named;
        let mut tx = self.db.begin().await?;
        let done = tx
            .execute(sql, params)
            .await
            .map_err(|e| classify(e, &format!("{kind} named \"{}\"", echo(name))))?;
        if done == 0 {
            return Err(StoreError::NotFound(format!("{kind} {id}")));
        }
        tx.log_change(config_change(kind, action, &id.to_string(), time))
            .await?;
        tx.commit().await
    }

    /// Deletes one config row and logs the change; `InUse`, naming the users, while rows
    /// reference it.
    async fn delete_config_row(&self, table: &str, kind: &str, id: Uuid) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let deleted = tx
            .execute(&format!("DELETE FROM {table} WHERE id = $1"), &[id.into()])
            .await;
        let done = match deleted.map_err(|e| classify(e, &format!("{kind} {id}"))) {
            Ok(done) => done,
            Err(StoreError::InUse(fallback)) => {
                // The refused statement may have aborted the transaction (Postgres) and
                // holds the writer (SQLite): look the users up outside it.
                drop(tx);
                return Err(StoreError::InUse(
                    self.users_of(table, kind, id).await.unwrap_or(fallback),
                ));
            }
            Err(other) => return Err(other),
        };
        if done == 0 {
            return Err(StoreError::NotFound(format!("{kind} {id}")));
        }
        tx.log_change(config_change(
            kind,
            "deleted",
            &id.to_string(),
            chrono::Utc::now(),
        ))
        .await?;
        tx.commit().await
    }

    /// Which rows still use config row `id`, worded for the caller (see `in_use`).
    async fn users_of(&self, table: &str, kind: &str, id: Uuid) -> StoreResult<String> {
        let name = self
            .db
            .fetch_optional(
                &format!("SELECT name FROM {table} WHERE id = $1"),
                &[id.into()],
            )
            .await?
            .map(|row| row.text("name"))
            .transpose()?;
        let mut found = Vec::new();
        for referrer in in_use::referrers(kind) {
            let rows = self
                .db
                .fetch_all(&in_use::names_sql(referrer), &[id.into()])
                .await?;
            found.push(in_use::Found {
                referrer: *referrer,
                names: rows
                    .iter()
                    .map(|r| r.text("name"))
                    .collect::<StoreResult<_>>()?,
                total: rows.first().map_or(Ok(0), |r| r.int("total"))?,
            });
        }
        Ok(in_use::message(
            kind,
            &name.unwrap_or_else(|| id.to_string()),
            &found,
        ))
    }

    /// One row of a config table by id.
    async fn config_row<T>(
        &self,
        table: &str,
        id: Uuid,
        map: impl Fn(&D::Row) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        self.db
            .fetch_optional(
                &format!("SELECT * FROM {table} WHERE id = $1"),
                &[id.into()],
            )
            .await?
            .as_ref()
            .map(map)
            .transpose()
    }

    /// One page of a config table, in id order.
    async fn config_page<T>(
        &self,
        table: &str,
        page: &PageRequest,
        map: impl Fn(&D::Row) -> StoreResult<T>,
        id: impl Fn(&T) -> Uuid,
    ) -> StoreResult<Page<T>> {
        let rows = self
            .db
            .fetch_all(
                &format!("SELECT * FROM {table} WHERE id > $1 ORDER BY id LIMIT $2"),
                &[
                    uuid_cursor(page.after.as_ref())?.into(),
                    page_limit(page.size).into(),
                ],
            )
            .await?;
        let items = rows.iter().map(map).collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |item| id(item).to_string()))
    }
}

#[async_trait::async_trait]
impl<D: Dialect> ConfigStore for SqlStore<D> {
    async fn insert_provider(&self, p: &Provider) -> StoreResult<()> {
        let sealed = self.seal(&p.secrets.to_json(), &provider_context(p.id));
        self.write_config_row(
            "INSERT INTO providers (id, name, display_name, issuer, type, config, secrets_sealed,
                                    labels, active, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            &[
                p.id.into(),
                (&p.name).into(),
                (&p.display_name).into(),
                (&p.issuer).into(),
                p.provider_type().as_str().into(),
                (&json(&p.config)?).into(),
                (&sealed).into(),
                (&json(&p.labels)?).into(),
                p.active.into(),
                p.create_time.into(),
                p.update_time.into(),
            ],
            ("provider", &p.name),
            p.id,
            "created",
            p.create_time,
        )
        .await
    }

    async fn get_provider(&self, id: Uuid) -> StoreResult<Option<Provider>> {
        self.config_row("providers", id, |r| self.provider(r)).await
    }

    async fn list_providers(&self, page: &PageRequest) -> StoreResult<Page<Provider>> {
        self.config_page("providers", page, |r| self.provider(r), |p| p.id)
            .await
    }

    async fn update_provider(&self, p: &Provider) -> StoreResult<()> {
        let sealed = self.seal(&p.secrets.to_json(), &provider_context(p.id));
        self.write_config_row(
            "UPDATE providers SET name = $2, display_name = $3, issuer = $4, config = $5,
                    secrets_sealed = $6, labels = $7, active = $8, update_time = $9
             WHERE id = $1",
            &[
                p.id.into(),
                (&p.name).into(),
                (&p.display_name).into(),
                (&p.issuer).into(),
                (&json(&p.config)?).into(),
                (&sealed).into(),
                (&json(&p.labels)?).into(),
                p.active.into(),
                p.update_time.into(),
            ],
            ("provider", &p.name),
            p.id,
            "updated",
            p.update_time,
        )
        .await
    }

    async fn delete_provider(&self, id: Uuid) -> StoreResult<()> {
        self.delete_config_row("providers", "provider", id).await
    }

    async fn insert_strategy(&self, s: &AuthStrategy) -> StoreResult<()> {
        self.write_config_row(
            "INSERT INTO auth_strategies (id, name, provider_id, credential_claims, scopes,
                 audience, auth_methods, session_cookie_name, session_ttl_seconds, auto_approve,
                 create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            &[
                s.id.into(),
                (&s.name).into(),
                s.provider_id.into(),
                (&s.credential_claims).into(),
                (&s.scopes).into(),
                (&s.audience).into(),
                (&methods(s)).into(),
                (&s.session_cookie_name).into(),
                ttl_seconds(s).into(),
                s.auto_approve.into(),
                s.create_time.into(),
                s.update_time.into(),
            ],
            ("strategy", &s.name),
            s.id,
            "created",
            s.create_time,
        )
        .await
    }

    async fn get_strategy(&self, id: Uuid) -> StoreResult<Option<AuthStrategy>> {
        self.config_row("auth_strategies", id, rows::strategy).await
    }

    async fn list_strategies(&self, page: &PageRequest) -> StoreResult<Page<AuthStrategy>> {
        self.config_page("auth_strategies", page, rows::strategy, |s| s.id)
            .await
    }

    async fn update_strategy(&self, s: &AuthStrategy) -> StoreResult<()> {
        self.write_config_row(
            "UPDATE auth_strategies SET name = $2, credential_claims = $3, scopes = $4,
                    audience = $5, auth_methods = $6, session_cookie_name = $7,
                    session_ttl_seconds = $8, auto_approve = $9, update_time = $10
             WHERE id = $1",
            &[
                s.id.into(),
                (&s.name).into(),
                (&s.credential_claims).into(),
                (&s.scopes).into(),
                (&s.audience).into(),
                (&methods(s)).into(),
                (&s.session_cookie_name).into(),
                ttl_seconds(s).into(),
                s.auto_approve.into(),
                s.update_time.into(),
            ],
            ("strategy", &s.name),
            s.id,
            "updated",
            s.update_time,
        )
        .await
    }

    async fn delete_strategy(&self, id: Uuid) -> StoreResult<()> {
        self.delete_config_row("auth_strategies", "strategy", id)
            .await
    }

    async fn insert_product(&self, p: &ApiProduct) -> StoreResult<()> {
        self.write_config_row(
            "INSERT INTO api_products (id, name, description, strategy_id, audience, create_time,
                                       update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                p.id.into(),
                (&p.name).into(),
                (&p.description).into(),
                p.strategy_id.into(),
                (&p.audience).into(),
                p.create_time.into(),
                p.update_time.into(),
            ],
            ("product", &p.name),
            p.id,
            "created",
            p.create_time,
        )
        .await
    }

    async fn get_product(&self, id: Uuid) -> StoreResult<Option<ApiProduct>> {
        self.config_row("api_products", id, rows::product).await
    }

    async fn get_product_by_name(&self, name: &str) -> StoreResult<Option<ApiProduct>> {
        self.db
            .fetch_optional("SELECT * FROM api_products WHERE name = $1", &[name.into()])
            .await?
            .as_ref()
            .map(rows::product)
            .transpose()
    }

    async fn list_products(&self, page: &PageRequest) -> StoreResult<Page<ApiProduct>> {
        self.config_page("api_products", page, rows::product, |p| p.id)
            .await
    }

    async fn update_product(&self, p: &ApiProduct) -> StoreResult<()> {
        self.write_config_row(
            "UPDATE api_products SET name = $2, description = $3, strategy_id = $4,
                    audience = $5, update_time = $6
             WHERE id = $1",
            &[
                p.id.into(),
                (&p.name).into(),
                (&p.description).into(),
                p.strategy_id.into(),
                (&p.audience).into(),
                p.update_time.into(),
            ],
            ("product", &p.name),
            p.id,
            "updated",
            p.update_time,
        )
        .await
    }

    async fn delete_product(&self, id: Uuid) -> StoreResult<()> {
        self.delete_config_row("api_products", "product", id).await
    }
}
