//! `dcrctl plan`, `apply` and `export`: providers, strategies and products as a YAML file.
//! (Placeholder interface; the implementation replaces these bodies.)

use std::path::Path;

use crate::connection::ConnectionArgs;

/// What `apply` would do (or did): one line per change.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Plan {
    pub changes: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The plan for people.
    pub fn render(&self) -> String {
        self.changes.join("\n")
    }
}

pub async fn plan(_connection: &ConnectionArgs, _file: &Path) -> anyhow::Result<Plan> {
    anyhow::bail!("plan is not implemented yet")
}

pub async fn apply(_connection: &ConnectionArgs, _file: &Path) -> anyhow::Result<Plan> {
    anyhow::bail!("apply is not implemented yet")
}

/// The current configuration as the YAML `apply` takes.
pub async fn export(_connection: &ConnectionArgs) -> anyhow::Result<String> {
    anyhow::bail!("export is not implemented yet")
}
