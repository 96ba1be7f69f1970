//! What the registry holds now: every provider, strategy and product (all pages).

use std::collections::BTreeMap;

use anyhow::Context as _;
use dcr_proto::registry::v1 as pb;

use crate::connection::ConnectionArgs;

/// The registry's page size cap.
const PAGE_SIZE: i32 = 500;

#[derive(Debug, Clone, Default)]
pub struct Current {
    pub providers: Vec<pb::Provider>,
    pub strategies: Vec<pb::AuthStrategy>,
    pub products: Vec<pb::ApiProduct>,
}

impl Current {
    pub async fn read(connection: &ConnectionArgs) -> anyhow::Result<Self> {
        let mut providers = connection.providers()?;
        let mut strategies = connection.strategies()?;
        let mut products = connection.products()?;
        let mut current = Current::default();
        let mut token = String::new();
        loop {
            let page = providers
                .list_providers(pb::ListProvidersRequest {
                    page_size: PAGE_SIZE,
                    page_token: token,
                })
                .await
                .context("listing the registry's providers")?
                .into_inner();
            current.providers.extend(page.providers);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        loop {
            let page = strategies
                .list_strategies(pb::ListStrategiesRequest {
                    page_size: PAGE_SIZE,
                    page_token: token,
                })
                .await
                .context("listing the registry's strategies")?
                .into_inner();
            current.strategies.extend(page.strategies);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        loop {
            let page = products
                .list_products(pb::ListProductsRequest {
                    page_size: PAGE_SIZE,
                    page_token: token,
                })
                .await
                .context("listing the registry's products")?
                .into_inner();
            current.products.extend(page.products);
            token = page.next_page_token;
            if token.is_empty() {
                break;
            }
        }
        Ok(current)
    }

    /// Provider names by id.
    pub fn provider_names(&self) -> BTreeMap<String, String> {
        self.providers
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect()
    }

    /// Strategy names by id.
    pub fn strategy_names(&self) -> BTreeMap<String, String> {
        self.strategies
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect()
    }
}

/// The name for an id, or the id itself when the registry returned a dangling reference.
pub fn name_of(names: &BTreeMap<String, String>, id: &str) -> String {
    names.get(id).cloned().unwrap_or_else(|| id.to_owned())
}
