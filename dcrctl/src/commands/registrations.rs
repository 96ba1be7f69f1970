//! `dcrctl registrations`: an app's access to a product. Admins list, approve and reject
//! (admin API); developers register and unregister their apps (portal API).

use std::collections::{BTreeSet, HashMap};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use dcr_proto::registry::v1 as reg;

use super::resolve::Names;
use super::{Ctx, PAGE_SIZE, all_pages, refuse_env, require_app, resolve};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote};
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
    /// Also show the ids of the apps and products (names are shown where the tokens
    /// given can look them up).
    #[arg(long)]
    wide: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The app's id or name (optional for clap: dcrctl says how to set it when missing).
    #[arg(long, env = "DCR_APP_ID", value_name = "ID|NAME")]
    app: Option<String>,
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
                .on(Role::Admin, format!("registration {}", quote(&id)))?;
            output::show(ctx.output, &r)?;
        }
        Cmd::Reject { id } => {
            let r = ctx
                .connection
                .products()?
                .reject_registration(reg::RejectRegistrationRequest { id: id.clone() })
                .await
                .on(Role::Admin, format!("registration {}", quote(&id)))?;
            output::show(ctx.output, &r)?;
            if r.idp_pending {
                eprintln!("{IDP_PENDING}");
            }
        }
        Cmd::Create(args) => {
            let app = require_app(args.app.as_deref())?;
            let application_id = resolve::application_id(ctx, app).await?;
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
                    format!(
                        "register app {} for product {}",
                        quote(app),
                        quote(&args.product)
                    ),
                )?;
            output::show(ctx.output, &r)?;
        }
        Cmd::Delete { id } => {
            let deleted = ctx
                .connection
                .applications()?
                .delete_registration(reg::DeleteRegistrationRequest { id: id.clone() })
                .await
                .on(Role::Portal, format!("registration {}", quote(&id)))?;
            output::deleted(ctx.output, "registration", &id)?;
            if deleted.idp_pending {
                eprintln!("{IDP_PENDING}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Said on stderr when the IdP did not confirm that access ended.
const IDP_PENDING: &str = "note: dcr refuses this access already; the IdP did not answer, and \
     registry-svc retries there until it confirms";

async fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<()> {
    let product_id = match &args.product {
        Some(p) => resolve::product_id(ctx, p).await?,
        None => String::new(),
    };
    let status = args.status.map(Status::proto);
    // The developer's apps, listed once: to find --app by name and to name each row's app.
    // The admin's list spans every developer; with portal credentials, the caller's own
    // apps get names and the others keep their ids.
    let apps = match &args.app {
        Some(_) => resolve::applications(ctx).await?,
        None if resolve::has_portal(ctx) => resolve::applications(ctx).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let registrations = match &args.app {
        Some(app) => {
            let application_id = resolve::application_in(&apps, app)?;
            let mut client = ctx.connection.applications()?;
            let all = all_pages(async |page_token| {
                let r = client
                    .list_registrations(reg::ListRegistrationsRequest {
                        application_id: application_id.clone(),
                        page_size: PAGE_SIZE,
                        page_token,
                    })
                    .await
                    .on(Role::Portal, format!("registrations of app {}", quote(app)))?;
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
                        ..Default::default()
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
    let app_names = Names::of(&apps, |a| &a.id, |a| &a.name);
    let products = ProductNames::look_up(ctx, &registrations).await;
    let mut header = vec!["ID"];
    header.extend(resolve::header("APPLICATION", "APPLICATION_ID", args.wide));
    header.extend(resolve::header("PRODUCT", "PRODUCT_ID", args.wide));
    header.extend(["STATUS", "SCOPES", "CREATED"]);
    let mut table = Table::new(&header);
    for r in &registrations {
        let mut row = vec![r.id.clone()];
        row.extend(app_names.cells(&r.application_id, args.wide));
        row.extend(products.names.cells(&r.product_id, args.wide));
        row.extend([
            output::enum_name(r.status().as_str_name(), "REGISTRATION_STATUS_"),
            scopes(r, products.scopes.get(&r.product_id)),
            output::time(r.create_time.as_ref()),
        ]);
        table.row(row);
    }
    table.print()
}

/// The products that registrations refer to: names, and their strategy's scopes.
#[derive(Debug, Default)]
struct ProductNames {
    names: Names,
    /// Product id to its strategy's scopes, which a registration without scopes of its
    /// own gets.
    scopes: HashMap<String, Vec<String>>,
}

impl ProductNames {
    /// With the admin token one ListProducts and one ListStrategies; else, with the service
    /// token, one ResolveProduct per product listed (the directory has no list). Without
    /// either, or if a lookup fails, the ids are shown.
    async fn look_up(ctx: &Ctx, registrations: &[reg::Registration]) -> Self {
        if registrations.is_empty() {
            return Self::default();
        }
        if ctx.connection.has_admin_token() {
            return Self::from_admin(ctx).await.unwrap_or_default();
        }
        if ctx.connection.has_service_token() {
            let ids: BTreeSet<&str> = registrations
                .iter()
                .map(|r| r.product_id.as_str())
                .collect();
            return Self::from_directory(ctx, &ids).await.unwrap_or_default();
        }
        Self::default()
    }

    async fn from_admin(ctx: &Ctx) -> anyhow::Result<Self> {
        let products = resolve::products(ctx).await?;
        let strategies = resolve::strategies(ctx).await?;
        let strategy_scopes: HashMap<&str, &Vec<String>> = strategies
            .iter()
            .map(|s| (s.id.as_str(), &s.scopes))
            .collect();
        let scopes = products
            .iter()
            .filter_map(|p| {
                let scopes = strategy_scopes.get(p.strategy_id.as_str())?;
                Some((p.id.clone(), (*scopes).clone()))
            })
            .collect();
        Ok(Self {
            names: Names::of(&products, |p| &p.id, |p| &p.name),
            scopes,
        })
    }

    async fn from_directory(ctx: &Ctx, ids: &BTreeSet<&str>) -> anyhow::Result<Self> {
        let mut client = ctx.connection.directory()?;
        let mut found = Self::default();
        for id in ids {
            let answer = client
                .resolve_product(reg::ResolveProductRequest {
                    product_id: (*id).to_owned(),
                    name: String::new(),
                })
                .await?
                .into_inner();
            if let Some(product) = answer.product {
                found.names.insert(id, &product.name);
            }
            if let Some(strategy) = answer.strategy {
                found.scopes.insert((*id).to_owned(), strategy.scopes);
            }
        }
        Ok(found)
    }
}

/// A registration's scopes: its own, or (empty) the strategy's, marked as such, since the
/// registry stores only the scopes a developer chose.
fn scopes(r: &reg::Registration, strategy: Option<&Vec<String>>) -> String {
    if !r.scopes.is_empty() {
        return r.scopes.join(",");
    }
    match strategy {
        Some(scopes) if !scopes.is_empty() => format!("{} (the strategy's)", scopes.join(",")),
        Some(_) => "(none)".to_owned(),
        None => "(the strategy's)".to_owned(),
    }
}
