//! All emulator state: one mutex over the vendors' state (and the clock skew and keys),
//! since every request is short and in-memory and a single lock keeps cross-vendor test
//! control simple; another over the transient test instruments (faults, stats).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::keys::{CryptoError, KeySet};
use crate::persist::{self, Persister};
use crate::urls::Urls;
use crate::{auth0, curity, entra, faults, okta, replication, sso};

/// The four emulated vendors. `azure_ad` is dcr's provider type name for Entra ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Vendor {
    Auth0,
    Okta,
    Curity,
    AzureAd,
}

impl Vendor {
    pub const ALL: [Vendor; 4] = [Vendor::Auth0, Vendor::Okta, Vendor::Curity, Vendor::AzureAd];

    pub fn name(self) -> &'static str {
        match self {
            Vendor::Auth0 => "auth0",
            Vendor::Okta => "okta",
            Vendor::Curity => "curity",
            Vendor::AzureAd => "azure_ad",
        }
    }

    /// The vendor owning a request path: its first segment (`entra` and `graph` are Entra's).
    pub fn of_path(path: &str) -> Option<Vendor> {
        match path.trim_start_matches('/').split('/').next()? {
            "auth0" => Some(Vendor::Auth0),
            "okta" => Some(Vendor::Okta),
            "curity" => Some(Vendor::Curity),
            "entra" | "graph" => Some(Vendor::AzureAd),
            _ => None,
        }
    }
}

#[derive(Serialize, Deserialize)]
pub(crate) struct VendorKeys {
    pub auth0: KeySet,
    pub okta: KeySet,
    pub curity: KeySet,
    #[serde(rename = "azure_ad")]
    pub entra: KeySet,
}

impl VendorKeys {
    pub fn get(&self, vendor: Vendor) -> &KeySet {
        match vendor {
            Vendor::Auth0 => &self.auth0,
            Vendor::Okta => &self.okta,
            Vendor::Curity => &self.curity,
            Vendor::AzureAd => &self.entra,
        }
    }
    pub fn get_mut(&mut self, vendor: Vendor) -> &mut KeySet {
        match vendor {
            Vendor::Auth0 => &mut self.auth0,
            Vendor::Okta => &mut self.okta,
            Vendor::Curity => &mut self.curity,
            Vendor::AzureAd => &mut self.entra,
        }
    }
}

/// The SSO issuer's place among the process's initial key sets (after the vendors').
pub(crate) const SSO_KEY_INDEX: usize = Vendor::ALL.len();

/// The vendors' state: what a state file keeps.
pub(crate) struct World {
    /// Seconds added to the wall clock (`POST /__emulator/clock`), so tests can expire
    /// tokens and secrets without sleeping.
    pub skew_secs: i64,
    pub keys: VendorKeys,
    pub auth0: auth0::Tenant,
    pub okta: okta::Org,
    pub curity: curity::Server,
    pub entra: entra::Directory,
    /// People and their sign-ins at the emulator's own OpenID provider (`/sso`).
    pub sso: sso::Directory,
}

/// Test instrumentation, transient (never in a state file) and behind a lock of its own,
/// so counting a request does not count as a change of the vendors' state.
#[derive(Default)]
pub(crate) struct Instruments {
    pub faults: faults::Faults,
    /// Graph applications not yet on every replica ([`crate::replication`]).
    pub lagging: Vec<replication::Lagging>,
    pub stats: BTreeMap<String, u64>,
}

/// The world and whether it changed since the state file was last written.
struct Guarded {
    world: World,
    changed: bool,
}

impl World {
    pub fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        chrono::TimeDelta::try_seconds(self.skew_secs)
            .and_then(|skew| now.checked_add_signed(skew))
            .unwrap_or(now)
    }
    pub fn now_secs(&self) -> i64 {
        self.now().timestamp()
    }

    /// Fresh state: new signing keys for every vendor and the seeded credentials of
    /// [`crate::seed`].
    fn fresh(urls: &Urls) -> std::io::Result<Self> {
        let gen_err = |_: CryptoError| std::io::Error::other("RSA key generation failed");
        let keys = VendorKeys {
            auth0: KeySet::initial(0).map_err(gen_err)?,
            okta: KeySet::initial(1).map_err(gen_err)?,
            curity: KeySet::initial(2).map_err(gen_err)?,
            entra: KeySet::initial(3).map_err(gen_err)?,
        };
        let now = Utc::now();
        let sso = sso::Directory::seeded(SSO_KEY_INDEX).map_err(gen_err)?;
        Ok(World {
            skew_secs: 0,
            keys,
            auth0: auth0::Tenant::seeded(urls),
            okta: okta::Org::seeded(urls.okta_org(), now),
            curity: curity::Server::seeded(),
            entra: entra::Directory::seeded(now),
            sso,
        })
    }
}

