//! `dcrctl dev --reset`: delete the data dir to start afresh, after asking. Only a folder
//! that looks like a dev data dir is deleted, so a mistyped `--data-dir ~` loses nothing.

use std::io::{BufRead as _, Write as _};
use std::path::Path;

use anyhow::Context as _;

/// Files `dcrctl dev` writes; a folder with none of them is not deleted.
const MARKERS: [&str; 3] = ["secrets.json", "dcr.db", "env"];

/// Deletes `data_dir` once the user agrees (or `yes`). Returns whether to go on starting:
/// false when the user said no.
pub fn reset(data_dir: &Path, yes: bool) -> anyhow::Result<bool> {
    if !data_dir.exists() {
        eprintln!(
            "dcr dev: {} does not exist yet; nothing to reset",
            data_dir.display()
        );
        return Ok(true);
    }
    if !MARKERS.iter().any(|name| data_dir.join(name).exists()) {
        anyhow::bail!(
            "{} does not look like a dcrctl dev data dir (it has none of {}); not deleting it",
            data_dir.display(),
            MARKERS.join(", ")
        );
    }
    if !yes && !confirmed(data_dir)? {
        eprintln!("dcr dev: nothing deleted");
        return Ok(false);
    }
    std::fs::remove_dir_all(data_dir)
        .with_context(|| format!("cannot delete {}", data_dir.display()))?;
    eprintln!("dcr dev: deleted {}", data_dir.display());
    Ok(true)
}

/// Asks on stderr, reads one line from stdin: only "y" or "yes" agrees.
fn confirmed(data_dir: &Path) -> anyhow::Result<bool> {
    eprint!(
        "Delete {} (the store, the emulator's clients, the dev keys, tokens and certificates)? [y/N] ",
        data_dir.display()
    );
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
