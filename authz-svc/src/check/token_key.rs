//! What the verified- and rejected-token caches are keyed by: a keyed PRF of the issuer
//! and the token (SipHash-2-4, 128 bits, under a random key made when authz-svc starts).
//! Nothing in memory holds a token, or an unkeyed hash that could check one offline.
//!
//! SipHash rather than keyed BLAKE3: every warm Check hashes its whole token (about 800
//! bytes for an ES256 JWT) and BLAKE3 took 0.73 us per token here against SipHash-2-4's
//! 0.36 us (docs/benchmarks.md). Both are PRFs under a secret key; a collision, the only
//! thing that could let one token pass as another, takes about 2^64 tokens of one's own
//! and then must also hit a token someone else holds.

use std::hash::{BuildHasherDefault, Hasher};

use siphasher::sip128::{Hasher128 as _, SipHasher24};

/// A token's key in the caches.
pub(super) type TokenKey = u128;

/// The PRF's secret key, random per process.
#[derive(Clone)]
pub(super) struct TokenKeyer([u8; 16]);

impl TokenKeyer {
    pub(super) fn random() -> Self {
        Self(rand::random())
    }

    pub(super) fn key(&self, issuer: &str, token: &str) -> TokenKey {
        let mut prf = SipHasher24::new_with_key(&self.0);
        prf.write(issuer.as_bytes());
        // Issuers hold no NUL: (issuer, token) pairs cannot run into each other.
        prf.write(&[0]);
        prf.write(token.as_bytes());
        prf.finish128().as_u128()
    }
}

/// The caches' table hash of a [`TokenKey`]: its own low 64 bits. The key is already a
/// PRF's output, random to anyone without the PRF's key, so hashing it again (moka's
/// default is SipHash-1-3) would only cost time; nobody can aim keys at one bucket.
pub(super) type KeyIsHash = BuildHasherDefault<PrfOutputHasher>;

#[derive(Default)]
pub(super) struct PrfOutputHasher(u64);

impl Hasher for PrfOutputHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u128(&mut self, key: u128) {
        self.0 ^= key as u64;
    }

    /// Not used by `u128` keys; folds any other bytes in, so the hasher stays correct.
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::hash::{BuildHasher as _, Hash as _};

    use super::*;

    #[test]
    fn the_key_depends_on_the_secret_the_issuer_and_every_byte_of_the_token() {
        let keyer = TokenKeyer([7; 16]);
        let token = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        let key = keyer.key("https://idp.example", token);
        assert_eq!(key, keyer.key("https://idp.example", token));
        assert_ne!(key, TokenKeyer([8; 16]).key("https://idp.example", token));
        assert_ne!(key, keyer.key("https://other.example", token));
        // The split between issuer and token is part of the input.
        assert_ne!(
            keyer.key("https://idp.example", "ab"),
            keyer.key("https://idp.examplea", "b")
        );
        let mut bytes = token.as_bytes().to_vec();
        for i in 0..bytes.len() {
            bytes[i] ^= 1;
            let changed = std::str::from_utf8(&bytes).unwrap_or_default();
            assert_ne!(key, keyer.key("https://idp.example", changed), "byte {i}");
            bytes[i] ^= 1;
        }
    }

    #[test]
    fn the_table_hash_of_a_key_is_its_low_bits() {
        let key: TokenKey = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210;
        assert_eq!(KeyIsHash::default().hash_one(key), 0xfedc_ba98_7654_3210);
        let mut other = PrfOutputHasher::default();
        "not a key".hash(&mut other);
        assert_ne!(other.finish(), 0);
    }
}
