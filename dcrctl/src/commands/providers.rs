//! `dcrctl providers`: IdP connections (admin API).
//!
//! The type-specific config comes as JSON or YAML (`--config-json`, `--config-file`) with
//! the proto's field names; secret fields can come from the environment or a file instead,
//! so they never need to be on the command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
use clap::{Args, Subcommand};
use dcr_proto::providers::TYPES;
use dcr_proto::registry::v1::{self as reg, ProviderType};
use serde_json::{Map, Value, json};

use super::{Ctx, key_value, refuse_env, resolve};
use crate::connection::Role;
use crate::errors::{CallExt as _, quote, usage};
use crate::output::{self, Format, Table};

#[derive(Debug, Clone, Subcommand)]
pub enum Cmd {
    /// List the providers.
    List,
    /// Show one provider (secret fields are write-only and never shown).
    Get { provider: String },
    /// Create a provider.
    Create(CreateArgs),
    /// Change a provider: only the fields given change.
    Update(UpdateArgs),
    /// Delete a provider (refused while a strategy uses it).
    Delete { provider: String },
    /// A live round trip to the IdP with the stored credentials; exits 1 if it fails.
    Verify { provider: String },
}

/// `--type`: a provider type's name (`azure-ad` for `azure_ad` too), from
/// `dcr_proto::providers`.
fn type_parser() -> impl clap::builder::TypedValueParser<Value = ProviderType> {
    let values = TYPES.iter().map(|t| {
        let value = PossibleValue::new(t.name);
        let dashed = t.name.replace('_', "-");
        if dashed == t.name {
            value
        } else {
            // Once per run, a few bytes: clap takes aliases as &'static str.
            value.alias(&*Box::leak(dashed.into_boxed_str()))
        }
    });
    PossibleValuesParser::new(values)
        .map(|name| ProviderType::from_name(&name).unwrap_or(ProviderType::Unspecified))
}

/// The type of a provider the registry returned (its config's case).
fn type_of(provider: &reg::Provider) -> Option<ProviderType> {
    provider.config.as_ref().map(|c| c.provider_type())
}

/// The type-specific config, and where its secrets come from.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// The type's config as JSON, e.g. '{"registration_endpoint": "https://idp/reg"}'.
    #[arg(long, value_name = "JSON", conflicts_with = "config_file")]
    config_json: Option<String>,
    /// The type's config from a JSON or YAML file.
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// A config field read from an environment variable, e.g.
    /// initial_access_token=IAT_VAR (repeatable).
    #[arg(long, value_name = "FIELD=VAR")]
    secret_from_env: Vec<String>,
    /// A config field read from a file (one trailing newline dropped), e.g.
    /// api_key=/run/secrets/bridge (repeatable).
    #[arg(long, value_name = "FIELD=PATH")]
    secret_from_file: Vec<String>,
}

impl ConfigArgs {
    /// The config fields given, as one JSON object.
    fn fields(&self) -> anyhow::Result<Map<String, Value>> {
        let mut fields = match (&self.config_json, &self.config_file) {
            (Some(text), _) => object(
                serde_json::from_str(text).map_err(|e| usage(format!("--config-json: {e}")))?,
                "--config-json",
            )?,
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| usage(format!("--config-file {}: {e}", path.display())))?;
                // YAML is a superset of JSON, so one parser reads both.
                let value: Value = serde_yaml::from_str(&text)
                    .map_err(|e| usage(format!("--config-file {}: {e}", path.display())))?;
                object(value, "--config-file")?
            }
            (None, None) => Map::new(),
        };
        for pair in &self.secret_from_env {
            let (field, var) = key_value("secret-from-env", pair)?;
            let value = std::env::var(var).map_err(|_| {
                usage(format!(
                    "--secret-from-env {field}={var}: the environment variable {var} is not set"
                ))
            })?;
            fields.insert(field.to_owned(), Value::String(value));
        }
        for pair in &self.secret_from_file {
            let (field, path) = key_value("secret-from-file", pair)?;
            let text = std::fs::read_to_string(path)
                .map_err(|e| usage(format!("--secret-from-file {field}={path}: {e}")))?;
            let value = text.strip_suffix('\n').unwrap_or(&text);
            let value = value.strip_suffix('\r').unwrap_or(value);
            fields.insert(field.to_owned(), Value::String(value.to_owned()));
        }
        Ok(fields)
    }
}

