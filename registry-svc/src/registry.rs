//! The registry's shared state: what every handler and background task works with.

use std::sync::Arc;
#[cfg(feature = "fault-injection")]
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use dcr_common::clock::SharedClock;

use crate::domain::validate::UrlPolicy;
use crate::idp::IdpDeps;
use crate::store::Store;

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub url_policy: UrlPolicy,
    /// How long a request owns its IdP operation before the reconciler may take it over.
    /// Must exceed the IdP timeout by a margin.
    pub operation_lease: Duration,
}

impl Settings {
    /// How long a request may wait for the IdP: three quarters of the lease, so the
    /// journal and commit that follow still fall inside it (fencing catches the rest).
    pub fn workflow_deadline(&self) -> Duration {
        self.operation_lease * 3 / 4
    }
}

/// Failure injection for tests of invariant 1. Each counter makes that many of the next
/// passes through its point fail as if the process died there. The counters exist only
/// with the test-only feature `fault-injection` (testkit turns it on); a build without
/// it, such as the release image, has no way to trip them.
#[derive(Debug, Default)]
pub struct Faults {
    /// After the IdP created the client and dcr journaled it, before the final commit.
    #[cfg(feature = "fault-injection")]
    pub crash_after_idp_create: AtomicU32,
    /// After the IdP deleted the client, before the row is removed.
    #[cfg(feature = "fault-injection")]
    pub crash_after_idp_delete: AtomicU32,
    /// After the IdP confirmed a client change (new secret, new metadata) and dcr
    /// journaled it, before the commit.
    #[cfg(feature = "fault-injection")]
    pub crash_after_idp_change: AtomicU32,
}

impl Faults {
    /// True (and counts down) when the process should "die" after the IdP create.
    pub(crate) fn crash_after_idp_create_now(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return trip(&self.crash_after_idp_create);
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// True (and counts down) when the process should "die" after an IdP client change.
    pub(crate) fn crash_after_idp_change_now(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return trip(&self.crash_after_idp_change);
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// True (and counts down) when the process should "die" after the IdP delete.
    pub(crate) fn crash_after_idp_delete_now(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return trip(&self.crash_after_idp_delete);
        #[cfg(not(feature = "fault-injection"))]
        false
    }
}

#[cfg(feature = "fault-injection")]
fn trip(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

#[derive(Clone)]
pub struct Registry {
    pub store: Arc<dyn Store>,
    pub idp: IdpDeps,
    pub clock: SharedClock,
    pub settings: Settings,
    pub faults: Arc<Faults>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
