//! `dcrctl registrations`: an app's access to a product. Admins list, approve and reject
//! (admin API); developers register and unregister their apps (portal API).

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use dcr_proto::registry::v1 as reg;

use super::{Ctx, PAGE_SIZE, all_pages, refuse_env, resolve};
use crate::connection::Role;
use crate::errors::CallExt as _;
use crate::output::{self, Format, Table};

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// List registrations: all, or of one product (admin), or of one app (portal, --app).
    List(ListArgs),
    /// Approve a pending registration (admin).
    Approve { id: String },
    /// Reject a registration (admin).
    Reject { id: String },
    /// Register an app for a product (portal).
    Create(CreateArgs),
    /// Remove a registration (portal).
    Delete { id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Status {
    Pending,
    Approved,
    Rejected,
}

impl Status {
    fn proto(self) -> reg::RegistrationStatus {
        match self {
            Self::Pending => reg::RegistrationStatus::Pending,
            Self::Approved => reg::RegistrationStatus::Approved,
            Self::Rejected => reg::RegistrationStatus::Rejected,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only this product's (id or name).
    #[arg(long)]
    product: Option<String>,
    /// Only registrations in this status.
    #[arg(long, value_enum)]
    status: Option<Status>,
    /// Only this app's, through the portal API as --developer (id or name).
    #[arg(long)]
    app: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The app's id or name.
    #[arg(long, env = "DCR_APP_ID")]
    app: String,
    /// The product's id or name (names are looked up with the admin or the service token).
    #[arg(long)]
    product: String,
    /// A scope the app asks for (repeatable; default the strategy's).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "registrations")?;
    match cmd {
        Cmd::List(args) => list(ctx, args).await?,
        Cmd::Approve { id } => {
            let r = ctx
                .connection
                .products()?
                .approve_registration(reg::ApproveRegistrationRequest { id: id.clone() })
                .await
                .on(Role::Admin, format!("registration {id:?}"))?;
            output::show(ctx.output, &r)?;
        }
        Cmd::Reject { id } => {
            let r = ctx
                .connection
                .products()?
                .reject_registration(reg::RejectRegistrationRequest { id: id.clone() })
                .await
                .on(Role::Admin, format!("registration {id:?}"))?;
            output::show(ctx.output, &r)?;
        }
        Cmd::Create(args) => {
            let application_id = resolve::application_id(ctx, &args.app).await?;
            let product_id = resolve::product_id(ctx, &args.product).await?;
            let r = ctx
                .connection
                .applications()?
                .create_registration(reg::CreateRegistrationRequest {
                    application_id,
                    product_id,
                    scopes: args.scopes,
                })
                .await
                .on(
                    Role::Portal,
                    format!("register app {:?} for product {:?}", args.app, args.product),
                )?;
            output::show(ctx.output, &r)?;
        }
        Cmd::Delete { id } => {
            ctx.connection
                .applications()?
                .delete_registration(reg::DeleteRegistrationRequest { id: id.clone() })
                .await
                .on(Role::Portal, format!("registration {id:?}"))?;
            output::deleted(ctx.output, "registration", &id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let product_id = match &args.product {
        Some(p) => resolve::product_id(ctx, p).await?,
        None => String::new(),
    };
    let status = args.status.map(Status::proto);
    let registrations = match &args.app {
        Some(app) => {
            let application_id = resolve::application_id(ctx, app).await?;
            let mut client = ctx.connection.applications()?;
            let all = all_pages(async |page_token| {
                let r = client
                    .list_registrations(reg::ListRegistrationsRequest {
                        application_id: application_id.clone(),
                        page_size: PAGE_SIZE,
                        page_token,
                    })
                    .await
                    .on(Role::Portal, format!("registrations of app {app:?}"))?;
                Ok((r.registrations, r.next_page_token))
            })
            .await?;
            // The portal API filters by app only; the other filters apply here.
            all.into_iter()
                .filter(|r| product_id.is_empty() || r.product_id == product_id)
                .filter(|r| status.is_none_or(|s| r.status() == s))
                .collect()
        }
        None => {
            let mut client = ctx.connection.products()?;
            all_pages(async |page_token| {
                let r = client
                    .list_registrations(reg::ListProductRegistrationsRequest {
                        product_id: product_id.clone(),
                        status: status.map_or(0, |s| s as i32),
                        page_size: PAGE_SIZE,
                        page_token,
                    })
                    .await
                    .on(Role::Admin, "list registrations")?;
                Ok((r.registrations, r.next_page_token))
            })
            .await?
        }
    };
    if ctx.output == Format::Json {
        return output::print_json(&output::list_json(&registrations)?);
    }
    let mut table = Table::new(&[
        "ID",
        "APPLICATION",
        "PRODUCT",
        "STATUS",
        "SCOPES",
        "CREATED",
    ]);
    for r in &registrations {
        table.row(vec![
            r.id.clone(),
            r.application_id.clone(),
            r.product_id.clone(),
            output::enum_name(r.status().as_str_name(), "REGISTRATION_STATUS_"),
            r.scopes.join(","),
            output::time(r.create_time.as_ref()),
        ]);
    }
    table.print()
}