pub(crate) struct Shared {
    pub urls: Urls,
    /// Set when the state lives in a file ([`EmulatorState::open`]).
    pub persist: Option<Persister>,
    world: Mutex<Guarded>,
    instruments: Mutex<Instruments>,
}

/// Cheap to clone handle on one emulator's state; what [`crate::router`] serves.
#[derive(Clone)]
pub struct EmulatorState {
    pub(crate) inner: Arc<Shared>,
}

impl EmulatorState {
    /// Fresh state for an emulator reachable at `root` (e.g. `http://127.0.0.1:8080`):
    /// new signing keys for every vendor and the seeded credentials of [`crate::seed`].
    /// Nothing outlives the process; see [`EmulatorState::open`] for state that does.
    pub fn new(root: &str) -> std::io::Result<Self> {
        let urls = Urls::new(root);
        let world = World::fresh(&urls)?;
        Ok(Self::with_world(urls, world, None))
    }

    /// State kept in the file at `path`, for an emulator reachable at `root`: loaded
    /// when the file exists, else fresh (as [`EmulatorState::new`]) and written at once,
    /// so the signing keys survive a restart even before the first change. [`crate::router`]
    /// then saves it after every request that changed it.
    ///
    /// A file written at another root is loaded with a warning: its clients, secrets and
    /// keys still work, but tokens issued there name the old issuers. Errors (unreadable,
    /// corrupt or other-version file, unwritable directory) name the file.
    pub fn open(root: &str, path: impl AsRef<Path>) -> std::io::Result<Self> {
        let path = path.as_ref();
        let urls = Urls::new(root);
        let world = match std::fs::read(path) {
            Ok(bytes) => persist::load(path, &bytes, &urls)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => World::fresh(&urls)?,
            Err(e) => {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("reading emulator state file {}: {e}", path.display()),
                ));
            }
        };
        let bytes = persist::snapshot(&world, &urls.root)?;
        dcr_common::private_files::write(path, &bytes).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("writing emulator state file {}: {e}", path.display()),
            )
        })?;
        let persister = Persister::new(path.to_path_buf(), bytes);
        Ok(Self::with_world(urls, world, Some(persister)))
    }

    fn with_world(urls: Urls, world: World, persist: Option<Persister>) -> Self {
        Self {
            inner: Arc::new(Shared {
                urls,
                persist,
                world: Mutex::new(Guarded {
                    world,
                    changed: false,
                }),
                instruments: Mutex::new(Instruments::default()),
            }),
        }
    }

    pub fn urls(&self) -> &Urls {
        &self.inner.urls
    }

    /// Runs `f` under the lock, to read. A poisoned lock is taken over: state is plain
    /// data and a panic in one request must not wedge every later one.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&World) -> R) -> R {
        let guard = self.inner.world.lock().unwrap_or_else(|e| e.into_inner());
        f(&guard.world)
    }

    /// Runs `f` under the lock, to change the world: the state file (if any) is then
    /// written after the request. Only these calls cost a save, so reads and token
    /// requests stay as cheap as without a file.
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut guard = self.inner.world.lock().unwrap_or_else(|e| e.into_inner());
        guard.changed = true;
        f(&mut guard.world)
    }

    /// The persisted form of the world if it may have changed since the last call (which
    /// [`EmulatorState::changes_lost`] undoes when that form could not be written).
    pub(crate) fn take_changes(&self) -> Option<std::io::Result<Vec<u8>>> {
        let mut guard = self.inner.world.lock().unwrap_or_else(|e| e.into_inner());
        if !guard.changed {
            return None;
        }
        guard.changed = false;
        Some(persist::snapshot(&guard.world, &self.inner.urls.root))
    }

    pub(crate) fn changes_lost(&self) {
        let mut guard = self.inner.world.lock().unwrap_or_else(|e| e.into_inner());
        guard.changed = true;
    }

    /// Runs `f` on the faults and call statistics.
    pub(crate) fn with_instruments<R>(&self, f: impl FnOnce(&mut Instruments) -> R) -> R {
        let mut guard = self
            .inner
            .instruments
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}
