//! RS256 signing keys, one set per vendor, and the compact JWS that every vendor's access
//! tokens use. Tokens are signed and checked here with aws-lc-rs directly, so the emulator
//! and the tests (which verify with `jsonwebtoken` against the published JWKS) check each
//! other instead of sharing one implementation.

use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A key generation or signing failure inside aws-lc; handlers answer it as a 500.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CryptoError;

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("crypto failure")
    }
}

struct SigningKey {
    kid: String,
    pair: KeyPair,
    /// The private key as PKCS#8 DER, kept so a state file can be written without
    /// re-encoding the key on every save.
    pkcs8: Vec<u8>,
    n: String,
    e: String,
}

impl SigningKey {
    fn generate() -> Result<Self, CryptoError> {
        let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError)?;
        let der = pair.as_der().map_err(|_| CryptoError)?;
        // A kid like the vendors' own: opaque, stable for the key's life.
        Self::from_pkcs8(crate::ids::alnum(24), der.as_ref().to_vec())
    }

    fn from_pkcs8(kid: String, pkcs8: Vec<u8>) -> Result<Self, CryptoError> {
        let pair = KeyPair::from_pkcs8(&pkcs8).map_err(|_| CryptoError)?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        Ok(Self {
            kid,
            pair,
            pkcs8,
            n,
            e,
        })
    }
}

/// How a key is written to a state file: its kid and its private key as base64
/// (standard alphabet) PKCS#8 DER.
#[derive(Serialize, Deserialize)]
struct StoredKey {
    kid: String,
    pkcs8: String,
}

impl Serialize for SigningKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredKey {
            kid: self.kid.clone(),
            pkcs8: STANDARD.encode(&self.pkcs8),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for SigningKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let stored = StoredKey::deserialize(d)?;
        let der = STANDARD
            .decode(&stored.pkcs8)
            .map_err(|_| D::Error::custom(format!("key {}: pkcs8 is not base64", stored.kid)))?;
        let kid = stored.kid;
        Self::from_pkcs8(kid.clone(), der)
            .map_err(|_| D::Error::custom(format!("key {kid}: pkcs8 is not an RSA private key")))
    }
}

/// The first key of each vendor set, generated once per process: RSA key generation is
/// the slow part of starting an emulator (most of a second in a debug build), and tests
/// start many. Emulators in one process thus share their initial keys; their issuers
/// still differ (by port), and keys made by a rotation are always fresh.
fn initial_key(index: usize) -> Result<SigningKey, CryptoError> {
    /// `(kid, PKCS#8 DER)` per vendor.
    type Initial = Result<Vec<(String, Vec<u8>)>, CryptoError>;
    static INITIAL: OnceLock<Initial> = OnceLock::new();
    let keys = INITIAL.get_or_init(|| {
        // One set per vendor, then the SSO issuer's.
        (0..=crate::state::SSO_KEY_INDEX)
            .map(|_| {
                let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError)?;
                let der = pair.as_der().map_err(|_| CryptoError)?;
                Ok((crate::ids::alnum(24), der.as_ref().to_vec()))
            })
            .collect()
    });
    let (kid, der) = keys
        .as_ref()
        .map_err(|_| CryptoError)?
        .get(index)
        .ok_or(CryptoError)?;
    SigningKey::from_pkcs8(kid.clone(), der.clone())
}

/// The keys of one vendor: the newest signs, every older one stays published so tokens
/// signed before a rotation keep verifying (as at every vendor during a rollover).
/// In a state file: the list of keys, oldest first.
#[derive(Deserialize)]
#[serde(try_from = "Vec<SigningKey>")]
pub(crate) struct KeySet {
    keys: Vec<SigningKey>,
}

impl Serialize for KeySet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.keys.serialize(s)
    }
}

impl TryFrom<Vec<SigningKey>> for KeySet {
    type Error = String;
    fn try_from(keys: Vec<SigningKey>) -> Result<Self, Self::Error> {
        if keys.is_empty() || keys.len() > MAX_KEYS {
            return Err(format!("a key set holds 1 to {MAX_KEYS} keys"));
        }
        Ok(Self { keys })
    }
}

