//! Microsoft Entra's directory is eventually consistent: right after `POST /applications`
//! another replica may not know the new application yet, so the calls that follow (the
//! service principal, `addPassword`) can be refused as if it did not exist
//! (https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/,
//! which asks callers to retry with backoff). Only those calls, made within seconds of the
//! create, retry such answers, for a bounded time; a 404 at any other time means the
//! application is gone.

use std::future::Future;
use std::time::Duration;

use super::{IdpError, IdpResult};

/// The first wait; each next one doubles.
const FIRST_WAIT: Duration = Duration::from_millis(200);
/// Waited at most in all (200 + 400 + 800 + 1600 ms: five attempts).
const MAX_WAIT: Duration = Duration::from_millis(3_000);

/// Graph's answers while the application has not reached every replica: 404
/// `Request_ResourceNotFound` on its paths, and `NoBackingApplicationObject` (a 400) to a
/// service principal create naming its appId.
pub(super) fn not_replicated_yet(error: &IdpError) -> bool {
    match error {
        IdpError::NotFound => true,
        IdpError::Rejected(detail) => detail.contains("NoBackingApplicationObject"),
        _ => false,
    }
}

/// `call`, again after a growing wait while Graph answers as if the application `app_id`
/// created just before did not exist yet, at most [`MAX_WAIT`] in all. Still not there
/// then: a refusal saying so (the caller undoes the create).
pub(super) async fn after_create<T, F, Fut>(app_id: &str, what: &str, call: F) -> IdpResult<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = IdpResult<T>>,
{
    let mut wait = FIRST_WAIT;
    let mut waited = Duration::ZERO;
    loop {
        match call().await {
            Err(error) if not_replicated_yet(&error) => {
                if waited + wait > MAX_WAIT {
                    return Err(IdpError::Rejected(format!(
                        "{what}: Microsoft Entra still did not know the application {app_id} \
                         {} s after creating it (directory replication; last answer: {error}); \
                         try again later",
                        waited.as_secs_f32().round()
                    )));
                }
                tracing::info!(
                    what,
                    app_id,
                    wait_ms = wait.as_millis() as u64,
                    "the new application is not on every Entra replica yet; waiting"
                );
                tokio::time::sleep(wait).await;
                waited += wait;
                wait *= 2;
            }
            other => return other,
        }
    }
}
