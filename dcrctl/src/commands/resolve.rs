//! Ids or names: wherever a provider, strategy, product or application is expected, its id
//! or its unique name will do. Names are looked up by listing; an unknown or ambiguous
//! name is an error that says so. The other way round, [`Names`] shows names instead of
//! ids in tables.

use std::collections::HashMap;

use dcr_proto::registry::v1 as reg;

use super::{Ctx, PAGE_SIZE, all_pages};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote, usage};

/// dcr's ids are UUIDs; anything else is taken as a name.
pub fn looks_like_id(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok()
}

/// The one item whose name is `wanted`.
pub fn by_name<'a, T>(
    (kind, plural): (&str, &str),
    wanted: &str,
    items: &'a [T],
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> &str,
) -> anyhow::Result<&'a T> {
    let found: Vec<&T> = items.iter().filter(|i| name(i) == wanted).collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => {
            anyhow::bail!(
                "there is no {kind} named {} (`dcrctl {plural} list` shows them)",
                quote(wanted)
            )
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|i| id(i)).collect();
            anyhow::bail!(
                "{} {plural} are named {}: pass the id instead (one of {})",
                many.len(),
                quote(wanted),
                ids.join(", ")
            )
        }
    }
}

/// Portal commands resolve strategy and product names through the admin API (the portal
/// API does not list them); without the admin token only ids work.
fn admin_needed(ctx: &Ctx, kind: &str, wanted: &str) -> anyhow::Result<()> {
    if ctx.connection.has_admin_token() {
        return Ok(());
    }
    Err(usage(format!(
        "{} is not a {kind} id, and looking up {kind} names needs the admin API: \
         pass the {kind}'s id, or set DCR_ADMIN_TOKEN (--admin-token)",
        quote(wanted)
    )))
}

pub async fn providers(ctx: &Ctx) -> anyhow::Result<Vec<reg::Provider>> {
    let mut client = ctx.connection.providers()?;
    Ok(all_pages(async |page_token| {
        let r = client
            .list_providers(reg::ListProvidersRequest {
                page_size: PAGE_SIZE,
                page_token,
            })
            .await
            .on(Role::Admin, "list providers")?;
        Ok((r.providers, r.next_page_token))
    })
    .await?)
}

pub async fn strategies(ctx: &Ctx) -> anyhow::Result<Vec<reg::AuthStrategy>> {
    let mut client = ctx.connection.strategies()?;
    Ok(all_pages(async |page_token| {
        let r = client
            .list_strategies(reg::ListStrategiesRequest {
                page_size: PAGE_SIZE,
                page_token,
            })
            .await
            .on(Role::Admin, "list strategies")?;
        Ok((r.strategies, r.next_page_token))
    })
    .await?)
}

pub async fn products(ctx: &Ctx) -> anyhow::Result<Vec<reg::ApiProduct>> {
    let mut client = ctx.connection.products()?;
    Ok(all_pages(async |page_token| {
        let r = client
            .list_products(reg::ListProductsRequest {
                page_size: PAGE_SIZE,
                page_token,
            })
            .await
            .on(Role::Admin, "list products")?;
        Ok((r.products, r.next_page_token))
    })
    .await?)
}

pub async fn applications(ctx: &Ctx) -> anyhow::Result<Vec<reg::Application>> {
    let mut client = ctx.connection.applications()?;
    Ok(all_pages(async |page_token| {
        let r = client
            .list_applications(reg::ListApplicationsRequest {
                page_size: PAGE_SIZE,
                page_token,
            })
            .await
            .on(Role::Portal, "list applications")?;
        Ok((r.applications, r.next_page_token))
    })
    .await?)
}

pub async fn provider_id(ctx: &Ctx, wanted: &str) -> anyhow::Result<String> {
    if looks_like_id(wanted) {
        return Ok(wanted.to_owned());
    }
    let all = providers(ctx).await?;
    Ok(by_name(
        ("provider", "providers"),
        wanted,
        &all,
        |p| &p.id,
        |p| &p.name,
    )?
    .id
    .clone())
}

pub async fn strategy_id(ctx: &Ctx, wanted: &str) -> anyhow::Result<String> {
    if looks_like_id(wanted) {
        return Ok(wanted.to_owned());
    }
    admin_needed(ctx, "strategy", wanted)?;
    let all = strategies(ctx).await?;
    Ok(by_name(
        ("strategy", "strategies"),
        wanted,
        &all,
        |s| &s.id,
        |s| &s.name,
    )?
    .id
    .clone())
}

/// A product by id or name: names through the admin API when the admin token is set,
/// else through the directory with the service token.
pub async fn product_id(ctx: &Ctx, wanted: &str) -> anyhow::Result<String> {
    if looks_like_id(wanted) {
        return Ok(wanted.to_owned());
    }
    if ctx.connection.has_admin_token() {
        let all = products(ctx).await?;
        return Ok(by_name(
            ("product", "products"),
            wanted,
            &all,
            |p| &p.id,
            |p| &p.name,
        )?
        .id
        .clone());
    }
    if ctx.connection.has_service_token() {
        return product_by_directory(ctx, wanted).await;
    }
    Err(usage(format!(
        "{} is not a product id, and looking up product names needs the admin or the \
         service token: pass the product's id, or set DCR_ADMIN_TOKEN or DCR_SERVICE_TOKEN",
        quote(wanted)
    )))
}

