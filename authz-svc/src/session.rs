//! Session cookies: the sealed (XChaCha20-Poly1305, key DCR_SESSION_SECRET) record of a
//! successful check, so a browser can come back with only the cookie until it expires or
//! the app's credentials are revoked. A session is bound to what it was made for: the
//! product, its strategy, the issuer and the audience. Shown to another product (the
//! products of one strategy share its cookie name, an admin may give two strategies the
//! same one, and `Path=/` sends them everywhere on the host), or after an admin moved the
//! product to another strategy, issuer or audience, it is refused. It never outlives the
//! token it came from.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use dcr_common::seal::Sealer;
use serde::{Deserialize, Serialize};

/// v2 added the binding; v1 cookies (unbound) no longer open.
const CONTEXT: &[u8] = b"dcr-session-v2";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    #[serde(rename = "a")]
    pub application_id: String,
    #[serde(rename = "c")]
    pub client_id: String,
    #[serde(rename = "s")]
    pub scopes: Vec<String>,
    /// Expiry, unix seconds.
    #[serde(rename = "e")]
    pub expires: i64,
    /// When the session was made, unix milliseconds: sessions made before the app's
    /// newest credential revocation are refused (the "credential generation").
    #[serde(rename = "i")]
    pub issued_ms: i64,
    #[serde(rename = "p")]
    pub product_id: String,
    #[serde(rename = "t")]
    pub strategy_id: String,
    #[serde(rename = "u")]
    pub issuer: String,
    #[serde(rename = "d")]
    pub audience: Option<String>,
}

impl Session {
    pub fn issued(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_millis(self.issued_ms)
    }
}

pub fn seal(sealer: &Sealer, session: &Session) -> String {
    let plain = serde_json::to_vec(session).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealer.seal(&plain, CONTEXT))
}

pub fn open(sealer: &Sealer, cookie: &str) -> Option<Session> {
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cookie)
        .ok()?;
    let plain = sealer.open(&sealed, CONTEXT).ok()?;
    serde_json::from_slice(&plain).ok()
}

/// The Set-Cookie value for a new session. Always `Secure` and `Path=/`, never `Domain`:
/// what a `__Host-` name (the registry's default, RFC 6265bis section 4.1.3.2) requires,
/// and a `__Secure-` one too; with another attribute set the browser would drop the
/// cookie, and the session with it.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: i64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age_seconds}; HttpOnly; Secure; SameSite=Lax")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sessions_round_trip_and_tampering_is_refused() {
        let sealer = Sealer::new(&[3; 32], &[]);
        let session = Session {
            application_id: "app".into(),
            client_id: "client".into(),
            scopes: vec!["read".into()],
            expires: 1_900_000_000,
            issued_ms: 1_800_000_000_000,
            product_id: "product".into(),
            strategy_id: "strategy".into(),
            issuer: "https://idp.example.com".into(),
            audience: Some("https://api.example.com".into()),
        };
        let cookie = seal(&sealer, &session);
        assert_eq!(open(&sealer, &cookie), Some(session));
        let mut tampered = cookie.into_bytes();
        tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
        assert_eq!(open(&sealer, &String::from_utf8(tampered).unwrap()), None);
        assert_eq!(open(&Sealer::new(&[4; 32], &[]), "garbage"), None);
    }

    #[test]
    fn every_cookie_fits_the_host_and_secure_prefixes() {
        for name in ["__Host-dcr-session-0a1b", "__Secure-sid", "portal_session"] {
            let header = set_cookie(name, "v", 60);
            let attributes: Vec<&str> = header.split("; ").collect();
            assert_eq!(attributes[0], format!("{name}=v"));
            assert!(attributes.contains(&"Secure"), "{header}");
            assert!(attributes.contains(&"Path=/"), "{header}");
            assert!(!header.to_ascii_lowercase().contains("domain="), "{header}");
        }
    }
}
