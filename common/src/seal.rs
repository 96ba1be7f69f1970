//! Sealing secrets at rest: XChaCha20-Poly1305 with a random nonce and a key id, so the
//! master key can be rotated (new key seals, old keys still open). The associated data
//! binds a ciphertext to its row, so a sealed value copied to another row won't open.
//!
//! Layout: version (1 byte) | key id (8) | nonce (24) | ciphertext + tag.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with an unknown key (id {0}); is DCR_MASTER_KEY_PREVIOUS set?")]
    UnknownKey(String),
    #[error("sealed value failed authentication (tampered, or opened with the wrong context)")]
    Authentication,
}

struct Key {
    id: [u8; KEY_ID_LEN],
    cipher: XChaCha20Poly1305,
}

impl Key {
    fn new(bytes: &[u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"dcr-master-key-id")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        Self {
            id,
            cipher: XChaCha20Poly1305::new(bytes.into()),
        }
    }
}

/// Seals with the current key; opens with the current or any previous key.
pub struct Sealer {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("key_id", &hex(&self.current.id))
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(current: &[u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            current: Key::new(current),
            previous: previous.iter().map(Key::new).collect(),
        }
    }

    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plaintext,
            aad: context,
        };
        // Encryption with a valid key and nonce length cannot fail; an empty result would
        // only ever fail to open, never leak.
        let ciphertext = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
        out.push(VERSION);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, sealed: &[u8], context: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        if sealed.len() < HEADER_LEN || sealed[0] != VERSION {
            return Err(SealError::Malformed);
        }
        let key_id = &sealed[1..1 + KEY_ID_LEN];
        let nonce = XNonce::from_slice(&sealed[1 + KEY_ID_LEN..HEADER_LEN]);
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(hex(key_id)))?;
        key.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Authentication)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn opens_what_it_sealed_and_nothing_else() {
        let sealer = Sealer::new(&[7; 32], &[]);
        let sealed = sealer.seal(b"s3cret", b"provider:1");
        assert!(!sealed.windows(6).any(|w| w == b"s3cret"));
        assert_eq!(
            sealer.open(&sealed, b"provider:1").unwrap().as_slice(),
            b"s3cret"
        );
        assert_eq!(
            sealer.open(&sealed, b"provider:2"),
            Err(SealError::Authentication)
        );
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(
            sealer.open(&tampered, b"provider:1"),
            Err(SealError::Authentication)
        );
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = Sealer::new(&[1; 32], &[]);
        let sealed = old.seal(b"value", b"ctx");
        let rotated = Sealer::new(&[2; 32], &[[1; 32]]);
        assert_eq!(rotated.open(&sealed, b"ctx").unwrap().as_slice(), b"value");
        let without_old = Sealer::new(&[2; 32], &[]);
        assert!(matches!(
            without_old.open(&sealed, b"ctx"),
            Err(SealError::UnknownKey(_))
        ));
    }
}
