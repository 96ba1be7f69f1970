//! `dcrctl plan`, `apply` and `export`: providers, strategies and products as a YAML file
//! (`dcrctl/examples/dcr.yaml` is a documented example).
//!
//! - `file`: the format (version 1), typed; unknown fields are refused with their line;
//! - `interpolate`: `${VAR}` / `${VAR:-default}` in string values;
//! - `desired`: the file checked and normalized, every problem at once; secrets resolved;
//! - `state`: what the registry holds; `convert`: file types <-> API messages;
//! - `diff`: the plan and the calls that carry it out; `apply`: making them;
//! - `plan`: the plan's shape and rendering; `export`: the registry as a file.
//!
//! Resources are matched by name (unique in the registry). Resources in the registry but
//! not in the file are listed as not managed and left alone; they are deleted only with
//! [`Options::prune`].
//! Secrets are write-only in the API, so they cannot be compared: they are sent when a
//! provider is created and again with every update of that provider; a secret that
//! changed on its own is sent only with [`Options::resend_secrets`] (`--resend-secrets`).

mod apply;
mod convert;
mod desired;
mod diff;
mod export;
pub mod file;
mod interpolate;
mod plan;
mod state;

use std::collections::BTreeMap;
use std::path::Path;

pub use apply::ApplyStopped;
pub use desired::FileProblems;
pub use plan::{Action, Entry, FieldChange, Kind, Plan, Unmanaged};

use crate::connection::ConnectionArgs;
use interpolate::Variables;
use state::Current;

/// How to read the file and what to send beyond the differences.
#[derive(Clone, Default)]
pub struct Options {
    /// Variables for `${VAR}` and `{env: VAR}`, looked up before the process environment.
    pub variables: BTreeMap<String, String>,
    /// Send every provider's secrets from the file, also for providers that are otherwise
    /// unchanged (after rotating a secret at the IdP).
    pub resend_secrets: bool,
    /// Delete what the registry has and the file does not (products, then strategies,
    /// then providers). The registry refuses to delete what is in use (a strategy with
    /// applications, a product with registrations): apply stops there.
    pub prune: bool,
}

/// Variable names only: their values may be secrets.
impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("variables", &self.variables.keys().collect::<Vec<_>>())
            .field("resend_secrets", &self.resend_secrets)
            .field("prune", &self.prune)
            .finish()
    }
}

async fn prepare(
    connection: &ConnectionArgs,
    file: &Path,
    options: &Options,
) -> anyhow::Result<(Current, diff::Prepared)> {
    let vars = Variables::new(options.variables.clone());
    // The file first: its problems need no registry to be found.
    let desired = desired::load(file, &vars)?;
    let current = Current::read(connection).await?;
    let extra = diff::Extra {
        resend_secrets: options.resend_secrets,
        prune: options.prune,
    };
    let prepared = diff::prepare(&desired, &current, &vars, extra)?;
    Ok((current, prepared))
}

/// What `apply` would change. Fails like `apply` would on the file's problems, including
/// secrets it would send but cannot read.
pub async fn plan(connection: &ConnectionArgs, file: &Path) -> anyhow::Result<Plan> {
    plan_with_options(connection, file, &Options::default()).await
}

/// Applies the file: creates and updates in dependency order; returns what it did.
/// Nothing is changed when the file has problems (all are reported together); a call
/// that fails stops the apply with a message saying what was already applied.
pub async fn apply(connection: &ConnectionArgs, file: &Path) -> anyhow::Result<Plan> {
    apply_with_options(connection, file, &Options::default()).await
}

pub async fn plan_with_options(
    connection: &ConnectionArgs,
    file: &Path,
    options: &Options,
) -> anyhow::Result<Plan> {
    Ok(prepare(connection, file, options).await?.1.plan)
}

pub async fn apply_with_options(
    connection: &ConnectionArgs,
    file: &Path,
    options: &Options,
) -> anyhow::Result<Plan> {
    let (current, prepared) = prepare(connection, file, options).await?;
    apply::run(connection, &current, prepared.ops).await?;
    let mut done = prepared.plan;
    done.applied = true;
    Ok(done)
}

/// The registry's providers, strategies and products as the YAML `apply` takes.
pub async fn export(connection: &ConnectionArgs) -> anyhow::Result<String> {
    export::to_yaml(&Current::read(connection).await?)
}
