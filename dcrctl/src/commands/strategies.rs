//! `dcrctl strategies`: how gateways validate the apps of a provider (admin API).

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use dcr_proto::registry::v1 as reg;

use super::{Ctx, parse_duration, refuse_env, resolve};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote, usage};
use crate::output::{self, Format, Table};

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// List the strategies.
    List(ListArgs),
    /// Show one strategy.
    Get { strategy: String },
    /// Create a strategy for a provider.
    Create(CreateArgs),
    /// Change a strategy: only the fields given change (lists are replaced).
    Update(UpdateArgs),
    /// Delete a strategy (refused while a product or an app uses it).
    Delete { strategy: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    ClientCredentials,
    Bearer,
    Session,
}

impl Method {
    fn proto(self) -> i32 {
        match self {
            Self::ClientCredentials => reg::AuthMethod::ClientCredentials as i32,
            Self::Bearer => reg::AuthMethod::Bearer as i32,
            Self::Session => reg::AuthMethod::Session as i32,
        }
    }
}

/// Every field but the name and provider; optional so update can tell what was given.
#[derive(Debug, Clone, Args)]
pub struct Fields {
    /// A token claim that carries the client id (repeatable; default per provider type).
    #[arg(long = "claim", value_name = "CLAIM")]
    credential_claims: Vec<String>,
    /// A scope apps may get (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// The audience tokens must carry.
    #[arg(long)]
    audience: Option<String>,
    /// An accepted credential (repeatable; default all).
    #[arg(long = "auth-method", value_enum, value_name = "METHOD")]
    auth_methods: Vec<Method>,
    /// The session cookie's name.
    #[arg(long)]
    session_cookie_name: Option<String>,
    /// How long a session lasts: 90s, 15m, 12h, 30d.
    #[arg(long, value_parser = parse_duration)]
    session_ttl: Option<std::time::Duration>,
    /// Approve registrations of apps automatically.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    auto_approve: Option<bool>,
}

impl Fields {
    /// Sets the given fields on `s`, naming each in `mask`.
    fn apply(self, s: &mut reg::AuthStrategy, mask: &mut Vec<String>) {
        let mut set = |path: &str| mask.push(path.to_owned());
        if !self.credential_claims.is_empty() {
            s.credential_claims = self.credential_claims;
            set("credential_claims");
        }
        if !self.scopes.is_empty() {
            s.scopes = self.scopes;
            set("scopes");
        }
        if let Some(audience) = self.audience {
            s.audience = audience;
            set("audience");
        }
        if !self.auth_methods.is_empty() {
            s.auth_methods = self.auth_methods.into_iter().map(Method::proto).collect();
            set("auth_methods");
        }
        if let Some(name) = self.session_cookie_name {
            s.session_cookie_name = name;
            set("session_cookie_name");
        }
        if let Some(ttl) = self.session_ttl {
            s.session_ttl = Some(prost_types::Duration {
                seconds: i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX),
                nanos: 0,
            });
            set("session_ttl");
        }
        if let Some(auto) = self.auto_approve {
            s.auto_approve = auto;
            set("auto_approve");
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Also show the ids of the strategies' providers.
    #[arg(long)]
    pub wide: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// A unique name.
    name: String,
    /// The provider's id or name.
    #[arg(long)]
    provider: String,
    #[command(flatten)]
    fields: Fields,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The strategy's id or name.
    strategy: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    fields: Fields,
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "strategies")?;
    match cmd {
        Cmd::List(args) => list(ctx, &args).await?,
        Cmd::Get { strategy } => {
            let id = resolve::strategy_id(ctx, &strategy).await?;
            let found = ctx
                .connection
                .strategies()?
                .get_strategy(reg::GetStrategyRequest { id })
                .await
                .on(Role::Admin, format!("strategy {}", quote(&strategy)))?;
            output::show(ctx.output, &found)?;
        }
        Cmd::Create(args) => {
            let mut strategy = reg::AuthStrategy {
                name: args.name.clone(),
                provider_id: resolve::provider_id(ctx, &args.provider).await?,
                ..Default::default()
            };
            args.fields.apply(&mut strategy, &mut Vec::new());
            let created = ctx
                .connection
                .strategies()?
                .create_strategy(reg::CreateStrategyRequest {
                    strategy: Some(strategy),
                })
                .await
                .on(
                    Role::Admin,
                    format!("create strategy {}", quote(&args.name)),
                )?;
            output::show(ctx.output, &created)?;
        }
        Cmd::Update(args) => {
            let mut strategy = reg::AuthStrategy {
                id: resolve::strategy_id(ctx, &args.strategy).await?,
                ..Default::default()
            };
            let mut mask = Vec::new();
            if let Some(name) = args.name {
                strategy.name = name;
                mask.push("name".to_owned());
            }
            args.fields.apply(&mut strategy, &mut mask);
            if mask.is_empty() {
                return Err(usage(
                    "nothing to update: pass at least one field to change (see --help)",
                ));
            }
            let updated = ctx
                .connection
                .strategies()?
                .update_strategy(reg::UpdateStrategyRequest {
                    strategy: Some(strategy),
                    update_mask: Some(prost_types::FieldMask { paths: mask }),
                })
                .await
                .on(
                    Role::Admin,
                    format!("update strategy {}", quote(&args.strategy)),
                )?;
            output::show(ctx.output, &updated)?;
        }
        Cmd::Delete { strategy } => {
            let id = resolve::strategy_id(ctx, &strategy).await?;
            ctx.connection
                .strategies()?
                .delete_strategy(reg::DeleteStrategyRequest { id: id.clone() })
                .await
                .on(Role::Admin, format!("strategy {}", quote(&strategy)))?;
            output::deleted(ctx.output, "strategy", &id)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Ctx, args: &ListArgs) -> anyhow::Result<()> {
    let strategies = resolve::strategies(ctx).await?;
    if ctx.output == Format::Json {
        return output::print_json(&output::list_json(&strategies)?);
    }
    let providers = resolve::provider_names(ctx).await;
    let mut header = vec!["ID", "NAME"];
    header.extend(resolve::header("PROVIDER", "PROVIDER_ID", args.wide));
    header.extend(["METHODS", "SCOPES", "AUTO_APPROVE"]);
    let mut table = Table::new(&header);
    for s in &strategies {
        let methods: Vec<String> = s
            .auth_methods()
            .map(|m| output::enum_name(m.as_str_name(), "AUTH_METHOD_"))
            .collect();
        let mut row = vec![s.id.clone(), s.name.clone()];
        row.extend(providers.cells(&s.provider_id, args.wide));
        row.extend([
            methods.join(","),
            s.scopes.join(","),
            s.auto_approve.to_string(),
        ]);
        table.row(row);
    }
    table.print()
}
