//! What `dcrctl dev` prints once the stack is up: where everything answers, and the
//! walkthrough (`deploy/demo/walkthrough.sh`, the same steps the compose test runs) with
//! the environment it needs, ready to paste into another terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::secrets::DevSecrets;
use super::seed::Seeded;
use super::stack::Endpoints;
use crate::output::{env_lines, shell_quote};

const WALKTHROUGH: &str = include_str!("../../../deploy/demo/walkthrough.sh");

/// The walkthrough's steps without its header comment (which is for the script's readers).
fn steps() -> &'static str {
    WALKTHROUGH
        .split_once("\n\n")
        .map_or(WALKTHROUGH, |(_, rest)| rest)
}

pub fn env_file(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("env")
}

/// The shell environment the walkthrough needs: `dcrctl` on PATH, the endpoints, the dev
/// tokens, and the variables `<data dir>/dcr.yaml` refers to (so `dcrctl apply -f` works
/// after editing it). Written to `<data dir>/env` (0600) rather than printed, so the tokens
/// do not land in terminal scrollback. PATH rather than an alias: scripts, `xargs` and
/// `watch` do not expand aliases.
pub fn environment(
    endpoints: &Endpoints,
    secrets: &DevSecrets,
    bin_dir: Option<&Path>,
    file_variables: &BTreeMap<String, String>,
) -> String {
    let mut vars = vec![
        (
            "DCR_REGISTRY_URL".to_owned(),
            endpoints.url(endpoints.registry),
        ),
        ("DCR_TOKEN_URL".to_owned(), endpoints.url(endpoints.token)),
        ("DCR_AUTHZ_URL".to_owned(), endpoints.url(endpoints.authz)),
    ];
    // An absolute path: the file is sourced from anywhere.
    if let Some(tls) = &endpoints.tls {
        let ca = std::path::absolute(&tls.ca_cert).unwrap_or_else(|_| tls.ca_cert.clone());
        vars.push(("DCR_TLS_CA_FILE".to_owned(), ca.display().to_string()));
    }
    vars.extend([
        ("DCR_ADMIN_TOKEN".to_owned(), secrets.admin_token.clone()),
        ("DCR_PORTAL_TOKEN".to_owned(), secrets.portal_token.clone()),
        (
            "DCR_SERVICE_TOKEN".to_owned(),
            secrets.service_token.clone(),
        ),
        (
            "DCR_GATEWAY_TOKEN".to_owned(),
            secrets.gateway_token.clone(),
        ),
        ("DCR_DEVELOPER_ID".to_owned(), "dev-1".to_owned()),
        // `dcrctl login` signs people in at the emulator; `whoami` and calls made
        // without the tokens above then go as them.
        ("DCR_IDENTITY_ISSUER".to_owned(), endpoints.sso_issuer()),
        (
            "DCR_LOGIN_CLIENT_ID".to_owned(),
            dcr_idp_emulator::SSO_LOGIN_CLIENT_ID.to_owned(),
        ),
        (
            "DCR_IDENTITY_AUDIENCE".to_owned(),
            dcr_idp_emulator::SSO_DEFAULT_AUDIENCE.to_owned(),
        ),
    ]);
    vars.extend(file_variables.iter().map(|(k, v)| (k.clone(), v.clone())));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let exports = env_lines(&pairs);
    let path = bin_dir.map_or_else(String::new, |dir| {
        let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
        format!(
            "export PATH={}:\"$PATH\"\n",
            shell_quote(&dir.display().to_string())
        )
    });
    format!("# Written by dcrctl dev: source it to use the dev stack.\n{path}{exports}\n")
}

/// The emulator's people, for `dcrctl login` (their passwords are published test values).
fn people() -> String {
    let mut table = crate::output::Table::new(&["  LOGIN", "PASSWORD", "ROLE", "NAME"]);
    for person in dcr_idp_emulator::SSO_PEOPLE {
        table.row(vec![
            format!("  {}", person.login),
            person.password.to_owned(),
            person.role.to_owned(),
            person.name.to_owned(),
        ]);
    }
    format!(
        "\nPeople who can sign in (at the Dev Portal, or dcrctl login; this login and password in the browser):\n{}\n",
        table.render()
    )
}

pub fn render(endpoints: &Endpoints, data_dir: &Path, seeded: &Seeded) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\ndcr dev is running: data in {}, Ctrl-C stops it.\n",
        data_dir.display()
    );
    let _ = writeln!(
        out,
        "  registry-svc   {}",
        endpoints.url(endpoints.registry)
    );
    let _ = writeln!(
        out,
        "  token-svc      {}   OAuth token endpoint {}/oauth2/token",
        endpoints.url(endpoints.token),
        endpoints.url(endpoints.token_http)
    );
    let _ = writeln!(
        out,
        "  authz-svc      {}   (dcr.authz.v1 and Envoy ext_authz)",
        endpoints.url(endpoints.authz)
    );
    let _ = writeln!(
        out,
        "  portal-svc     {}/   (the Dev Portal and admin console, in a browser)",
        endpoints.url(endpoints.portal)
    );
    if let Some(tls) = &endpoints.tls {
        let _ = writeln!(
            out,
            "  TLS            certificates in {} (clients trust ca.pem)",
            tls.ca_cert.parent().unwrap_or(data_dir).display()
        );
    }
    let _ = writeln!(
        out,
        "  IdP emulator   {}   (Auth0, Okta, Curity, Entra ID; people sign in at {})",
        endpoints.emulator,
        endpoints.sso_issuer()
    );
    out.push_str(&people());
    let _ = writeln!(out, "\n{}", seeded.summary());
    let _ = writeln!(
        out,
        "\nTry it: in another terminal, in this folder, paste:\n\nsource {}\n",
        shell_quote(&env_file(data_dir).display().to_string())
    );
    out.push_str(steps());
    out
}
