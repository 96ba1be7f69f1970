//! `dcrctl audit list`: who changed what, newest first (admin API).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use dcr_proto::registry::v1 as reg;

use super::{Ctx, PAGE_SIZE, refuse_env};
use crate::connection::Role;
use crate::errors::CallExt as _;
use crate::output::{self, Format, Table};

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// List audit events, filtered by any of the flags.
    List(ListArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only events by this caller: "token:admin", "developer:<id>" (named by the portal
    /// token) or "person:<issuer>#<subject>" (a person signed in through SSO).
    #[arg(long, default_value = "")]
    actor: String,
    /// Only events made with this role: a person's (admin, provider-admin, approver,
    /// viewer, developer) or a machine token's (token:admin, token:portal).
    #[arg(long, default_value = "")]
    role: String,
    /// Only this action (e.g. CreateProvider, RevokeCredential).
    #[arg(long, default_value = "")]
    action: String,
    /// Only this kind of resource (provider, strategy, product, application, credential,
    /// registration).
    #[arg(long, default_value = "")]
    resource_type: String,
    /// Only events about this resource id.
    #[arg(long, default_value = "")]
    resource_id: String,
    /// At most this many events.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

pub async fn run(ctx: &Ctx, Cmd::List(args): Cmd) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "audit list")?;
    let mut client = ctx.connection.audit()?;
    let mut events = Vec::new();
    let mut page_token = String::new();
    // Paged by hand: the limit ends the walk early.
    while events.len() < args.limit {
        let page = client
            .list_audit_events(reg::ListAuditEventsRequest {
                actor: args.actor.clone(),
                role: args.role.clone(),
                action: args.action.clone(),
                resource_type: args.resource_type.clone(),
                resource_id: args.resource_id.clone(),
                page_size: PAGE_SIZE,
                page_token,
            })
            .await
            .on(Role::Admin, "list audit events")?;
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    events.truncate(args.limit);
    if ctx.output == Format::Json {
        output::print_json(&output::list_json(&events)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = Table::new(&[
        "TIME", "ACTOR", "ROLE", "ACTION", "RESOURCE", "ID", "OUTCOME",
    ]);
    for e in &events {
        // A person is shown by name (or email) when their token carried one.
        let actor = match (e.actor_name.as_str(), e.actor_email.as_str()) {
            ("", "") => e.actor.clone(),
            ("", email) => format!("{} ({email})", e.actor),
            (name, _) => format!("{name} ({})", e.actor),
        };
        table.row(vec![
            output::time(e.time.as_ref()),
            actor,
            e.role.clone(),
            e.action.clone(),
            e.resource_type.clone(),
            e.resource_id.clone(),
            e.outcome.clone(),
        ]);
    }
    table.print()?;
    Ok(ExitCode::SUCCESS)
}
