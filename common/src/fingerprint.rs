//! Secret fingerprints: how dcr recognises a client secret it has revoked without keeping
//! the secret. A fingerprint is a keyed BLAKE3 hash of `client_id`, a zero byte and the
//! secret, under a random 32-byte salt of its own, so equal secrets never share a digest
//! and a leaked digest gives nothing back for the random secrets IdPs issue. It is not
//! keyed by the master key: token-svc must compute it for every secret it is shown, and
//! it holds no master key.
//!
//! registry-svc makes one when it sees a secret (create, add, regenerate) and ships the
//! fingerprints of revoked secrets in its directory answers; token-svc refuses a secret
//! that matches one before it calls the IdP. That enforces revocation where the IdP
//! cannot revoke one secret of several (an HTTP DCR bridge), or has not yet confirmed it.

use rand::RngCore as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretFingerprint {
    pub salt: [u8; 32],
    pub digest: [u8; 32],
}

impl SecretFingerprint {
    /// A new fingerprint of `secret`, under a fresh salt.
    pub fn of(client_id: &str, secret: &str) -> Self {
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        Self {
            salt,
            digest: digest(&salt, client_id, secret),
        }
    }

    /// Whether `secret` is the one fingerprinted; compared in constant time.
    pub fn matches(&self, client_id: &str, secret: &str) -> bool {
        blake3::Hash::from(digest(&self.salt, client_id, secret)) == blake3::Hash::from(self.digest)
    }

    /// From stored or transmitted bytes; None unless both are 32 bytes.
    pub fn from_parts(salt: &[u8], digest: &[u8]) -> Option<Self> {
        Some(Self {
            salt: salt.try_into().ok()?,
            digest: digest.try_into().ok()?,
        })
    }
}

fn digest(salt: &[u8; 32], client_id: &str, secret: &str) -> [u8; 32] {
    *blake3::Hasher::new_keyed(salt)
        .update(client_id.as_bytes())
        .update(&[0])
        .update(secret.as_bytes())
        .finalize()
        .as_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_client_and_secret_match() {
        let print = SecretFingerprint::of("client-1", "s3cret");
        assert!(print.matches("client-1", "s3cret"));
        assert!(!print.matches("client-1", "s3cret2"));
        assert!(!print.matches("client-2", "s3cret"));
        let again = SecretFingerprint::of("client-1", "s3cret");
        assert_ne!(
            print.digest, again.digest,
            "each fingerprint has its own salt"
        );
        assert_eq!(
            SecretFingerprint::from_parts(&print.salt, &print.digest),
            Some(print)
        );
        assert_eq!(SecretFingerprint::from_parts(&[1; 31], &print.digest), None);
    }
}
