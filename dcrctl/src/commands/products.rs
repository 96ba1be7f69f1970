//! `dcrctl products`: what apps register for (admin API).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use dcr_proto::registry::v1 as reg;

use super::{Ctx, refuse_env, resolve};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote, usage};
use crate::output::{self, Format, Table};

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// List the products.
    List(ListArgs),
    /// Show one product.
    Get { product: String },
    /// Create a product with its auth strategy.
    Create(CreateArgs),
    /// Change a product: only the fields given change.
    Update(UpdateArgs),
    /// Delete a product.
    Delete { product: String },
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Also show the ids of the products' strategies.
    #[arg(long)]
    pub wide: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// A unique name.
    name: String,
    /// The auth strategy's id or name.
    #[arg(long)]
    strategy: String,
    #[arg(long, default_value = "")]
    description: String,
    /// The audience tokens for this product must carry.
    #[arg(long, default_value = "")]
    audience: String,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The product's id or name.
    product: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// Another strategy (refused while apps are registered).
    #[arg(long)]
    strategy: Option<String>,
    #[arg(long)]
    audience: Option<String>,
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "products")?;
    match cmd {
        Cmd::List(args) => list(ctx, &args).await?,
        Cmd::Get { product } => {
            let id = resolve::product_id(ctx, &product).await?;
            let found = ctx
                .connection
                .products()?
                .get_product(reg::GetProductRequest { id })
                .await
                .on(Role::Admin, format!("product {}", quote(&product)))?;
            output::show(ctx.output, &found)?;
        }
        Cmd::Create(args) => {
            let product = reg::ApiProduct {
                name: args.name.clone(),
                description: args.description,
                strategy_id: resolve::strategy_id(ctx, &args.strategy).await?,
                audience: args.audience,
                ..Default::default()
            };
            let created = ctx
                .connection
                .products()?
                .create_product(reg::CreateProductRequest {
                    product: Some(product),
                })
                .await
                .on(Role::Admin, format!("create product {}", quote(&args.name)))?;
            output::show(ctx.output, &created)?;
        }
        Cmd::Update(args) => update(ctx, args).await?,
        Cmd::Delete { product } => {
            let id = resolve::product_id(ctx, &product).await?;
            ctx.connection
                .products()?
                .delete_product(reg::DeleteProductRequest { id: id.clone() })
                .await
                .on(Role::Admin, format!("product {}", quote(&product)))?;
            output::deleted(ctx.output, "product", &id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn update(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    let mut product = reg::ApiProduct {
        id: resolve::product_id(ctx, &args.product).await?,
        ..Default::default()
    };
    let mut mask = Vec::new();
    if let Some(name) = args.name {
        product.name = name;
        mask.push("name".to_owned());
    }
    if let Some(description) = args.description {
        product.description = description;
        mask.push("description".to_owned());
    }
    if let Some(strategy) = args.strategy {
        product.strategy_id = resolve::strategy_id(ctx, &strategy).await?;
        mask.push("strategy_id".to_owned());
    }
    if let Some(audience) = args.audience {
        product.audience = audience;
        mask.push("audience".to_owned());
    }
    if mask.is_empty() {
        return Err(usage(
            "nothing to update: pass --name, --description, --strategy or --audience",
        ));
    }
    let updated = ctx
        .connection
        .products()?
        .update_product(reg::UpdateProductRequest {
            product: Some(product),
            update_mask: Some(prost_types::FieldMask { paths: mask }),
        })
        .await
        .on(
            Role::Admin,
            format!("update product {}", quote(&args.product)),
        )?;
    output::show(ctx.output, &updated)
}

async fn list(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<()> {
    let products = resolve::products(ctx).await?;
    if ctx.output == Format::Json {
        return output::print_json(&output::list_json(&products)?);
    }
    let strategies = resolve::strategy_names(ctx).await;
    let mut header = vec!["ID", "NAME"];
    header.extend(resolve::header("STRATEGY", "STRATEGY_ID", args.wide));
    header.extend(["AUDIENCE", "DESCRIPTION"]);
    let mut table = Table::new(&header);
    for p in &products {
        let mut row = vec![p.id.clone(), p.name.clone()];
        row.extend(strategies.cells(&p.strategy_id, args.wide));
        row.extend([p.audience.clone(), p.description.clone()]);
        table.row(row);
    }
    table.print()
}
