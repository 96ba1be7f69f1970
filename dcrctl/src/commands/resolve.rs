//! Ids or names: wherever a provider, strategy, product or application is expected, its id
//! or its unique name will do. Names are looked up by listing; an unknown or ambiguous
//! name is an error that says so.

use dcr_proto::registry::v1 as reg;

use super::{Ctx, PAGE_SIZE, all_pages};
use crate::connection::Role;
use crate::errors::{CallExt as _, usage};

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
            anyhow::bail!("there is no {kind} named {wanted:?} (`dcrctl {plural} list` shows them)")
        }
        many => {
            let ids: Vec<&str> = many.iter().map(|i| id(i)).collect();
            anyhow::bail!(
                "{} {plural} are named {wanted:?}: pass the id instead (one of {})",
                many.len(),
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
        "{wanted:?} is not a {kind} id, and looking up {kind} names needs the admin API: \
         pass the {kind}'s id, or set DCR_ADMIN_TOKEN (--admin-token)"
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
        "{wanted:?} is not a product id, and looking up product names needs the admin or the \
         service token: pass the product's id, or set DCR_ADMIN_TOKEN or DCR_SERVICE_TOKEN"
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
            anyhow::bail!("there is no product named {name:?} (`dcrctl products list` shows them)")
        }
        answer => answer
            .on(Role::Directory, format!("product {name:?}"))?
            .product
            .map(|p| p.id)
            .ok_or_else(|| {
                anyhow::anyhow!("the registry found product {name:?} but sent no product")
            }),
    }
}

/// Applications are the developer's own (the portal lists only those).
pub async fn application_id(ctx: &Ctx, wanted: &str) -> anyhow::Result<String> {
    if looks_like_id(wanted) {
        return Ok(wanted.to_owned());
    }
    let all = applications(ctx).await?;
    let app = by_name(("app", "apps"), wanted, &all, |a| &a.id, |a| &a.name)?;
    Ok(app.id.clone())
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
