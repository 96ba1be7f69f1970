//! What `dcrctl dev` prints once the stack is up: where everything answers, and the
//! walkthrough (`deploy/demo/walkthrough.sh`, the same steps the compose test runs) with
//! the environment it needs, ready to paste into another terminal.

use std::fmt::Write as _;
use std::path::Path;

use super::secrets::DevSecrets;
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

/// The shell environment the walkthrough needs: a `dcrctl` alias, the endpoints and the
/// dev tokens. Written to `<data dir>/env` (0600) rather than printed, so the tokens do
/// not land in terminal scrollback.
pub fn environment(endpoints: &Endpoints, secrets: &DevSecrets) -> String {
    let dcrctl = std::env::current_exe()
        .map(|path| path.display().to_string())
        .unwrap_or_else(|_| "dcrctl".into());
    let mut vars = vec![
        ("DCR_REGISTRY_URL", endpoints.url(endpoints.registry)),
        ("DCR_TOKEN_URL", endpoints.url(endpoints.token)),
        ("DCR_AUTHZ_URL", endpoints.url(endpoints.authz)),
    ];
    // An absolute path: the file is sourced from anywhere.
    if let Some(tls) = &endpoints.tls {
        let ca = std::path::absolute(&tls.ca_cert).unwrap_or_else(|_| tls.ca_cert.clone());
        vars.push(("DCR_TLS_CA_FILE", ca.display().to_string()));
    }
    vars.extend([
        ("DCR_ADMIN_TOKEN", secrets.admin_token.clone()),
        ("DCR_PORTAL_TOKEN", secrets.portal_token.clone()),
        ("DCR_SERVICE_TOKEN", secrets.service_token.clone()),
        ("DCR_GATEWAY_TOKEN", secrets.gateway_token.clone()),
        ("DCR_DEVELOPER_ID", "dev-1".to_owned()),
    ]);
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let exports = env_lines(&pairs);
    format!(
        "# Written by dcrctl dev: source it to use the dev stack.\nalias dcrctl={}\n{exports}\n",
        shell_quote(&dcrctl)
    )
}

pub fn render(endpoints: &Endpoints, data_dir: &Path) -> String {
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
    if let Some(tls) = &endpoints.tls {
        let _ = writeln!(
            out,
            "  TLS            certificates in {} (clients trust ca.pem)",
            tls.ca_cert.parent().unwrap_or(data_dir).display()
        );
    }
    let _ = writeln!(
        out,
        "  IdP emulator   {}   (Auth0, Okta, Curity, Entra ID)",
        endpoints.emulator
    );
    let _ = writeln!(
        out,
        "\nSeeded from {}: provider demo-okta (the emulator's Okta), strategy demo, product demo.",
        data_dir.join("dcr.yaml").display()
    );
    let _ = writeln!(
        out,
        "\nTry it: in another terminal, in this folder, paste:\n\nsource {}\n",
        shell_quote(&env_file(data_dir).display().to_string())
    );
    out.push_str(steps());
    out
}
