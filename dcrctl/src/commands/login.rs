//! `dcrctl login` and `dcrctl logout`: a person signs in at the identity provider
//! (`--issuer`, DCR_IDENTITY_ISSUER) through their browser; registry calls without a
//! static token then go as them. Tokens are kept in the user's config dir, never printed.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::{Ctx, parse_duration, refuse_env};
use crate::login::store::Store;
use crate::login::{self, DEFAULT_CLIENT_ID, DEFAULT_SCOPE, LoginError, LoginOptions};
use crate::output::{self, Format};

#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// The identity provider (OpenID issuer) to sign in at.
    #[arg(long, env = "DCR_IDENTITY_ISSUER")]
    issuer: Option<String>,
    /// The login client at the identity provider: a public (secretless) native client
    /// whose redirect URI is http://127.0.0.1/callback, any port.
    #[arg(long, env = "DCR_LOGIN_CLIENT_ID", default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// The audience to ask for: registry-svc's DCR_IDENTITY_AUDIENCE (sent as `audience`,
    /// and as `resource` when it is a URI). Leave it unset where the provider sets the
    /// audience itself (an Okta authorization server, an Entra scope).
    #[arg(long, env = "DCR_IDENTITY_AUDIENCE")]
    audience: Option<String>,
    /// The scopes to ask for.
    #[arg(long, default_value = DEFAULT_SCOPE)]
    scope: String,
    /// Only print the address to open; do not start $BROWSER.
    #[arg(long)]
    no_browser: bool,
    /// How long to wait for the browser to come back (e.g. 90s, 5m).
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    timeout: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct LogoutArgs {
    /// The identity provider to sign out of (default: the last one signed in at).
    #[arg(long, env = "DCR_IDENTITY_ISSUER")]
    issuer: Option<String>,
}

pub async fn login(ctx: &Ctx, args: LoginArgs) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "login")?;
    let store = Store::from_env()?;
    let options = LoginOptions {
        issuer: args
            .issuer
            .filter(|i| !i.is_empty())
            .ok_or(LoginError::NoIssuer)?,
        client_id: args.client_id,
        audience: args.audience.filter(|a| !a.is_empty()),
        scope: args.scope,
        open_browser: !args.no_browser,
        timeout: args.timeout,
    };
    let signed_in = login::login(&options, &store, login::now_secs).await?;
    if ctx.output == Format::Json {
        output::print_json(&json!({
            "issuer": options.issuer,
            "subject": signed_in.subject,
            "name": signed_in.name,
            "email": signed_in.email,
            "file": store.path(),
        }))?;
    } else {
        output::print(&format!(
            "Signed in at {} as {}.\nRegistry calls without a static token now go as you \
             (`dcrctl whoami` shows your roles); the tokens are in {}.",
            options.issuer,
            signed_in.who(),
            store.path().display()
        ))?;
    }
    // Static tokens win over the sign-in: say so, or the person would wonder.
    for (set, var, calls) in [
        (
            ctx.connection.admin_token.is_some(),
            "DCR_ADMIN_TOKEN",
            "admin",
        ),
        (
            ctx.connection.portal_token.is_some(),
            "DCR_PORTAL_TOKEN",
            "portal (apps)",
        ),
    ] {
        if set {
            eprintln!(
                "note: {var} is set, so {calls} calls still use it: unset it to act as yourself"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn logout(ctx: &Ctx, args: LogoutArgs) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "logout")?;
    let store = Store::from_env()?;
    let removed = {
        let _lock = store.lock()?;
        let mut logins = store.load()?;
        let issuer = args
            .issuer
            .filter(|i| !i.is_empty())
            .or(logins.current.clone());
        let removed = issuer.and_then(|i| logins.logins.remove(&i).map(|l| (i, l)));
        if let Some((issuer, _)) = &removed {
            if logins.current.as_ref() == Some(issuer) {
                logins.current = None;
            }
            store.save(&logins)?;
        }
        removed
    };
    let Some((issuer, signed_in)) = removed else {
        output::print("Not signed in: nothing to do.")?;
        return Ok(ExitCode::SUCCESS);
    };
    let revoked = match (&signed_in.revocation_endpoint, &signed_in.refresh_token) {
        (Some(endpoint), Some(token)) => {
            match login::revoke(endpoint, &signed_in.client_id, token).await {
                Ok(()) => " and revoked its refresh token there".to_owned(),
                Err(e) => {
                    eprintln!(
                        "warning: the tokens were deleted here, but revoking them failed: {e}"
                    );
                    String::new()
                }
            }
        }
        _ => String::new(),
    };
    output::print(&format!(
        "Signed out of {issuer} ({}): deleted the tokens{revoked}.",
        signed_in.who()
    ))?;
    Ok(ExitCode::SUCCESS)
}
