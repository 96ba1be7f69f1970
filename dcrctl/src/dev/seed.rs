//! The demo configuration. On the first start `deploy/demo/dcr.yaml` (built in: a provider
//! on the emulator's Okta, a strategy and a product, all named for the walkthrough) is
//! copied to `<data dir>/dcr.yaml`; every start then applies that copy, so edits to it
//! survive restarts. Applying is idempotent: an unedited file changes nothing the second
//! time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use secrecy::SecretString;

use super::secrets::{DevSecrets, write_private};
use super::stack::Endpoints;
use crate::connection::ConnectionArgs;
use crate::declarative::Plan;

const DEMO_CONFIG: &str = include_str!("../../../deploy/demo/dcr.yaml");

/// The variables the demo file refers to, with their dev values.
pub fn variables(endpoints: &Endpoints) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("DCR_DEMO_IDP_URL".to_owned(), endpoints.emulator.clone()),
        (
            "DCR_DEMO_OKTA_TOKEN".to_owned(),
            dcr_idp_emulator::OKTA_API_TOKEN.to_owned(),
        ),
    ])
}

/// What a start applied, for the banner.
pub struct Seeded {
    pub file: PathBuf,
    /// True when this start copied the built-in demo file (a first start).
    pub copied: bool,
    pub plan: Plan,
}

impl Seeded {
    /// "Applied .dcr/dcr.yaml (...): provider demo-okta (created), ...".
    pub fn summary(&self) -> String {
        let origin = if self.copied {
            " (the built-in demo configuration, deploy/demo/dcr.yaml, copied on this first start)"
        } else {
            ""
        };
        let resources: Vec<String> = self
            .plan
            .resources
            .iter()
            .map(|entry| {
                format!(
                    "{} {} ({})",
                    entry.kind.as_str(),
                    entry.name,
                    entry.action.past_tense()
                )
            })
            .collect();
        let mut out = format!(
            "Applied {}{origin}: {}.",
            self.file.display(),
            if resources.is_empty() {
                "nothing".to_owned()
            } else {
                resources.join(", ")
            }
        );
        if !self.plan.not_managed.is_empty() {
            let others: Vec<String> = self
                .plan
                .not_managed
                .iter()
                .map(|item| format!("{} {}", item.kind.as_str(), item.name))
                .collect();
            out.push_str(&format!(
                "\nAlso in the registry, not in the file: {}.",
                others.join(", ")
            ));
        }
        out
    }
}

pub async fn seed(
    endpoints: &Endpoints,
    secrets: &DevSecrets,
    data_dir: &Path,
) -> anyhow::Result<Seeded> {
    let file = data_dir.join("dcr.yaml");
    let copied = !file.exists();
    if copied {
        write_private(&file, DEMO_CONFIG.as_bytes())?;
    }
    let connection = ConnectionArgs {
        registry_url: endpoints.url(endpoints.registry),
        token_url: endpoints.url(endpoints.token),
        authz_url: endpoints.url(endpoints.authz),
        tls: Some(endpoints.client_tls()),
        admin_token: Some(SecretString::from(secrets.admin_token.clone())),
        portal_token: None,
        developer: None,
        gateway_token: None,
        service_token: None,
        identity_issuer: None,
        person: None,
    };
    let options = crate::declarative::Options {
        variables: variables(endpoints),
        ..Default::default()
    };
    let plan = crate::declarative::apply_with_options(&connection, &file, &options)
        .await
        .with_context(|| format!("applying {}", file.display()))?;
    Ok(Seeded { file, copied, plan })
}