/// How many keys a set keeps published; a rotation past this drops the oldest.
const MAX_KEYS: usize = 4;

impl KeySet {
    /// A fresh set holding one newly generated key.
    #[cfg(test)]
    pub(crate) fn generate() -> Result<Self, CryptoError> {
        Ok(Self {
            keys: vec![SigningKey::generate()?],
        })
    }

    /// The set a new emulator starts with for the vendor at `index` (see [`initial_key`]).
    pub(crate) fn initial(index: usize) -> Result<Self, CryptoError> {
        Ok(Self {
            keys: vec![initial_key(index)?],
        })
    }

    /// Makes a new key the signer and returns its kid.
    pub(crate) fn rotate(&mut self) -> Result<String, CryptoError> {
        let key = SigningKey::generate()?;
        let kid = key.kid.clone();
        self.keys.push(key);
        if self.keys.len() > MAX_KEYS {
            self.keys.remove(0);
        }
        Ok(kid)
    }

    pub(crate) fn current_kid(&self) -> &str {
        self.keys.last().map(|k| k.kid.as_str()).unwrap_or_default()
    }

    /// The JWKS document, newest key first (vendors list the active key first).
    pub(crate) fn jwks(&self, extra: &Map<String, Value>) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .rev()
            .map(|k| {
                let mut jwk = json!({
                    "kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid, "n": k.n, "e": k.e,
                });
                if let Some(obj) = jwk.as_object_mut() {
                    for (name, value) in extra {
                        obj.insert(name.clone(), value.clone());
                    }
                }
                jwk
            })
            .collect();
        json!({ "keys": keys })
    }

    /// Signs `claims` as an RS256 JWS with the current key. `extra_header` adds header
    /// fields some vendors send (Entra's `x5t`, Okta's `typ`).
    pub(crate) fn sign(
        &self,
        claims: &Value,
        extra_header: &[(&str, Value)],
    ) -> Result<String, CryptoError> {
        let key = self.keys.last().ok_or(CryptoError)?;
        let mut header = json!({ "alg": "RS256", "typ": "JWT", "kid": key.kid });
        if let Some(obj) = header.as_object_mut() {
            for (name, value) in extra_header {
                obj.insert((*name).to_string(), value.clone());
            }
        }
        let header = serde_json::to_vec(&header).map_err(|_| CryptoError)?;
        let claims = serde_json::to_vec(claims).map_err(|_| CryptoError)?;
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut sig = vec![0u8; key.pair.public_modulus_len()];
        key.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| CryptoError)?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }

    /// Checks an RS256 JWS against every published key (by `kid`) and returns its claims.
    /// Expiry, issuer and audience are the caller's business: each vendor answers them
    /// with its own error.
    pub(crate) fn verify(&self, token: &str) -> Option<Value> {
        if token.len() > 16 * 1024 {
            return None;
        }
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
        if header.get("alg")?.as_str()? != "RS256" {
            return None;
        }
        let kid = header.get("kid")?.as_str()?;
        let key = self.keys.iter().find(|k| k.kid == kid)?;
        let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
        let public = UnparsedPublicKey::new(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            key.pair.public_key().as_ref(),
        );
        public.verify(format!("{h}.{c}").as_bytes(), &sig).ok()?;
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
        claims.is_object().then_some(claims)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn signs_verifies_and_keeps_old_keys_after_rotation() {
        let mut set = KeySet::generate().unwrap();
        let old = set.sign(&json!({"sub": "a"}), &[]).unwrap();
        set.rotate().unwrap();
        let new = set.sign(&json!({"sub": "b"}), &[]).unwrap();
        assert_eq!(set.verify(&old).unwrap()["sub"], "a");
        assert_eq!(set.verify(&new).unwrap()["sub"], "b");
        let mut tampered = new.clone();
        tampered.push('A');
        assert!(set.verify(&tampered).is_none());
        assert!(set.verify("a.b").is_none());
        assert_eq!(set.jwks(&Map::new())["keys"].as_array().unwrap().len(), 2);
    }
}
