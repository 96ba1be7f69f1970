//! `dcrctl whoami`: who registry-svc takes the caller to be (IdentityService/WhoAmI), with
//! the credentials other commands would use: the admin token, the portal token, or the
//! signed-in person (their roles and developer id).

use std::process::ExitCode;

use dcr_proto::registry::v1 as reg;

use super::{Ctx, refuse_env};
use crate::errors::CallExt as _;
use crate::output::{self, Format, Table};

pub async fn run(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "whoami")?;
    let (mut client, role) = ctx.connection.identity()?;
    let me = client
        .who_am_i(reg::WhoAmIRequest {})
        .await
        .on(role, "who am I")?;
    if ctx.output == Format::Json {
        output::show(ctx.output, &me)?;
    } else {
        output::print(&render(&me))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `key  value` lines, who first, empty ones left out.
fn render(me: &reg::WhoAmIResponse) -> String {
    let mut table = Table::new(&[]);
    for (key, value) in [
        ("actor", me.actor.clone()),
        ("name", me.name.clone()),
        ("email", me.email.clone()),
        ("roles", me.roles.join(", ")),
        ("developer", me.developer_id.clone()),
    ] {
        if !value.is_empty() {
            table.row(vec![key.to_owned(), value]);
        }
    }
    table.render().trim_start_matches('\n').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_machine_token_is_two_lines() {
        let me = reg::WhoAmIResponse {
            actor: "token:admin".into(),
            roles: vec!["token:admin".into()],
            ..Default::default()
        };
        assert_eq!(render(&me), "actor  token:admin\nroles  token:admin");
    }
}
