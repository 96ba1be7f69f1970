//! The product catalog: what developers can register their applications for, and how
//! those APIs are called.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use dcr_proto::registry::v1 as pb;

use crate::Portal;
use crate::errors::PageError;
use crate::registry::As;
use crate::views::{Layout, render};
use crate::web::Me;

/// A product as the catalog lists it.
pub struct Product {
    pub id: String,
    pub name: String,
    pub description: String,
    pub strategy_id: String,
    pub methods: String,
    pub scopes: String,
    pub auto_approve: bool,
}

impl From<pb::CatalogProduct> for Product {
    fn from(p: pb::CatalogProduct) -> Self {
        let methods = p
            .auth_methods
            .iter()
            .filter_map(|m| match pb::AuthMethod::try_from(*m).ok()? {
                pb::AuthMethod::ClientCredentials => Some("client credentials (Basic)"),
                pb::AuthMethod::Bearer => Some("bearer tokens"),
                pb::AuthMethod::Session => Some("session cookie"),
                pb::AuthMethod::Unspecified => None,
            })
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            strategy_id: p.strategy_id,
            methods,
            scopes: p.scopes.join(" "),
            auto_approve: p.auto_approve,
        }
    }
}

/// Every product in the catalog (all pages of it).
pub async fn products(registry: &As) -> Result<Vec<Product>, PageError> {
    let mut client = registry.applications();
    let mut products = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_catalog(pb::ListCatalogRequest {
                page_size: 100,
                page_token: page_token.clone(),
            })
            .await?
            .into_inner();
        products.extend(page.products.into_iter().map(Product::from));
        if page.next_page_token.is_empty() || products.len() >= 1000 {
            return Ok(products);
        }
        page_token = page.next_page_token;
    }
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    layout: Layout,
    products: Vec<Product>,
}

pub async fn page(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    let products = products(&me.registry(&portal)?).await?;
    Ok(render(&CatalogPage {
        layout: Layout::of(&portal, &me, "API products", "catalog"),
        products,
    }))
}
