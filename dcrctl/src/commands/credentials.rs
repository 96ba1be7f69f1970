//! `dcrctl credentials`: an app's client secrets (portal API, acting for --developer).
//! Several may be active at once, for rotation: add a new one, move callers over, revoke
//! the old one. `regenerate` replaces the only active one in one step.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Args, Subcommand};
use dcr_proto::registry::v1 as reg;

use super::apps::show_secret;
use super::{Ctx, parse_duration, refuse_env, require_app, resolve};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote};
use crate::output::{self, Format, SECRET_NOTICE, Table};

#[derive(Debug, Clone, Args)]
pub struct AppArg {
    /// The app's id or name. Optional for clap so that, when neither the flag nor
    /// DCR_APP_ID is given, dcrctl says how to set it instead of clap's usage.
    #[arg(long, env = "DCR_APP_ID", value_name = "ID|NAME")]
    app: Option<String>,
}

impl AppArg {
    fn get(&self) -> anyhow::Result<&str> {
        require_app(self.app.as_deref())
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// List an app's credentials (secrets are never shown again, only their last chars).
    List(AppArg),
    /// Add a credential next to the active ones; prints its secret this once.
    Add(AddArgs),
    /// Revoke one credential: calls with it are denied from now on.
    Revoke {
        #[command(flatten)]
        app: AppArg,
        /// The credential's id (`credentials list` shows them).
        credential: String,
    },
    /// Replace the app's only active secret; prints the new one this once.
    Regenerate(AppArg),
}

#[derive(Debug, Clone, Args)]
pub struct AddArgs {
    #[command(flatten)]
    app: AppArg,
    /// When the credential stops working, from now: 90s, 15m, 12h, 30d.
    #[arg(long, value_parser = parse_duration, conflicts_with = "expire_time")]
    expires_in: Option<Duration>,
    /// When the credential stops working, as RFC 3339 (2030-01-01T00:00:00Z).
    #[arg(long)]
    expire_time: Option<prost_types::Timestamp>,
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::List(app) => {
            refuse_env(ctx, "credentials list")?;
            let app = app.get()?;
            let application_id = resolve::application_id(ctx, app).await?;
            let credentials = ctx
                .connection
                .applications()?
                .list_credentials(reg::ListCredentialsRequest { application_id })
                .await
                .on(Role::Portal, format!("credentials of app {}", quote(app)))?
                .credentials;
            list(ctx, &credentials)?;
        }
        Cmd::Add(args) => {
            let app = args.app.get()?;
            let application_id = resolve::application_id(ctx, app).await?;
            let expire_time = match (args.expires_in, args.expire_time) {
                (Some(d), _) => Some(prost_types::Timestamp::from(SystemTime::now() + d)),
                (None, t) => t,
            };
            let credential = ctx
                .connection
                .applications()?
                .add_credential(reg::AddCredentialRequest {
                    application_id,
                    expire_time,
                })
                .await
                .on(
                    Role::Portal,
                    format!("add a credential to app {}", quote(app)),
                )?;
            let done = format!("added a credential to app {}", quote(app));
            new_secret(ctx, &credential, &done, "the new secret")?;
        }
        Cmd::Revoke { app, credential } => {
            refuse_env(ctx, "credentials revoke")?;
            let app = app.get()?;
            let application_id = resolve::application_id(ctx, app).await?;
            let revoked = ctx
                .connection
                .applications()?
                .revoke_credential(reg::RevokeCredentialRequest {
                    application_id,
                    credential_id: credential.clone(),
                })
                .await
                .on(
                    Role::Portal,
                    format!("credential {} of app {}", quote(&credential), quote(app)),
                )?;
            output::show(ctx.output, &revoked)?;
            if revoked.idp_pending {
                eprintln!(
                    "note: dcr refuses this credential already; the IdP did not answer, and \
                     registry-svc retries the revocation there until it confirms"
                );
            }
        }
        Cmd::Regenerate(app) => {
            let app = app.get()?;
            let application_id = resolve::application_id(ctx, app).await?;
            let credential = ctx
                .connection
                .applications()?
                .regenerate_secret(reg::RegenerateSecretRequest { application_id })
                .await
                .on(
                    Role::Portal,
                    format!("regenerate the secret of app {}", quote(app)),
                )?;
            let done = format!("replaced the secret of app {}", quote(app));
            new_secret(
                ctx,
                &credential,
                &done,
                "the old secret no longer works; the new one",
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A credential just made: the one time its secret is printed. `done` and `secret` say
/// what happened, for the person when stdout goes to `eval`.
fn new_secret(
    ctx: &Ctx,
    credential: &reg::Credential,
    done: &str,
    secret: &str,
) -> anyhow::Result<()> {
    match ctx.output {
        Format::Json => {
            output::print_json(&output::to_json(credential)?)?;
            eprintln!("{SECRET_NOTICE}");
            Ok(())
        }
        Format::Env => {
            output::print(&format!(
                "# {SECRET_NOTICE}\n{}",
                output::env_lines(&[
                    ("DCR_CLIENT_ID", &credential.client_id),
                    ("DCR_CLIENT_SECRET", &credential.client_secret),
                ])
            ))?;
            eprintln!(
                "{done} (credential id {}, client id {}); {secret} is shown only this once: \
                 keep DCR_CLIENT_SECRET",
                credential.id, credential.client_id
            );
            Ok(())
        }
        Format::Table => show_secret(credential),
    }
}

fn list(ctx: &Ctx, credentials: &[reg::Credential]) -> anyhow::Result<()> {
    if ctx.output == Format::Json {
        return output::print_json(&output::list_json(credentials)?);
    }
    let mut table = Table::new(&["ID", "CLIENT_ID", "SECRET", "CREATED", "EXPIRES", "REVOKED"]);
    for c in credentials {
        table.row(vec![
            c.id.clone(),
            c.client_id.clone(),
            format!("...{}", c.secret_hint),
            output::time(c.create_time.as_ref()),
            output::time(c.expire_time.as_ref()),
            output::time(c.revoke_time.as_ref()),
        ]);
    }
    table.print()
}