/// The registry's directory looks product names up for gateways (they are unique).
pub async fn product_by_directory(ctx: &Ctx, name: &str) -> anyhow::Result<String> {
    let answer = ctx
        .connection
        .directory()?
        .resolve_product(reg::ResolveProductRequest {
            product_id: String::new(),
            name: name.to_owned(),
        })
        .await;
    match answer {
        Err(status) if status.code() == tonic::Code::NotFound => {
            anyhow::bail!(
                "there is no product named {} (`dcrctl products list` shows them)",
                quote(name)
            )
        }
        answer => answer
            .on(Role::Directory, format!("product {}", quote(name)))?
            .product
            .map(|p| p.id)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "the registry found product {} but sent no product",
                    quote(name)
                )
            }),
    }
}

/// Applications are the developer's own (the portal lists only those).
pub async fn application_id(ctx: &Ctx, wanted: &str) -> anyhow::Result<String> {
    if looks_like_id(wanted) {
        return Ok(wanted.to_owned());
    }
    let all = applications(ctx).await?;
    application_in(&all, wanted)
}

/// An application by id or name among `apps`, already listed.
pub fn application_in(apps: &[reg::Application], wanted: &str) -> anyhow::Result<String> {
    if looks_like_id(wanted) {
        return Ok(wanted.to_owned());
    }
    let app = by_name(("app", "apps"), wanted, apps, |a| &a.id, |a| &a.name)?;
    Ok(app.id.clone())
}

/// Names by id, for tables that show what a row refers to. An id whose name the caller's
/// tokens cannot look up is shown as it is.
#[derive(Debug, Default)]
pub struct Names(HashMap<String, String>);

impl Names {
    pub fn of<T>(items: &[T], id: impl Fn(&T) -> &str, name: impl Fn(&T) -> &str) -> Self {
        Self(
            items
                .iter()
                .map(|i| (id(i).to_owned(), name(i).to_owned()))
                .collect(),
        )
    }

    pub fn insert(&mut self, id: &str, name: &str) {
        self.0.insert(id.to_owned(), name.to_owned());
    }

    pub fn get(&self, id: &str) -> Option<&str> {
        self.0.get(id).map(String::as_str)
    }

    /// The cells for one reference: its name (or the id); with `wide`, the name (or "-")
    /// and the id.
    pub fn cells(&self, id: &str, wide: bool) -> Vec<String> {
        match (self.get(id), wide) {
            (Some(name), false) => vec![name.to_owned()],
            (None, false) => vec![id.to_owned()],
            (name, true) => vec![name.unwrap_or("-").to_owned(), id.to_owned()],
        }
    }
}

/// The header cells of a reference column, as [`Names::cells`] fills them.
pub fn header(column: &'static str, id_column: &'static str, wide: bool) -> Vec<&'static str> {
    if wide {
        vec![column, id_column]
    } else {
        vec![column]
    }
}

/// Whether portal calls can be made: the portal token and a developer to act for, or a
/// signed-in person.
pub fn has_portal(ctx: &Ctx) -> bool {
    ctx.connection.has_portal()
}

// Names only decorate a table: a lookup the caller's role may not make, or that fails,
// leaves the ids, and the list itself is still printed.

/// Provider names, with the admin token.
pub async fn provider_names(ctx: &Ctx) -> Names {
    if !ctx.connection.has_admin_token() {
        return Names::default();
    }
    providers(ctx)
        .await
        .map(|all| Names::of(&all, |p| &p.id, |p| &p.name))
        .unwrap_or_default()
}

/// Strategy names, with the admin token (the portal API does not list strategies).
pub async fn strategy_names(ctx: &Ctx) -> Names {
    if !ctx.connection.has_admin_token() {
        return Names::default();
    }
    strategies(ctx)
        .await
        .map(|all| Names::of(&all, |s| &s.id, |s| &s.name))
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_known_and_unique() {
        let items = [("1", "a"), ("2", "b"), ("3", "b")];
        let pick = |wanted| by_name(("product", "products"), wanted, &items, |i| i.0, |i| i.1);
        assert_eq!(pick("a").ok().map(|i| i.0), Some("1"));
        let ambiguous = pick("b").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            ambiguous.contains("2 products are named \"b\""),
            "{ambiguous}"
        );
        assert!(ambiguous.contains("one of 2, 3"), "{ambiguous}");
        let unknown = pick("c").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(unknown.contains("no product named \"c\""), "{unknown}");
    }

    #[test]
    fn ids_are_uuids() {
        assert!(looks_like_id("0192f7a4-2b7e-7cc1-9b1e-3c4d5e6f7a8b"));
        assert!(!looks_like_id("demo"));
    }
}
