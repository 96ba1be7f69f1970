//! Carries out a plan's calls in dependency order (providers, strategies, products, as
//! `diff::prepare` lists them) and stops at the first failure, saying what was applied.

use std::collections::BTreeMap;

use anyhow::Context as _;
use dcr_proto::registry::v1 as pb;

use super::diff::Op;
use super::plan::Kind;
use super::state::Current;
use crate::connection::ConnectionArgs;

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
    let mut providers = connection.providers()?;
    let mut strategies = connection.strategies()?;
    let mut products = connection.products()?;
    let mut provider_ids: BTreeMap<String, String> = current
        .providers
        .iter()
        .map(|p| (p.name.clone(), p.id.clone()))
        .collect();
    let mut strategy_ids: BTreeMap<String, String> = current
        .strategies
        .iter()
        .map(|s| (s.name.clone(), s.id.clone()))
        .collect();
    let mut done: Vec<String> = Vec::new();
    for op in ops {
        let what = op.describe();
        let result: anyhow::Result<()> = async {
            match op {
                Op::CreateProvider { provider } => {
                    let created = providers
                        .create_provider(pb::CreateProviderRequest {
                            provider: Some(provider),
                        })
                        .await?
                        .into_inner();
                    provider_ids.insert(created.name, created.id);
                }
                Op::UpdateProvider {
                    provider,
                    mask: paths,
                } => {
                    providers
                        .update_provider(pb::UpdateProviderRequest {
                            provider: Some(provider),
                            update_mask: mask(paths),
                        })
                        .await?;
                }
                Op::CreateStrategy {
                    provider,
                    mut strategy,
                } => {
                    strategy.provider_id = lookup(&provider_ids, "provider", &provider)?;
                    let created = strategies
                        .create_strategy(pb::CreateStrategyRequest {
                            strategy: Some(strategy),
                        })
                        .await?
                        .into_inner();
                    strategy_ids.insert(created.name, created.id);
                }
                Op::UpdateStrategy {
                    strategy,
                    mask: paths,
                } => {
                    strategies
                        .update_strategy(pb::UpdateStrategyRequest {
                            strategy: Some(strategy),
                            update_mask: mask(paths),
                        })
                        .await?;
                }
                Op::CreateProduct {
                    strategy,
                    mut product,
                } => {
                    product.strategy_id = lookup(&strategy_ids, "strategy", &strategy)?;
                    products
                        .create_product(pb::CreateProductRequest {
                            product: Some(product),
                        })
                        .await?;
                }
                Op::UpdateProduct {
                    strategy,
                    mut product,
                    mask: paths,
                } => {
                    product.strategy_id = lookup(&strategy_ids, "strategy", &strategy)?;
                    products
                        .update_product(pb::UpdateProductRequest {
                            product: Some(product),
                            update_mask: mask(paths),
                        })
                        .await?;
                }
                Op::Delete { kind, id, .. } => match kind {
                    Kind::Product => {
                        products
                            .delete_product(pb::DeleteProductRequest { id })
                            .await?;
                    }
                    Kind::Strategy => {
                        strategies
                            .delete_strategy(pb::DeleteStrategyRequest { id })
                            .await?;
                    }
                    Kind::Provider => {
                        providers
                            .delete_provider(pb::DeleteProviderRequest { id })
                            .await?;
                    }
                },
            }
            Ok(())
        }
        .await;
        if let Err(error) = result {
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
            return Err(error.context(ApplyStopped {
                failed: format!("{failed} failed"),
                done,
            }));
        }
        done.push(what);
    }
    Ok(())
}
