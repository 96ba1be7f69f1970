//! The API's defaults for auth strategy fields a request leaves empty (strategies.proto),
//! shared by registry-svc, which applies them, and dcrctl, which compares with them.

use std::time::Duration;

use uuid::Uuid;

/// `AuthStrategy.session_cookie_name` when empty: a name of the strategy's own, so the
/// sessions of two strategies on one host (both `Path=/`) never overwrite each other.
///
/// The `__Host-` prefix makes browsers accept the cookie only with `Secure`, `Path=/` and
/// no `Domain` (RFC 6265bis section 4.1.3.2), which is what authz-svc sets: a sibling
/// subdomain or a plain-http page cannot plant or shadow it.
///
/// The whole id, not a prefix of it: strategy ids are UUIDv7, whose leading digits are
/// the creation time, so strategies made within the same minute would share any short
/// prefix. The whole id is unique and never changes, and the name stays 51 characters.
pub fn default_session_cookie(strategy_id: Uuid) -> String {
    format!("__Host-dcr-session-{}", strategy_id.simple())
}

/// `AuthStrategy.session_ttl` when unset.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_cookie_names_are_per_strategy_host_cookies() {
        // Two ids made back to back share their leading (time) digits.
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let (name_a, name_b) = (default_session_cookie(a), default_session_cookie(b));
        assert_ne!(name_a, name_b);
        assert_eq!(name_a, default_session_cookie(a), "stable");
        assert!(name_a.starts_with("__Host-dcr-session-"), "{name_a}");
        assert_eq!(name_a.len(), 51);
    }
}
