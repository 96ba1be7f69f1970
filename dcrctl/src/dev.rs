//! `dcrctl dev`: the whole stack in one process. (Placeholder; implemented separately.)

#[derive(Debug, Clone, clap::Args)]
pub struct DevArgs {}

pub async fn run(_args: DevArgs) -> anyhow::Result<()> {
    anyhow::bail!("dev is not implemented yet")
}
