//! `dcrctl token`: an access token for an app's client credentials, from token-svc
//! (IssueToken brokers the IdP's client_credentials grant).

use std::process::ExitCode;

use clap::Args;
use dcr_proto::token::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};

use super::Ctx;
use crate::connection::Role;
use crate::errors::{CallExt as _, quote, usage};
use crate::output::{self, Format};

/// An app's client credentials, as `apps create --output env` exports them.
#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// The app's client id.
    #[arg(long, env = "DCR_CLIENT_ID")]
    pub client_id: Option<String>,
    /// The app's client secret (prefer the environment variable to the flag).
    #[arg(long, env = "DCR_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<SecretString>,
}

impl ClientArgs {
    pub fn require(&self) -> anyhow::Result<(&str, &str)> {
        let id = self.client_id.as_deref().ok_or_else(|| {
            usage("the client id is not set: pass --client-id or set DCR_CLIENT_ID")
        })?;
        let secret = self.client_secret.as_ref().ok_or_else(|| {
            usage("the client secret is not set: set DCR_CLIENT_SECRET or pass --client-secret")
        })?;
        Ok((id, secret.expose_secret()))
    }
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// A scope to ask for (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// The audience (resource) the token is for, e.g. the product's audience.
    #[arg(long, default_value = "")]
    audience: String,
}

pub async fn run(ctx: &Ctx, args: TokenArgs) -> anyhow::Result<ExitCode> {
    let (client_id, client_secret) = args.client.require()?;
    let issued = ctx
        .connection
        .tokens()?
        .issue_token(pb::IssueTokenRequest {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            scopes: args.scopes,
            audience: args.audience,
        })
        .await
        .on(
            Role::Client,
            format!("a token for client {}", quote(client_id)),
        )?;
    match ctx.output {
        Format::Env => output::print(&output::env_lines(&[(
            "DCR_ACCESS_TOKEN",
            &issued.access_token,
        )]))?,
        format => output::show(format, &issued)?,
    }
    Ok(ExitCode::SUCCESS)
}
