//! The command tree, `dcrctl <resource> <verb>`, and dispatch.

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::commands::{
    self, Ctx, apps, audit, certs, check, credentials, doctor, login, plan, products, providers,
    registrations, strategies, token, whoami,
};
use crate::connection::ConnectionArgs;
use crate::output::Format;

/// dcr's command line: providers, strategies and products for admins; apps, credentials
/// and registrations for a developer; tokens and checks to try it all; declarative
/// config; and `dev`, the whole stack in one process.
#[derive(Debug, Parser)]
#[command(name = "dcrctl", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// How to print results: table (people), json (scripts), env (`eval` the exports of
    /// apps create, credentials add|regenerate, token).
    #[arg(
        long,
        short = 'o',
        global = true,
        value_enum,
        default_value_t = Format::Table,
        help_heading = "Global options"
    )]
    pub output: Format,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// IdP connections (admin).
    #[command(subcommand)]
    Providers(providers::Cmd),
    /// How gateways validate apps of a provider (admin).
    #[command(subcommand)]
    Strategies(strategies::Cmd),
    /// What apps register for (admin).
    #[command(subcommand)]
    Products(products::Cmd),
    /// Apps' access to products: list, approve, reject (admin); create, delete (portal).
    #[command(subcommand)]
    Registrations(registrations::Cmd),
    /// A developer's applications (portal).
    #[command(subcommand)]
    Apps(apps::Cmd),
    /// An app's client secrets (portal).
    #[command(subcommand)]
    Credentials(credentials::Cmd),
    /// Who changed what (admin).
    #[command(subcommand)]
    Audit(audit::Cmd),
    /// An access token for an app's client credentials (token-svc).
    Token(token::TokenArgs),
    /// Ask authz-svc whether a call to a product with a credential is allowed; exits 1 on
    /// deny.
    Check(check::CheckArgs),
    /// Compare each provider's IdP with dcr: orphan clients, apps whose client is gone,
    /// stuck operations (admin); `--repair` fixes what is safe. Exits 3 on drift.
    Doctor(doctor::DoctorArgs),
    /// Show what `apply` would change.
    Plan(plan::FileArgs),
    /// Make the registry match a configuration file.
    Apply(plan::FileArgs),
    /// Print the registry's providers, strategies and products as a configuration file.
    Export(plan::ExportArgs),
    /// Sign in as a person at the identity provider (--issuer) through your browser;
    /// registry calls without a static token then go as you.
    Login(login::LoginArgs),
    /// Delete the stored sign-in (and revoke it where the identity provider can).
    Logout(login::LogoutArgs),
    /// Who the registry takes you to be: the person signed in, their roles and developer
    /// id, or the static token in use.
    Whoami,
    /// Run the whole stack in one process for trying dcr out.
    Dev(crate::dev::DevArgs),
    /// Make a private CA and TLS certificates for a deployment (services and clients).
    Certs(certs::CertsArgs),
    /// Print a shell completion script, e.g. `dcrctl completion bash >
    /// /etc/bash_completion.d/dcrctl`, or `source <(dcrctl completion zsh)`.
    Completion {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let ctx = Ctx {
        connection: cli.connection,
        output: cli.output,
    };
    match cli.command {
        Command::Providers(cmd) => providers::run(&ctx, cmd).await,
        Command::Strategies(cmd) => strategies::run(&ctx, cmd).await,
        Command::Products(cmd) => products::run(&ctx, cmd).await,
        Command::Registrations(cmd) => registrations::run(&ctx, cmd).await,
        Command::Apps(cmd) => apps::run(&ctx, cmd).await,
        Command::Credentials(cmd) => credentials::run(&ctx, cmd).await,
        Command::Audit(cmd) => audit::run(&ctx, cmd).await,
        Command::Token(args) => token::run(&ctx, args).await,
        Command::Check(args) => check::run(&ctx, args).await,
        Command::Doctor(args) => doctor::run(&ctx, args).await,
        Command::Plan(args) => plan::plan(&ctx, args).await,
        Command::Apply(args) => plan::apply(&ctx, args).await,
        Command::Export(args) => plan::export(&ctx, args).await,
        Command::Certs(args) => certs::run(&ctx, args),
        Command::Login(args) => login::login(&ctx, args).await,
        Command::Logout(args) => login::logout(&ctx, args).await,
        Command::Whoami => whoami::run(&ctx).await,
        Command::Completion { shell } => {
            commands::refuse_env(&ctx, "completion")?;
            completion(shell)
        }
        Command::Dev(args) => {
            commands::refuse_env(&ctx, "dev")?;
            crate::dev::run(args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Reads the signed-in person (refreshing their token if due) for a command that calls
/// the registry without a static token for some role. A sign-in that cannot be used is
/// kept as its reason, said only if the command needs it.
pub async fn attach_person(cli: &mut Cli) {
    let registry = !matches!(
        cli.command,
        Command::Login(_)
            | Command::Logout(_)
            | Command::Dev(_)
            | Command::Certs(_)
            | Command::Completion { .. }
            | Command::Token(_)
    );
    let connection = &mut cli.connection;
    if !registry || (connection.admin_token.is_some() && connection.portal_token.is_some()) {
        return;
    }
    let issuer = connection.identity_issuer.clone().filter(|i| !i.is_empty());
    connection.person =
        match crate::login::session::current(issuer.as_deref(), crate::login::now_secs).await {
            Ok(person) => person.map(Ok),
            Err(e) => Some(Err(e.to_string())),
        };
}

/// The completion script for `shell`, generated from this command tree, on stdout.
fn completion(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "dcrctl", &mut script);
    crate::output::print(String::from_utf8_lossy(&script).trim_end())?;
    Ok(ExitCode::SUCCESS)
}
