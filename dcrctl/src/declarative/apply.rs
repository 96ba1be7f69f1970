//! Carries out a plan's calls in dependency order (providers, strategies, products, as
//! `diff::prepare` lists them) and stops at the first failure, saying what was applied.

use std::collections::BTreeMap;

use anyhow::Context as _;
use dcr_proto::registry::v1 as pb;

use super::diff::Op;
use super::plan::Kind;
use super::state::Current;
use crate::connection::{Authed, ConnectionArgs};
use pb::product_service_client::ProductServiceClient;
use pb::provider_service_client::ProviderServiceClient;
use pb::strategy_service_client::StrategyServiceClient;

/// Why apply stopped, and what it had done before.
#[derive(Debug, thiserror::Error)]
#[error("apply stopped: {failed}; {done}")]
pub struct ApplyStopped {
    pub failed: String,
    pub done: String,
}

fn mask(paths: Vec<String>) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask { paths })
}

fn lookup(ids: &BTreeMap<String, String>, kind: &str, name: &str) -> anyhow::Result<String> {
    ids.get(name)
        .cloned()
        .with_context(|| format!("the {kind} {name:?} is in neither the registry nor the file"))
}

pub async fn run(
    connection: &ConnectionArgs,
    current: &Current,
    ops: Vec<Op>,
) -> anyhow::Result<()> {
    let mut applier = Applier::new(connection, current)?;
    let mut done: Vec<String> = Vec::new();
    for op in ops {
        let what = op.describe();
        if let Err(error) = applier.apply(op).await {
            return Err(stopped(error, &what, &done));
        }
        done.push(what);
    }
    Ok(())
}

/// The error that says which call failed and what had been applied before it.
fn stopped(error: anyhow::Error, what: &str, done: &[String]) -> anyhow::Error {
    let failed = what
        .replacen("created", "creating", 1)
        .replacen("updated", "updating", 1);
    let done = if done.is_empty() {
        "nothing had been changed".to_owned()
    } else {
        format!(
            "already applied: {} (apply the file again once fixed: it continues from there)",
            done.join(", ")
        )
    };
    // The gRPC status stays in the chain, for the CLI to explain.
    error.context(ApplyStopped {
        failed: format!("{failed} failed"),
        done,
    })
}

/// The registry's clients, and the ids by name of the providers and strategies that exist
/// so far: a strategy created in this run names a provider created earlier in it.
struct Applier {
    providers: ProviderServiceClient<Authed>,
    strategies: StrategyServiceClient<Authed>,
    products: ProductServiceClient<Authed>,
    provider_ids: BTreeMap<String, String>,
    strategy_ids: BTreeMap<String, String>,
}

impl Applier {
    fn new(connection: &ConnectionArgs, current: &Current) -> anyhow::Result<Self> {
        Ok(Self {
            providers: connection.providers()?,
            strategies: connection.strategies()?,
            products: connection.products()?,
            provider_ids: current
                .providers
                .iter()
                .map(|p| (p.name.clone(), p.id.clone()))
                .collect(),
            strategy_ids: current
                .strategies
                .iter()
                .map(|s| (s.name.clone(), s.id.clone()))
                .collect(),
        })
    }

    async fn apply(&mut self, op: Op) -> anyhow::Result<()> {
        match op {
            Op::CreateProvider { provider } => self.create_provider(provider).await,
            Op::UpdateProvider {
                provider,
                mask: paths,
            } => {
                self.providers
                    .update_provider(pb::UpdateProviderRequest {
                        provider: Some(provider),
                        update_mask: mask(paths),
                    })
                    .await?;
                Ok(())
            }
            Op::CreateStrategy { provider, strategy } => {
                self.create_strategy(&provider, strategy).await
            }
            Op::UpdateStrategy {
                strategy,
                mask: paths,
            } => {
                self.strategies
                    .update_strategy(pb::UpdateStrategyRequest {
                        strategy: Some(strategy),
                        update_mask: mask(paths),
                    })
                    .await?;
                Ok(())
            }
            Op::CreateProduct { strategy, product } => {
                self.create_product(&strategy, product).await
            }
            Op::UpdateProduct {
                strategy,
                product,
                mask: paths,
            } => self.update_product(&strategy, product, paths).await,
            Op::Delete { kind, id, .. } => self.delete(kind, id).await,
        }
    }

    async fn create_provider(&mut self, provider: pb::Provider) -> anyhow::Result<()> {
        let created = self
            .providers
            .create_provider(pb::CreateProviderRequest {
                provider: Some(provider),
            })
            .await?
            .into_inner();
        self.provider_ids.insert(created.name, created.id);
        Ok(())
    }

    async fn create_strategy(
        &mut self,
        provider: &str,
        mut strategy: pb::AuthStrategy,
    ) -> anyhow::Result<()> {
        strategy.provider_id = lookup(&self.provider_ids, "provider", provider)?;
        let created = self
            .strategies
            .create_strategy(pb::CreateStrategyRequest {
                strategy: Some(strategy),
            })
            .await?
            .into_inner();
        self.strategy_ids.insert(created.name, created.id);
        Ok(())
    }

    async fn create_product(
        &mut self,
        strategy: &str,
        mut product: pb::ApiProduct,
    ) -> anyhow::Result<()> {
        product.strategy_id = lookup(&self.strategy_ids, "strategy", strategy)?;
        self.products
            .create_product(pb::CreateProductRequest {
                product: Some(product),
            })
            .await?;
        Ok(())
    }

    async fn update_product(
        &mut self,
        strategy: &str,
        mut product: pb::ApiProduct,
        paths: Vec<String>,
    ) -> anyhow::Result<()> {
        product.strategy_id = lookup(&self.strategy_ids, "strategy", strategy)?;
        self.products
            .update_product(pb::UpdateProductRequest {
                product: Some(product),
                update_mask: mask(paths),
            })
            .await?;
        Ok(())
    }

    async fn delete(&mut self, kind: Kind, id: String) -> anyhow::Result<()> {
        match kind {
            Kind::Product => {
                self.products
                    .delete_product(pb::DeleteProductRequest { id })
                    .await?;
            }
            Kind::Strategy => {
                self.strategies
                    .delete_strategy(pb::DeleteStrategyRequest { id })
                    .await?;
            }
            Kind::Provider => {
                self.providers
                    .delete_provider(pb::DeleteProviderRequest { id })
                    .await?;
            }
        }
        Ok(())
    }
}
