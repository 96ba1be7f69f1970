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

/// `DCR_<PROVIDER>_<FIELD>`: upper case, anything but letters and digits as `_`. Two
/// providers whose names give the same variable get their id's first part added.
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
    // Names that differ only in what the variable name cannot hold (`a-b`, `a_b`) would
    // share variables: those providers' variables carry their id as well.
    let mut users: std::collections::BTreeMap<String, usize> = Default::default();
    for p in &current.providers {
        *users.entry(secret_variable(&p.name, "")).or_default() += 1;
    }
    for p in &current.providers {
        let prefix = if users.get(&secret_variable(&p.name, "")).copied() > Some(1) {
            format!("{}_{}", p.name, p.id.split('-').next().unwrap_or(&p.id))
        } else {
            p.name.clone()
        };
        let mut exported = convert::provider_to_file(p, &|field| {
            Some(Secret::Env(secret_variable(&prefix, field)))
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

    #[test]
    fn providers_whose_names_give_one_variable_get_their_ids_in_it() {
        use dcr_proto::registry::v1 as pb;
        let okta = |id: &str, name: &str| pb::Provider {
            id: id.into(),
            name: name.into(),
            issuer: "https://example.okta.com/oauth2/default".into(),
            config: Some(pb::provider::Config::Okta(pb::OktaConfig::default())),
            ..Default::default()
        };
        let current = Current {
            providers: vec![
                okta("01a2a3a4-0000-7000-8000-000000000001", "a-b"),
                okta("01b2b3b4-0000-7000-8000-000000000002", "a_b"),
                okta("01c2c3c4-0000-7000-8000-000000000003", "c"),
            ],
            strategies: Vec::new(),
            products: Vec::new(),
        };
        let yaml = to_yaml(&current).unwrap();
        assert!(yaml.contains("env: DCR_A_B_01A2A3A4_DCR_TOKEN"), "{yaml}");
        assert!(yaml.contains("env: DCR_A_B_01B2B3B4_DCR_TOKEN"), "{yaml}");
        assert!(yaml.contains("env: DCR_C_DCR_TOKEN"), "{yaml}");
    }
}
