//! Postgres: providers, auth strategies and API products.

use std::collections::BTreeMap;
use std::time::Duration;

use dcr_common::text::echo;
use sqlx::Row as _;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use super::in_use;
use super::postgres::{classify, finish_page, log_change, page_limit, uuid_cursor};
use super::{ConfigStore, Page, PageRequest, PgStore, StoreError, StoreResult};
use crate::domain::{
    ApiProduct, AuthMethod, AuthStrategy, Provider, ProviderConfig, ProviderSecrets,
};

fn provider_context(id: Uuid) -> String {
    format!("provider:{id}")
}

impl PgStore {
    fn provider_from_row(&self, row: &PgRow) -> StoreResult<Provider> {
        let id: Uuid = row.try_get("id")?;
        let config: ProviderConfig = serde_json::from_value(row.try_get("config")?)
            .map_err(|e| StoreError::Corrupt(format!("provider {id} config: {e}")))?;
        let sealed: Vec<u8> = row.try_get("secrets_sealed")?;
        let secrets = ProviderSecrets::from_json(&self.open(&sealed, &provider_context(id))?)
            .map_err(|e| StoreError::Corrupt(format!("provider {id} secrets: {e}")))?;
        let labels: BTreeMap<String, String> = serde_json::from_value(row.try_get("labels")?)
            .map_err(|e| StoreError::Corrupt(format!("provider {id} labels: {e}")))?;
        Ok(Provider {
            id,
            name: row.try_get("name")?,
            display_name: row.try_get("display_name")?,
            issuer: row.try_get("issuer")?,
            config,
            secrets,
            labels,
            active: row.try_get("active")?,
            create_time: row.try_get("create_time")?,
            update_time: row.try_get("update_time")?,
        })
    }

    fn provider_columns(
        &self,
        p: &Provider,
    ) -> StoreResult<(serde_json::Value, Vec<u8>, serde_json::Value)> {
        let config =
            serde_json::to_value(&p.config).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let sealed = self.seal(&p.secrets.to_json(), &provider_context(p.id));
        let labels =
            serde_json::to_value(&p.labels).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok((config, sealed, labels))
    }
}

