//! `dcrctl check`: what authz-svc decides for a call to a product with some credential,
//! as a gateway would ask. Exits 0 on allow, 1 on deny (the reason is printed).

use std::collections::HashMap;
use std::process::ExitCode;

use base64::Engine as _;
use clap::Args;
use dcr_proto::authz::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};

use super::token::ClientArgs;
use super::{Ctx, key_value, refuse_env, resolve};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote, usage};
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// The product's id or name.
    #[arg(long)]
    product: String,
    /// A bearer token (e.g. from `eval "$(dcrctl token --output env)"`).
    #[arg(long, env = "DCR_ACCESS_TOKEN", hide_env_values = true)]
    token: Option<SecretString>,
    /// Send Basic client credentials instead: ID:SECRET, or without a value the client id
    /// and secret flags (DCR_CLIENT_ID, DCR_CLIENT_SECRET).
    #[arg(long, value_name = "ID:SECRET", num_args = 0..=1, default_missing_value = "")]
    basic: Option<String>,
    #[command(flatten)]
    client: ClientArgs,
    /// A request header NAME=VALUE (repeatable), e.g. cookie=__Host-dcr-session-...=...
    /// (the strategy's session_cookie_name); an authorization header given here wins
    /// over --basic and --token.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    headers: Vec<String>,
    /// A scope the call needs (repeatable).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
}

/// RFC 6749 section 2.3.1: each part percent-encoded, then `id:secret` in base64.
fn basic(id: &str, secret: &str) -> String {
    fn encode(part: &str) -> String {
        part.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }
    let pair = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn headers(args: &CheckArgs) -> anyhow::Result<HashMap<String, String>> {
    let mut headers = HashMap::new();
    for pair in &args.headers {
        let (name, value) = key_value("header", pair)?;
        headers.insert(name.to_ascii_lowercase(), value.to_owned());
    }
    if headers.contains_key("authorization") {
        return Ok(headers);
    }
    let authorization = match (&args.basic, &args.token) {
        (Some(pair), _) if !pair.is_empty() => {
            let (id, secret) = pair.split_once(':').ok_or_else(|| {
                usage(
                    "--basic takes ID:SECRET (or no value for DCR_CLIENT_ID and DCR_CLIENT_SECRET)",
                )
            })?;
            Some(basic(id, secret))
        }
        (Some(_), _) => {
            let (id, secret) = args.client.require()?;
            Some(basic(id, secret))
        }
        (None, Some(token)) => Some(format!("Bearer {}", token.expose_secret())),
        (None, None) => None,
    };
    match authorization {
        Some(value) => {
            headers.insert("authorization".into(), value);
        }
        None if headers.is_empty() => {
            return Err(usage(
                "no credential to check: pass --token or set DCR_ACCESS_TOKEN (eval \"$(dcrctl token --output env)\"), \
                 or pass --basic, or --header",
            ));
        }
        None => {}
    }
    Ok(headers)
}

pub async fn run(ctx: &Ctx, args: CheckArgs) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "check")?;
    let headers = headers(&args)?;
    // Check needs the gateway token; product names are looked up with the admin or the
    // service token (a gateway's token reaches nothing but Check).
    let product_id = resolve::product_id(ctx, &args.product).await?;
    let answer = ctx
        .connection
        .authz()?
        .check(pb::CheckRequest {
            product_id,
            headers,
            required_scopes: args.scopes,
            source_address: String::new(),
        })
        .await
        .on(
            Role::Gateway,
            format!("check for product {}", quote(&args.product)),
        )?;
    let allowed = answer.decision() == pb::Decision::Allow;
    match ctx.output {
        Format::Json => output::print_json(&output::to_json(&answer)?)?,
        _ => output::print(&render(&answer, allowed))?,
    }
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn render(answer: &pb::CheckResponse, allowed: bool) -> String {
    if !allowed {
        let mut text = format!("DENY (HTTP {}): {}", answer.http_status, answer.reason);
        if !answer.www_authenticate.is_empty() {
            text.push_str(&format!("\nwww-authenticate: {}", answer.www_authenticate));
        }
        return text;
    }
    let mut text = format!("ALLOW (HTTP {})", answer.http_status);
    if let Some(p) = &answer.principal {
        let mut table = output::Table::new(&["application", &p.application_id]);
        table
            .row(vec!["developer".into(), p.developer_id.clone()])
            .row(vec!["client_id".into(), p.client_id.clone()])
            .row(vec!["scopes".into(), p.scopes.join(" ")])
            .row(vec![
                "credential".into(),
                output::enum_name(p.credential_type().as_str_name(), "CREDENTIAL_TYPE_"),
            ]);
        text.push('\n');
        text.push_str(&table.render());
    }
    text
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn basic_percent_encodes_each_part() {
        let header = basic("my id", "s+c:t");
        let encoded = header.strip_prefix("Basic ").unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap_or_default();
        assert_eq!(String::from_utf8_lossy(&decoded), "my%20id:s%2Bc%3At");
    }
}
