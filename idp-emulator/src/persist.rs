//! The state file (`--state-file`, [`crate::EmulatorState::open`]): every vendor's
//! clients, secrets and grants, the clock skew and the signing keys, as one versioned JSON
//! document, so a restarted emulator still knows the clients created before and still
//! verifies the tokens it issued. Faults and call statistics are test-only and transient,
//! so they are left out.
//!
//! The file holds client secrets and private keys: it is written with mode 0600, and
//! atomically (`dcr_common::private_files::write`: a temporary file in the same directory,
//! fsynced, then renamed over it), so a crash leaves either the old state or the new one,
//! never half of each.

use std::io;
use std::path::{Path, PathBuf};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::state::{EmulatorState, SSO_KEY_INDEX, VendorKeys, World};
use crate::urls::Urls;
use crate::{auth0, curity, entra, okta, sso};

/// The format this emulator writes and reads; any other is refused rather than guessed at.
pub(crate) const VERSION: u64 = 1;

/// What is written: borrowed from the live state, so a save copies nothing but bytes.
#[derive(Serialize)]
struct FileRef<'a> {
    version: u64,
    /// The root URL the state was served at; issuers (and the Auth0 Management API
    /// audience) embed it.
    root: &'a str,
    skew_secs: i64,
    keys: &'a VendorKeys,
    auth0: &'a auth0::Tenant,
    okta: &'a okta::Org,
    curity: &'a curity::Server,
    azure_ad: &'a entra::Directory,
    sso: &'a sso::Directory,
}

/// What is read back.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOwned {
    #[allow(dead_code)] // checked before the rest is parsed
    version: u64,
    root: String,
    skew_secs: i64,
    keys: VendorKeys,
    auth0: auth0::Tenant,
    okta: okta::Org,
    curity: curity::Server,
    azure_ad: entra::Directory,
    /// Absent from files written before the SSO issuer existed: those get its seeded
    /// people and a key.
    #[serde(default)]
    sso: Option<sso::Directory>,
}

/// The persisted part of `world`, as the file's bytes.
pub(crate) fn snapshot(world: &World, root: &str) -> io::Result<Vec<u8>> {
    let file = FileRef {
        version: VERSION,
        root,
        skew_secs: world.skew_secs,
        keys: &world.keys,
        auth0: &world.auth0,
        okta: &world.okta,
        curity: &world.curity,
        azure_ad: &world.entra,
        sso: &world.sso,
    };
    serde_json::to_vec_pretty(&file).map_err(io::Error::other)
}

/// The world stored in `bytes` (the contents of `path`), to be served at `urls`.
pub(crate) fn load(path: &Path, bytes: &[u8], urls: &Urls) -> io::Result<World> {
    let invalid = |what: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "emulator state file {}: {what}; fix it, or delete it to start from fresh seeded state",
                path.display()
            ),
        )
    };
    let doc: Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON ({e})")))?;
    match doc.get("version") {
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => {
            return Err(invalid(format!(
                "format version {v}, but this emulator reads version {VERSION}"
            )));
        }
        None => return Err(invalid("no \"version\" field".into())),
    }
    let file: FileOwned = serde_json::from_value(doc)
        .map_err(|e| invalid(format!("not valid emulator state ({e})")))?;
    let sso = match file.sso {
        Some(sso) => sso,
        None => sso::Directory::seeded(SSO_KEY_INDEX)
            .map_err(|_| io::Error::other("RSA key generation failed"))?,
    };
    let mut world = World {
        skew_secs: file.skew_secs,
        keys: file.keys,
        auth0: file.auth0,
        okta: file.okta,
        curity: file.curity,
        entra: file.azure_ad,
        sso,
    };
    world.okta.org_url = urls.okta_org();
    let saved = Urls::new(&file.root);
    if saved.root != urls.root {
        tracing::warn!(
            file = %path.display(),
            saved_root = %saved.root,
            root = %urls.root,
            "the state file was written by an emulator at another root URL: clients, secrets \
             and keys are kept, but issuers embed the root, so tokens issued there name the \
             old issuers and fail issuer checks here; start at the old root to keep them"
        );
        // The Management API is the tenant's own API, at the emulator's root: follow it,
        // or the seeded management client could no longer get a management token.
        let (old, new) = (
            saved.auth0_management_audience(),
            urls.auth0_management_audience(),
        );
        for rs in &mut world.auth0.resource_servers {
            if *rs == old {
                rs.clone_from(&new);
            }
        }
        for grant in &mut world.auth0.grants {
            if grant.audience == old {
                grant.audience.clone_from(&new);
            }
        }
    }
    Ok(world)
}

/// Where and what was last written. One async lock orders the saves: the snapshot is
/// taken under it, so a later state is never overwritten by an earlier one.
pub(crate) struct Persister {
    pub path: PathBuf,
    last: tokio::sync::Mutex<Vec<u8>>,
}

impl Persister {
    /// `written` is what `path` holds now.
    pub fn new(path: PathBuf, written: Vec<u8>) -> Self {
        Self {
            path,
            last: tokio::sync::Mutex::new(written),
        }
    }
}

impl EmulatorState {
    /// Writes the state file if a request changed the world since the last write (and
    /// the persisted form differs from what the file holds).
    async fn save(&self) -> io::Result<()> {
        let Some(persister) = &self.inner.persist else {
            return Ok(());
        };
        // Taken before the snapshot: saves happen in snapshot order, so an older state
        // never overwrites a newer one.
        let mut last = persister.last.lock().await;
        let Some(bytes) = self.take_changes() else {
            return Ok(());
        };
        let bytes = bytes?;
        if bytes == *last {
            return Ok(());
        }
        let path = persister.path.clone();
        let written = tokio::task::spawn_blocking(move || {
            dcr_common::private_files::write(&path, &bytes)?;
            Ok::<_, io::Error>(bytes)
        })
        .await
        .map_err(io::Error::other)
        .and_then(|r| r);
        match written {
            Ok(bytes) => {
                *last = bytes;
                Ok(())
            }
            Err(e) => {
                self.changes_lost();
                Err(e)
            }
        }
    }
}

/// After every request, saves the state if it changed, before the answer goes out: a
/// client that got its answer finds the change in the file.
pub(crate) async fn middleware(
    State(state): State<EmulatorState>,
    req: Request,
    next: Next,
) -> Response {
    let resp = next.run(req).await;
    // A task of its own: a client hanging up (or a `drop` fault) cancels this future,
    // and the change must still reach the disk.
    let saver = state.clone();
    let saved = tokio::spawn(async move { saver.save().await }).await;
    if let Err(e) = saved.map_err(io::Error::other).and_then(|r| r) {
        // The change stays in memory, and the next request tries to save it again.
        let path = state
            .inner
            .persist
            .as_ref()
            .map(|p| p.path.display().to_string());
        tracing::error!(file = ?path, error = %e, "could not save the emulator state file");
    }
    resp
}
