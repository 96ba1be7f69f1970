//! Random identifiers and secrets in the shapes each vendor uses.

use rand::Rng;
use rand::distr::{Alphanumeric, SampleString};

/// `n` random ASCII letters and digits (Auth0 client ids, Okta ids after their prefix).
pub(crate) fn alnum(n: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), n)
}

/// `n` random URL-safe characters (Auth0 secrets, Okta secrets).
pub(crate) fn url_safe(n: usize) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// A lowercase hyphenated GUID (Entra object ids, Curity client ids, request ids).
pub(crate) fn guid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The last four characters of a secret: what dcr stores and what `/__emulator/state`
/// shows, never the whole secret.
pub(crate) fn last4(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let start = chars.len().saturating_sub(4);
    chars[start..].iter().collect()
}

/// Compares two secrets without an early exit, like the vendors' constant-time checks.
pub(crate) fn secret_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
