//! The claims of a token dcr just received from an IdP's token endpoint, read without
//! verifying its signature: only to explain a refusal (which scopes or roles the
//! management client lacks), never to grant anything.

use base64::Engine as _;
use serde_json::{Map, Value};

pub(super) fn unverified_claims(token: &str) -> Map<String, Value> {
    token
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The `scope` (space-separated), `scp` or `roles` (lists) claim as a list.
pub(super) fn listed(claims: &Map<String, Value>, name: &str) -> Vec<String> {
    dcr_common::jwt::string_or_list(claims.get(name), ' ')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_are_read_from_the_payload() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"scope":"read:clients create:clients","roles":["A","B"]}"#);
        let claims = unverified_claims(&format!("h.{payload}.s"));
        assert_eq!(
            listed(&claims, "scope"),
            vec!["read:clients", "create:clients"]
        );
        assert_eq!(listed(&claims, "roles"), vec!["A", "B"]);
        assert!(unverified_claims("opaque").is_empty());
    }
}