fn object(value: Value, flag: &str) -> anyhow::Result<Map<String, Value>> {
    match value {
        Value::Object(map) => Ok(map),
        Value::Null => Ok(Map::new()),
        _ => Err(usage(format!(
            "{flag}: the config is a JSON object of the type's fields"
        ))),
    }
}

/// The fields every provider has, for update (all optional).
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// A display name for people.
    #[arg(long)]
    display_name: Option<String>,
    /// A label KEY=VALUE (repeatable; on update, the given labels replace all labels).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Whether apps of this provider may be created and checked.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    active: Option<bool>,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// A unique name.
    name: String,
    /// The provider type; it cannot change later.
    #[arg(long = "type", value_parser = type_parser())]
    kind: ProviderType,
    /// The IdP's issuer URL.
    #[arg(long)]
    issuer: String,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The provider's id or name.
    provider: String,
    /// A new name.
    #[arg(long)]
    name: Option<String>,
    /// A new issuer URL.
    #[arg(long)]
    issuer: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    config: ConfigArgs,
}

pub async fn run(ctx: &Ctx, cmd: Cmd) -> anyhow::Result<ExitCode> {
    refuse_env(ctx, "providers")?;
    match cmd {
        Cmd::List => list(ctx).await?,
        Cmd::Get { provider } => {
            let id = resolve::provider_id(ctx, &provider).await?;
            show(ctx, &get(ctx, &id, &provider).await?)?;
        }
        Cmd::Create(args) => create(ctx, args).await?,
        Cmd::Update(args) => update(ctx, args).await?,
        Cmd::Delete { provider } => {
            let id = resolve::provider_id(ctx, &provider).await?;
            ctx.connection
                .providers()?
                .delete_provider(reg::DeleteProviderRequest { id: id.clone() })
                .await
                .on(Role::Admin, format!("provider {}", quote(&provider)))?;
            output::deleted(ctx.output, "provider", &id)?;
        }
        Cmd::Verify { provider } => return verify(ctx, &provider).await,
    }
    Ok(ExitCode::SUCCESS)
}

async fn get(ctx: &Ctx, id: &str, named: &str) -> anyhow::Result<reg::Provider> {
    Ok(ctx
        .connection
        .providers()?
        .get_provider(reg::GetProviderRequest { id: id.to_owned() })
        .await
        .on(Role::Admin, format!("provider {}", quote(named)))?)
}

async fn list(ctx: &Ctx) -> anyhow::Result<()> {
    let providers = resolve::providers(ctx).await?;
    if ctx.output == Format::Json {
        return output::print_json(&output::list_json(&providers)?);
    }
    let mut table = Table::new(&["ID", "NAME", "TYPE", "ISSUER", "ACTIVE"]);
    for p in &providers {
        let kind = type_of(p).map_or("?", ProviderType::as_str);
        table.row(vec![
            p.id.clone(),
            p.name.clone(),
            kind.into(),
            p.issuer.clone(),
            p.active.to_string(),
        ]);
    }
    table.print()
}

/// One provider: JSON, or `key  value` lines with its type named (the config's secret
/// fields are never returned, so a type's config may show nothing else). Then the
/// registry's warnings about it, on stderr for every format: a person sees them, and
/// stdout stays the provider alone for scripts (JSON carries them as `warnings` too).
fn show(ctx: &Ctx, provider: &reg::Provider) -> anyhow::Result<()> {
    let mut json = output::to_json(provider)?;
    if ctx.output == Format::Json {
        output::print_json(&json)?;
    } else {
        let kind = type_of(provider).map_or("?", ProviderType::as_str);
        json["type"] = json!(kind);
        if let Some(fields) = json.as_object_mut() {
            fields.remove("warnings");
            // `type` says it, as people write it.
            fields.remove("provider_type");
        }
        output::print(&output::details(&json))?;
    }
    warn(&provider.warnings);
    Ok(())
}

/// `warning: ...` lines on stderr, after the normal output.
fn warn(warnings: &[String]) {
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
}

