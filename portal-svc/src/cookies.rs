//! The portal's two cookies, sealed with DCR_SESSION_SECRET (XChaCha20-Poly1305, the
//! cookie's name as associated data, so one cannot stand in for the other):
//!
//! - the session cookie holds only a random session id; what the session knows lives in
//!   portal-svc's memory ([`crate::session`]), so signing out ends it for good;
//! - the sign-in cookie holds one sign-in's `state`, `nonce`, PKCE verifier and the page
//!   to return to, for the ten minutes the person has to finish at the identity provider:
//!   nothing is kept in memory for a sign-in that was only started.
//!
//! Both are HttpOnly and SameSite=Lax (sent on the identity provider's redirect back, a
//! top-level GET; never on another site's POST). Over https they carry `Secure` and the
//! `__Host-` prefix (the browser then keeps them to this host and path `/`).

use axum::http::HeaderMap;
use axum::http::header::{COOKIE, HeaderValue};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dcr_common::seal::Sealer;

/// Which cookie; its name depends on whether the portal is served over https.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jar {
    Session,
    SignIn,
}

impl Jar {
    pub fn name(self, secure: bool) -> &'static str {
        match (self, secure) {
            (Self::Session, true) => "__Host-dcr-portal",
            (Self::Session, false) => "dcr-portal",
            (Self::SignIn, true) => "__Host-dcr-sign-in",
            (Self::SignIn, false) => "dcr-sign-in",
        }
    }
}

/// Seals and opens the portal's cookies.
#[derive(Debug)]
pub struct Cookies {
    sealer: Sealer,
    secure: bool,
}

impl Cookies {
    pub fn new(key: &[u8; 32], secure: bool) -> Self {
        Self {
            sealer: Sealer::new(key, &[]),
            secure,
        }
    }

    /// The `Set-Cookie` value that stores `value` in `jar` for `max_age` seconds.
    pub fn set(&self, jar: Jar, value: &[u8], max_age: u64) -> HeaderValue {
        let name = jar.name(self.secure);
        let sealed = URL_SAFE_NO_PAD.encode(self.sealer.seal(value, name.as_bytes()));
        self.header(name, &sealed, max_age)
    }

    /// The `Set-Cookie` value that deletes `jar`.
    pub fn clear(&self, jar: Jar) -> HeaderValue {
        self.header(jar.name(self.secure), "", 0)
    }

    fn header(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let cookie =
            format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
        // Names and base64url values are ASCII: always a valid header value.
        HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
    }

    /// The opened contents of `jar` in the request, if it is there and was sealed by us
    /// for this cookie.
    pub fn get(&self, headers: &HeaderMap, jar: Jar) -> Option<Vec<u8>> {
        let name = jar.name(self.secure);
        let value = headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)?;
        let sealed = URL_SAFE_NO_PAD.decode(value).ok()?;
        self.sealer
            .open(&sealed, name.as_bytes())
            .ok()
            .map(|plain| plain.to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request_with(cookie: &HeaderValue) -> HeaderMap {
        let pair = cookie
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {pair}")).unwrap(),
        );
        headers
    }

    #[test]
    fn a_cookie_opens_only_as_itself_and_only_with_its_key() {
        let cookies = Cookies::new(&[7; 32], true);
        let set = cookies.set(Jar::Session, b"id", 60);
        let text = set.to_str().unwrap();
        assert!(text.starts_with("__Host-dcr-portal="), "{text}");
        assert!(
            text.contains("HttpOnly") && text.contains("Secure") && text.contains("SameSite=Lax")
        );
        let headers = request_with(&set);
        assert_eq!(cookies.get(&headers, Jar::Session).unwrap(), b"id");
        assert_eq!(cookies.get(&headers, Jar::SignIn), None);
        assert_eq!(
            Cookies::new(&[8; 32], true).get(&headers, Jar::Session),
            None
        );
        // A sign-in cookie's contents renamed as the session cookie do not open.
        let sign_in = cookies.set(Jar::SignIn, b"id", 60);
        let value = sign_in
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned();
        let mut forged = HeaderMap::new();
        forged.insert(
            COOKIE,
            HeaderValue::from_str(&format!("__Host-dcr-portal={value}")).unwrap(),
        );
        assert_eq!(cookies.get(&forged, Jar::Session), None);
    }

    #[test]
    fn plain_http_cookies_have_no_host_prefix_or_secure() {
        let text = Cookies::new(&[7; 32], false).set(Jar::Session, b"id", 60);
        let text = text.to_str().unwrap();
        assert!(
            text.starts_with("dcr-portal=") && !text.contains("Secure"),
            "{text}"
        );
    }
}
