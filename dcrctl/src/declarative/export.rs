//! The registry as a dcr.yaml. Secrets cannot be read back (the API never returns them),
//! so each is written as a reference to an environment variable named after the provider
//! and the field: `{env: DCR_<PROVIDER>_<FIELD>}`.

use super::convert;
use super::desired::VERSION;
use super::file::{ConfigFile, Secret};
use super::state::{Current, name_of};

const HEADER: &str = "\
# Exported by `dcrctl export`. `dcrctl plan -f` this file against the same registry shows
# no changes. Secrets cannot be read back from dcr: each one is a reference to an
# environment variable, DCR_<PROVIDER>_<FIELD>. Set those before an apply that creates or
# updates a provider (updates re-send the provider's secrets), or point them at files:
# `{file: /run/secrets/x}`. An optional secret a provider does not use (rfc7591
# initial_access_token) can be deleted from the file.
";

/// `DCR_<PROVIDER>_<FIELD>`: upper case, anything but letters and digits as `_`.
pub fn secret_variable(provider: &str, field: &str) -> String {
    format!("DCR_{provider}_{field}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

pub fn to_yaml(current: &Current) -> anyhow::Result<String> {
    let providers = current.provider_names();
    let strategies = current.strategy_names();
    let mut file = ConfigFile {
        version: Some(VERSION),
        ..ConfigFile::default()
    };
    for p in &current.providers {
        let mut exported = convert::provider_to_file(p, &|field| {
            Some(Secret::Env(secret_variable(&p.name, field)))
        });
        // The default (the name) needs no line.
        if exported.display_name.as_deref() == Some(p.name.as_str()) {
            exported.display_name = None;
        }
        file.providers.push(exported);
    }
    for s in &current.strategies {
        file.strategies.push(convert::strategy_to_file(
            s,
            &name_of(&providers, &s.provider_id),
        ));
    }
    for p in &current.products {
        file.products.push(convert::product_to_file(
            p,
            &name_of(&strategies, &p.strategy_id),
        ));
    }
    Ok(format!(
        "{HEADER}{}",
        serde_yaml::to_string(&escape_dollars(file)?)?
    ))
}

/// `$` -> `$$` in every value, so reading the file back (which expands `${VAR}`) gives
/// the registry's text again.
fn escape_dollars(file: ConfigFile) -> anyhow::Result<ConfigFile> {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(text) => *text = text.replace('$', "$$"),
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut tree = serde_json::to_value(&file)?;
    walk(&mut tree);
    Ok(serde_json::from_value(tree)?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn secret_variables_are_shell_names() {
        assert_eq!(
            secret_variable("local-oidc", "initial_access_token"),
            "DCR_LOCAL_OIDC_INITIAL_ACCESS_TOKEN"
        );
        assert_eq!(
            secret_variable("okta.prod", "dcr_token"),
            "DCR_OKTA_PROD_DCR_TOKEN"
        );
    }
}
