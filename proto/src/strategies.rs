//! The API's defaults for auth strategy fields a request leaves empty (strategies.proto),
//! shared by registry-svc, which applies them, and dcrctl, which compares with them.

use std::time::Duration;

/// `AuthStrategy.session_cookie_name` when empty.
pub const DEFAULT_SESSION_COOKIE: &str = "dcr_session";
/// `AuthStrategy.session_ttl` when unset.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);