/// The common fields as Provider JSON (only those given).
fn common_json(
    common: &CommonArgs,
    json: &mut Map<String, Value>,
    mask: &mut Vec<String>,
) -> anyhow::Result<()> {
    if let Some(display) = &common.display_name {
        json.insert("display_name".into(), json!(display));
        mask.push("display_name".into());
    }
    if !common.labels.is_empty() {
        let mut labels = Map::new();
        for pair in &common.labels {
            let (k, v) = key_value("label", pair)?;
            labels.insert(k.to_owned(), json!(v));
        }
        json.insert("labels".into(), Value::Object(labels));
        mask.push("labels".into());
    }
    if let Some(active) = common.active {
        json.insert("active".into(), json!(active));
        mask.push("active".into());
    }
    Ok(())
}

/// Provider JSON to the message; a bad config field is the user's to fix.
fn provider_from(json: Map<String, Value>) -> anyhow::Result<reg::Provider> {
    output::from_json(Value::Object(json)).map_err(|e| usage(format!("the provider config: {e}")))
}

async fn create(ctx: &Ctx, args: CreateArgs) -> anyhow::Result<()> {
    let mut json = Map::new();
    json.insert("name".into(), json!(args.name));
    json.insert("issuer".into(), json!(args.issuer));
    json.insert("active".into(), json!(true));
    common_json(&args.common, &mut json, &mut Vec::new())?;
    json.insert(
        args.kind.as_str().into(),
        Value::Object(args.config.fields()?),
    );
    let provider = provider_from(json)?;
    let created = ctx
        .connection
        .providers()?
        .create_provider(reg::CreateProviderRequest {
            provider: Some(provider),
        })
        .await
        .on(
            Role::Admin,
            format!("create provider {}", quote(&args.name)),
        )?;
    show(ctx, &created)
}

async fn update(ctx: &Ctx, args: UpdateArgs) -> anyhow::Result<()> {
    let id = resolve::provider_id(ctx, &args.provider).await?;
    let stored = get(ctx, &id, &args.provider).await?;
    let schema = type_of(&stored)
        .and_then(ProviderType::schema)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "provider {} has no type in the registry's answer",
                quote(&args.provider)
            )
        })?;
    let mut json = Map::new();
    let mut mask = Vec::new();
    json.insert("id".into(), json!(id));
    if let Some(name) = &args.name {
        json.insert("name".into(), json!(name));
        mask.push("name".into());
    }
    if let Some(issuer) = &args.issuer {
        json.insert("issuer".into(), json!(issuer));
        mask.push("issuer".into());
    }
    common_json(&args.common, &mut json, &mut mask)?;
    let config = args.config.fields()?;
    if !config.is_empty() {
        for key in config.keys() {
            // The mask names proto fields; the JSON may use either spelling.
            let field = schema
                .fields
                .iter()
                .find(|f| f.name == key || json_name(f.name) == *key)
                .ok_or_else(|| {
                    usage(format!(
                        "{} is not a field of a {} provider's config",
                        quote(key),
                        schema.name
                    ))
                })?;
            mask.push(format!("{}.{}", schema.name, field.name));
        }
        json.insert(schema.name.into(), Value::Object(config));
    }
    if mask.is_empty() {
        return Err(usage(
            "nothing to update: pass --name, --display-name, --issuer, --label, --active, or config fields",
        ));
    }
    let updated = ctx
        .connection
        .providers()?
        .update_provider(reg::UpdateProviderRequest {
            provider: Some(provider_from(json)?),
            update_mask: Some(prost_types::FieldMask { paths: mask }),
        })
        .await
        .on(
            Role::Admin,
            format!("update provider {}", quote(&args.provider)),
        )?;
    show(ctx, &updated)
}

/// A field's name in the proto's JSON mapping: `initial_client_id` -> `initialClientId`.
fn json_name(field: &str) -> String {
    let mut parts = field.split('_');
    let mut name = parts.next().unwrap_or_default().to_owned();
    for part in parts {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            name.extend(first.to_uppercase());
            name.push_str(chars.as_str());
        }
    }
    name
}

async fn verify(ctx: &Ctx, provider: &str) -> anyhow::Result<ExitCode> {
    let id = resolve::provider_id(ctx, provider).await?;
    let result = ctx
        .connection
        .providers()?
        .verify_provider(reg::VerifyProviderRequest { id })
        .await
        .on(Role::Admin, format!("verify provider {}", quote(provider)))?;
    match ctx.output {
        Format::Json => output::print_json(&output::to_json(&result)?)?,
        _ if result.ok => output::print(&format!("ok: {}", result.detail))?,
        _ => output::print(&format!("FAILED: {}", result.detail))?,
    }
    Ok(if result.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
