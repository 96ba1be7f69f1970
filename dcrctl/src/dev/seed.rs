//! The demo configuration: `deploy/demo/dcr.yaml` (a provider on the emulator's Okta, a
//! strategy and a product, all named for the walkthrough), applied on every start. It is
//! idempotent, so a second start changes nothing; the file is copied into the data dir on
//! the first start, where it can be edited and applied again.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use secrecy::SecretString;

use super::secrets::{DevSecrets, write_private};
use super::stack::Endpoints;
use crate::connection::ConnectionArgs;

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

pub async fn seed(
    endpoints: &Endpoints,
    secrets: &DevSecrets,
    data_dir: &Path,
) -> anyhow::Result<()> {
    let file = data_dir.join("dcr.yaml");
    if !file.exists() {
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
    };
    let options = crate::declarative::Options {
        variables: variables(endpoints),
        ..Default::default()
    };
    let applied = crate::declarative::apply_with_options(&connection, &file, &options)
        .await
        .with_context(|| format!("applying {}", file.display()))?;
    if !applied.is_empty() {
        eprintln!("dcr dev: applied {}:\n{}", file.display(), applied.render());
    }
    Ok(())
}
