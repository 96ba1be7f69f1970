//! `dcrctl apps`: a developer's applications (portal API, acting for --developer).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use dcr_proto::registry::v1 as reg;

use super::{Ctx, refuse_env, resolve};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote, usage};
use crate::output::{self, Format, SECRET_NOTICE, Table};

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// List the developer's apps.
    List(ListArgs),
    /// Show one app.
    Get { app: String },
    /// Create an app and its OAuth client; prints the client secret this once.
    Create(CreateArgs),
    /// Change an app's name, description or redirect URIs.
    Update(UpdateArgs),
    /// Delete an app and its OAuth client.
    Delete { app: String },
    /// Remove an app stuck in DELETING (the IdP refuses dcr's credentials for its
    /// client, `apps get` says so under attention) from dcr, without another IdP call.
    /// Admin token; check the IdP first: a client that still exists stays there.
    Forget {
        /// The app's id.
        app: String,
    },
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Also show the ids of what the apps refer to (strategies).
    #[arg(long)]
    pub wide: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The app's name.
    name: String,
    /// The auth strategy's id or name (names are looked up with the admin token).
    #[arg(long)]
    strategy: String,
    #[arg(long, default_value = "")]
    description: String,
    /// A redirect URI (repeatable).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The app's id or name.
    app: String,
    #[arg(long)]
    name: Option<String>,
    #[arg(long)]
    description: Option<String>,
    /// A redirect URI (repeatable; the given ones replace all).
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::List(args) => list(ctx, &args).await?,
        Cmd::Get { app } => {
            refuse_env(ctx, "apps get")?;
            let id = resolve::application_id(ctx, &app).await?;
            let found = ctx
                .connection
                .applications()?
                .get_application(reg::GetApplicationRequest { id })
                .await
                .on(Role::Portal, format!("app {}", quote(&app)))?;
            output::show(ctx.output, &found)?;
        }
        Cmd::Create(args) => create(ctx, args).await?,
        Cmd::Update(args) => update(ctx, args).await?,
        Cmd::Delete { app } => {
            refuse_env(ctx, "apps delete")?;
            let id = resolve::application_id(ctx, &app).await?;
            ctx.connection
                .applications()?
                .delete_application(reg::DeleteApplicationRequest {
                    id: id.clone(),
                    allow_missing: false,
                })
                .await
                .on(Role::Portal, format!("app {}", quote(&app)))?;
            output::deleted(ctx.output, "app", &id)?;
        }
        Cmd::Forget { app } => forget(ctx, &app).await?,
    }
    Ok(ExitCode::SUCCESS)
}

async fn forget(ctx: &Ctx, app: &str) -> anyhow::Result<()> {
    refuse_env(ctx, "apps forget")?;
    let forgotten = ctx
        .connection
        .providers()?
        .forget_application(reg::ForgetApplicationRequest {
            application_id: app.to_owned(),
        })
        .await
        .on(Role::Admin, format!("forget app {}", quote(app)))?;
    if ctx.output == Format::Json {
        return output::print_json(&output::to_json(&forgotten)?);
    }
    output::print(&format!(
        "forgot app {app}; dcr no longer manages IdP client {}: delete it at the IdP if it still exists",
        forgotten.client_id
    ))
}

async fn list(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<()> {
    refuse_env(ctx, "apps list")?;
    let apps = resolve::applications(ctx).await?;
    if ctx.output == Format::Json {
        return output::print_json(&output::list_json(&apps)?);
    }
    // One ListStrategies for every row's name; without the admin token, the ids.
    let strategies = resolve::strategy_names(ctx).await;
    let mut header = vec!["ID", "NAME"];
    header.extend(resolve::header("STRATEGY", "STRATEGY_ID", args.wide));
    header.extend(["CLIENT_ID", "STATE"]);
    let mut table = Table::new(&header);
    for a in &apps {
        let mut row = vec![a.id.clone(), a.name.clone()];
        row.extend(strategies.cells(&a.strategy_id, args.wide));
        let mut state = output::enum_name(a.state().as_str_name(), "APPLICATION_STATE_");
        if !a.attention.is_empty() {
            // The reason is long: `apps get` shows it.
            state.push_str(" (needs attention)");
        }
        row.extend([a.client_id.clone(), state]);
        table.row(row);
    }
    table.print()
}

async fn create(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let strategy_id = resolve::strategy_id(ctx, &args.strategy).await?;
    let created = ctx
        .connection
        .applications()?
        .create_application(reg::CreateApplicationRequest {
            name: args.name.clone(),
            description: args.description,
            strategy_id,
            redirect_uris: args.redirect_uris,
            request_id: String::new(),
        })
        .await
        .on(Role::Portal, format!("create app {}", quote(&args.name)))?;
    let app = created.application.clone().unwrap_or_default();
    let credential = created.credential.clone().unwrap_or_default();
    match ctx.output {
        Format::Json => {
            output::print_json(&output::to_json(&created)?)?;
            eprintln!("{SECRET_NOTICE}");
            Ok(())
        }
        Format::Env => {
            output::print(&format!(
                "# {SECRET_NOTICE}\n{}",
                output::env_lines(&[
                    ("DCR_APP_ID", &app.id),
                    ("DCR_CLIENT_ID", &app.client_id),
                    ("DCR_CLIENT_SECRET", &credential.client_secret),
                ])
            ))?;
            // stdout goes to `eval`: tell the person what happened on stderr.
            eprintln!(
                "created application {} (id {}, client id {}); the secret is shown only this \
                 once: keep DCR_CLIENT_SECRET",
                quote(&app.name),
                app.id,
                app.client_id
            );
            Ok(())
        }
        Format::Table => {
            output::print_details(&app)?;
            output::print("")?;
            show_secret(&credential)
        }
    }
}

/// A new credential for people: its id, client id and the secret, with the notice.
pub fn show_secret(credential: &reg::Credential) -> anyhow::Result<()> {
    let mut table = Table::new(&["credential_id", &credential.id]);
    table
        .row(vec!["client_id".into(), credential.client_id.clone()])
        .row(vec![
            "client_secret".into(),
            credential.client_secret.clone(),
        ]);
    if let Some(expire) = &credential.expire_time {
        table.row(vec!["expire_time".into(), expire.to_string()]);
    }
    table.print()?;
    output::print(&format!("\n{SECRET_NOTICE}"))
}

async fn update(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    refuse_env(ctx, "apps update")?;
    let mut app = reg::Application {
        id: resolve::application_id(ctx, &args.app).await?,
        ..Default::default()
    };
    let mut mask = Vec::new();
    if let Some(name) = args.name {
        app.name = name;
        mask.push("name".to_owned());
    }
    if let Some(description) = args.description {
        app.description = description;
        mask.push("description".to_owned());
    }
    if !args.redirect_uris.is_empty() {
        app.redirect_uris = args.redirect_uris;
        mask.push("redirect_uris".to_owned());
    }
    if mask.is_empty() {
        return Err(usage(
            "nothing to update: pass --name, --description or --redirect-uri",
        ));
    }
    let updated = ctx
        .connection
        .applications()?
        .update_application(reg::UpdateApplicationRequest {
            application: Some(app),
            update_mask: Some(prost_types::FieldMask { paths: mask }),
        })
        .await
        .on(Role::Portal, format!("update app {}", quote(&args.app)))?;
    output::show(ctx.output, &updated)
}
