//! `dcrctl plan`, `apply` and `export`: the command-line side of `crate::declarative`
//! (which reads and diffs the file); here the results are printed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{Ctx, refuse_env};
use crate::declarative::{self, Plan};
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct FileArgs {
    /// The configuration file (YAML).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Also send the secrets of providers that are otherwise unchanged (after rotating one
    /// at the IdP: dcr cannot read secrets back to compare them).
    #[arg(long)]
    pub resend_secrets: bool,
    /// Delete what the registry has and the file does not (products, then strategies,
    /// then providers).
    #[arg(long)]
    pub prune: bool,
}

impl FileArgs {
    fn options(&self) -> declarative::Options {
        declarative::Options {
            resend_secrets: self.resend_secrets,
            prune: self.prune,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
}

fn print_plan(ctx: &Ctx, plan: &Plan, empty: &str) -> anyhow::Result<()> {
    match ctx.output {
        Format::Json => output::print_json(&serde_json::to_value(plan)?),
        _ if plan.is_empty() => output::print(&format!("{}{empty}", plan.render_not_managed())),
        _ => output::print(&plan.render()),
    }
}

pub async fn plan(ctx: &Ctx, args: FileArgs) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "plan")?;
    let plan = declarative::plan_with_options(&ctx.connection, &args.file, &args.options()).await?;
    print_plan(ctx, &plan, "no changes")?;
    Ok(ExitCode::SUCCESS)
}

pub async fn apply(ctx: &Ctx, args: FileArgs) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "apply")?;
    let done =
        declarative::apply_with_options(&ctx.connection, &args.file, &args.options()).await?;
    print_plan(
        ctx,
        &done,
        "no changes: the registry already matches the file",
    )?;
    Ok(ExitCode::SUCCESS)
}

pub async fn export(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "export")?;
    let yaml = declarative::export(&ctx.connection).await?;
    let text = match ctx.output {
        Format::Json => {
            let value: serde_json::Value = serde_yaml::from_str(&yaml)?;
            serde_json::to_string_pretty(&value)?
        }
        _ => yaml,
    };
    match args.file {
        Some(path) => {
            std::fs::write(&path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        None => output::print(text.trim_end())?,
    }
    Ok(ExitCode::SUCCESS)
}