fn strategy_from_row(row: &PgRow) -> StoreResult<AuthStrategy> {
    let methods: Vec<String> = row.try_get("auth_methods")?;
    let ttl: i64 = row.try_get("session_ttl_seconds")?;
    Ok(AuthStrategy {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        provider_id: row.try_get("provider_id")?,
        credential_claims: row.try_get("credential_claims")?,
        scopes: row.try_get("scopes")?,
        audience: row.try_get("audience")?,
        auth_methods: methods
            .iter()
            .filter_map(|m| AuthMethod::parse(m))
            .collect(),
        session_cookie_name: row.try_get("session_cookie_name")?,
        session_ttl: Duration::from_secs(u64::try_from(ttl).unwrap_or(0)),
        auto_approve: row.try_get("auto_approve")?,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
}

fn product_from_row(row: &PgRow) -> StoreResult<ApiProduct> {
    Ok(ApiProduct {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        strategy_id: row.try_get("strategy_id")?,
        audience: row.try_get("audience")?,
        create_time: row.try_get("create_time")?,
        update_time: row.try_get("update_time")?,
    })
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

impl PgStore {
    /// Deletes one config row and logs the change; `InUse`, naming the users, while rows
    /// reference it.
    async fn delete_config_row(
        &self,
        table: &'static str,
        kind: &'static str,
        id: Uuid,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
            .bind(id)
            .execute(&mut *tx)
            .await;
        let done = match deleted.map_err(|e| classify(e, &format!("{kind} {id}"))) {
            Ok(done) => done,
            Err(StoreError::InUse(fallback)) => {
                // The failed statement aborted the transaction: look the users up outside it.
                drop(tx);
                return Err(StoreError::InUse(
                    self.users_of(table, kind, id).await.unwrap_or(fallback),
                ));
            }
            Err(other) => return Err(other),
        };
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("{kind} {id}")));
        }
        log_change(
            &mut tx,
            kind,
            "deleted",
            &id.to_string(),
            "",
            "",
            chrono::Utc::now(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Which rows still use config row `id`, worded for the caller (see `in_use`).
    async fn users_of(&self, table: &str, kind: &str, id: Uuid) -> StoreResult<String> {
        let name: Option<String> =
            sqlx::query_scalar(&format!("SELECT name FROM {table} WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        let mut found = Vec::new();
        for referrer in in_use::referrers(kind) {
            let rows = sqlx::query(&in_use::names_sql(referrer, "$1"))
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
            found.push(in_use::Found {
                referrer: *referrer,
                names: rows
                    .iter()
                    .map(|r| r.try_get("name"))
                    .collect::<Result<_, _>>()?,
                total: rows.first().map_or(Ok(0), |r| r.try_get("total"))?,
            });
        }
        Ok(in_use::message(
            kind,
            &name.unwrap_or_else(|| id.to_string()),
            &found,
        ))
    }
}

#[async_trait::async_trait]
impl ConfigStore for PgStore {
    async fn insert_provider(&self, p: &Provider) -> StoreResult<()> {
        let (config, sealed, labels) = self.provider_columns(p)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO providers (id, name, display_name, issuer, type, config, secrets_sealed,
                                    labels, active, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(p.id)
        .bind(&p.name)
        .bind(&p.display_name)
        .bind(&p.issuer)
        .bind(p.provider_type().as_str())
        .bind(config)
        .bind(sealed)
        .bind(labels)
        .bind(p.active)
        .bind(p.create_time)
        .bind(p.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("provider named \"{}\"", echo(&p.name))))?;
        log_change(
            &mut tx,
            "provider",
            "created",
            &p.id.to_string(),
            "",
            "",
            p.create_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_provider(&self, id: Uuid) -> StoreResult<Option<Provider>> {
        let row = sqlx::query("SELECT * FROM providers WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| self.provider_from_row(&r)).transpose()
    }

    async fn list_providers(&self, page: &PageRequest) -> StoreResult<Page<Provider>> {
        let rows = sqlx::query("SELECT * FROM providers WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(uuid_cursor(page.after.as_ref())?)
            .bind(page_limit(page.size))
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .iter()
            .map(|r| self.provider_from_row(r))
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |p| p.id.to_string()))
    }

    async fn update_provider(&self, p: &Provider) -> StoreResult<()> {
        let (config, sealed, labels) = self.provider_columns(p)?;
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE providers SET name = $2, display_name = $3, issuer = $4, config = $5,
                    secrets_sealed = $6, labels = $7, active = $8, update_time = $9
             WHERE id = $1",
        )
        .bind(p.id)
        .bind(&p.name)
        .bind(&p.display_name)
        .bind(&p.issuer)
        .bind(config)
        .bind(sealed)
        .bind(labels)
        .bind(p.active)
        .bind(p.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("provider named \"{}\"", echo(&p.name))))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("provider {}", p.id)));
        }
        log_change(
            &mut tx,
            "provider",
            "updated",
            &p.id.to_string(),
            "",
            "",
            p.update_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_provider(&self, id: Uuid) -> StoreResult<()> {
        self.delete_config_row("providers", "provider", id).await
    }

    async fn insert_strategy(&self, s: &AuthStrategy) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO auth_strategies (id, name, provider_id, credential_claims, scopes, audience,
                 auth_methods, session_cookie_name, session_ttl_seconds, auto_approve, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(s.id)
        .bind(&s.name)
        .bind(s.provider_id)
        .bind(&s.credential_claims)
        .bind(&s.scopes)
        .bind(&s.audience)
        .bind(methods(s))
        .bind(&s.session_cookie_name)
        .bind(ttl_seconds(s))
        .bind(s.auto_approve)
        .bind(s.create_time)
        .bind(s.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("strategy named \"{}\"", echo(&s.name))))?;
        log_change(
            &mut tx,
            "strategy",
            "created",
            &s.id.to_string(),
            "",
            "",
            s.create_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_strategy(&self, id: Uuid) -> StoreResult<Option<AuthStrategy>> {
        let row = sqlx::query("SELECT * FROM auth_strategies WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(strategy_from_row).transpose()
    }

    async fn list_strategies(&self, page: &PageRequest) -> StoreResult<Page<AuthStrategy>> {
        let rows = sqlx::query("SELECT * FROM auth_strategies WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(uuid_cursor(page.after.as_ref())?)
            .bind(page_limit(page.size))
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .iter()
            .map(strategy_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |s| s.id.to_string()))
    }

    async fn update_strategy(&self, s: &AuthStrategy) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE auth_strategies SET name = $2, credential_claims = $3, scopes = $4, audience = $5,
                    auth_methods = $6, session_cookie_name = $7, session_ttl_seconds = $8,
                    auto_approve = $9, update_time = $10
             WHERE id = $1",
        )
        .bind(s.id)
        .bind(&s.name)
        .bind(&s.credential_claims)
        .bind(&s.scopes)
        .bind(&s.audience)
        .bind(methods(s))
        .bind(&s.session_cookie_name)
        .bind(ttl_seconds(s))
        .bind(s.auto_approve)
        .bind(s.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("strategy named \"{}\"", echo(&s.name))))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("strategy {}", s.id)));
        }
        log_change(
            &mut tx,
            "strategy",
            "updated",
            &s.id.to_string(),
            "",
            "",
            s.update_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_strategy(&self, id: Uuid) -> StoreResult<()> {
        self.delete_config_row("auth_strategies", "strategy", id)
            .await
    }

    async fn insert_product(&self, p: &ApiProduct) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO api_products (id, name, description, strategy_id, audience, create_time, update_time)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.strategy_id)
        .bind(&p.audience)
        .bind(p.create_time)
        .bind(p.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("product named \"{}\"", echo(&p.name))))?;
        log_change(
            &mut tx,
            "product",
            "created",
            &p.id.to_string(),
            "",
            "",
            p.create_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_product(&self, id: Uuid) -> StoreResult<Option<ApiProduct>> {
        let row = sqlx::query("SELECT * FROM api_products WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(product_from_row).transpose()
    }

    async fn get_product_by_name(&self, name: &str) -> StoreResult<Option<ApiProduct>> {
        let row = sqlx::query("SELECT * FROM api_products WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(product_from_row).transpose()
    }

    async fn list_products(&self, page: &PageRequest) -> StoreResult<Page<ApiProduct>> {
        let rows = sqlx::query("SELECT * FROM api_products WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(uuid_cursor(page.after.as_ref())?)
            .bind(page_limit(page.size))
            .fetch_all(&self.pool)
            .await?;
        let items = rows
            .iter()
            .map(product_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(finish_page(items, page.size, |p| p.id.to_string()))
    }

    async fn update_product(&self, p: &ApiProduct) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE api_products SET name = $2, description = $3, strategy_id = $4, audience = $5,
                    update_time = $6
             WHERE id = $1",
        )
        .bind(p.id)
        .bind(&p.name)
        .bind(&p.description)
        .bind(p.strategy_id)
        .bind(&p.audience)
        .bind(p.update_time)
        .execute(&mut *tx)
        .await
        .map_err(|e| classify(e, &format!("product named \"{}\"", echo(&p.name))))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("product {}", p.id)));
        }
        log_change(
            &mut tx,
            "product",
            "updated",
            &p.id.to_string(),
            "",
            "",
            p.update_time,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_product(&self, id: Uuid) -> StoreResult<()> {
        self.delete_config_row("api_products", "product", id).await
    }
}
