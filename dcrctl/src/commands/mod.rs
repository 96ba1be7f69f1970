//! One file per resource; what they share (the context, paging, names and flags parsed
//! the same way everywhere) lives here and in `resolve`.

pub mod apps;
pub mod audit;
pub mod certs;
pub mod check;
pub mod credentials;
pub mod doctor;
pub mod login;
pub mod plan;
pub mod products;
pub mod providers;
pub mod registrations;
pub mod resolve;
pub mod strategies;
pub mod token;
pub mod whoami;

use std::time::Duration;

use crate::connection::ConnectionArgs;
use crate::errors::{CallFailed, quote, usage};
use crate::output::Format;

/// What every command gets: where the services are, who we are, how to print.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub connection: ConnectionArgs,
    pub output: Format,
}

/// The page size dcrctl asks for; the services cap it.
pub const PAGE_SIZE: i32 = 100;

/// Every page of a List call: `page` gets the page token and returns the items and the
/// next token ("" at the end).
pub async fn all_pages<T>(
    mut page: impl AsyncFnMut(String) -> Result<(Vec<T>, String), CallFailed>,
) -> Result<Vec<T>, CallFailed> {
    let mut items = Vec::new();
    let mut token = String::new();
    loop {
        let (mut batch, next) = page(token).await?;
        items.append(&mut batch);
        if next.is_empty() {
            return Ok(items);
        }
        token = next;
    }
}

/// `KEY=VALUE` of a repeatable flag.
pub fn key_value<'a>(flag: &str, pair: &'a str) -> anyhow::Result<(&'a str, &'a str)> {
    pair.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| usage(format!("--{flag} takes KEY=VALUE, got {}", quote(pair))))
}

/// A duration as people write it: `90s`, `15m`, `12h`, `30d`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number.parse().map_err(|_| {
        format!(
            "{} is not a duration (try 90s, 15m, 12h or 30d)",
            quote(text)
        )
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{}: the unit is one of s, m, h, d", quote(text))),
    };
    Ok(Duration::from_secs(n.saturating_mul(seconds)))
}

/// The app of a command that needs one: `--app`, else DCR_APP_ID. Neither is a usage
/// error that says how to set it (clap's own would print every global option).
pub fn require_app(app: Option<&str>) -> anyhow::Result<&str> {
    app.filter(|a| !a.is_empty()).ok_or_else(|| {
        usage(
            "no application given: pass --app ID|NAME or set DCR_APP_ID \
             (eval \"$(dcrctl apps create ... --output env)\" sets it)",
        )
    })
}

/// What `--output env` means for a command, checked before it calls anything.
pub fn refuse_env(ctx: &Ctx, command: &str) -> anyhow::Result<()> {
    if ctx.output == Format::Env {
        return Err(usage(format!(
            "`{command}` has no --output env; env is for `apps create`, `credentials add`, \
             `credentials regenerate` and `token`. Use --output table or json."
        )));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn key_values() {
        assert_eq!(key_value("label", "a=b=c").ok(), Some(("a", "b=c")));
        assert!(key_value("label", "=b").is_err());
        assert!(key_value("label", "ab").is_err());
    }
}
