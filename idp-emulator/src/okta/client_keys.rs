//! The public keys a service app registers for `private_key_jwt` (a JWKS of RSA and EC
//! P-256 keys, as Okta's Admin Console and Apps API take them), key pairs generated the
//! way the Admin Console's "Generate new key" hands them out (the private key once, as
//! PKCS#8 PEM; Okta keeps only the public key), and the check of a client assertion's
//! signature against them. Signatures are checked with aws-lc-rs directly: dcr signs
//! with jsonwebtoken, so the two implementations check each other.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    self, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::keys::CryptoError;

/// One registered public key, as a JWK (`kty` RSA with `n`, `e`; or EC P-256 with `x`,
/// `y`). Other JWK members (`alg`, `use`, `status`) are accepted and not kept.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub(crate) enum PublicKey {
    #[serde(rename = "RSA")]
    Rsa {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kid: Option<String>,
        n: String,
        e: String,
    },
    #[serde(rename = "EC")]
    Ec {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kid: Option<String>,
        crv: String,
        x: String,
        y: String,
    },
}

impl PublicKey {
    pub fn kid(&self) -> Option<&str> {
        match self {
            PublicKey::Rsa { kid, .. } | PublicKey::Ec { kid, .. } => kid.as_deref(),
        }
    }

    /// The JWS algorithm this key verifies.
    pub fn alg(&self) -> &'static str {
        match self {
            PublicKey::Rsa { .. } => "RS256",
            PublicKey::Ec { .. } => "ES256",
        }
    }

    /// Why the key cannot be registered, if it cannot (Okta takes RSA keys of 2048 bits
    /// or more and EC keys on P-256, P-384 and P-521; the emulator checks P-256 only).
    pub fn problem(&self) -> Option<&'static str> {
        let decoded = |v: &str| URL_SAFE_NO_PAD.decode(v).ok();
        match self {
            PublicKey::Rsa { n, e, .. } => match (decoded(n), decoded(e)) {
                (Some(n), Some(e)) if n.len() >= 256 && !e.is_empty() => None,
                (Some(_), Some(_)) => Some("RSA keys must be at least 2048 bits"),
                _ => Some("n and e must be base64url"),
            },
            PublicKey::Ec { crv, x, y, .. } => match (crv.as_str(), decoded(x), decoded(y)) {
                ("P-256", Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => None,
                ("P-256", _, _) => Some("x and y must be 32 bytes, base64url"),
                _ => Some("the emulator checks EC keys on P-256 only"),
            },
        }
    }

    /// The public JWK with the members Okta lists (`alg`, `use`).
    pub fn jwk(&self) -> Value {
        let mut jwk = json!(self);
        jwk["alg"] = json!(self.alg());
        jwk["use"] = json!("sig");
        jwk
    }

    /// True when `signature` over `input` verifies with this key under `alg`.
    pub fn verifies(&self, alg: &str, input: &[u8], signature: &[u8]) -> bool {
        let decoded = |v: &str| URL_SAFE_NO_PAD.decode(v).ok();
        match (self, alg) {
            (PublicKey::Rsa { n, e, .. }, "RS256") => {
                let (Some(n), Some(e)) = (decoded(n), decoded(e)) else {
                    return false;
                };
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, signature)
                    .is_ok()
            }
            (PublicKey::Ec { x, y, .. }, "ES256") => {
                let (Some(x), Some(y)) = (decoded(x), decoded(y)) else {
                    return false;
                };
                let point = [&[0x04][..], &x, &y].concat();
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}

fn pem(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

/// A new key pair of `kty` (`RSA`, 2048 bits, or `EC`, P-256) whose public key carries
/// `kid`: the public key, and the private key as PKCS#8 PEM.
pub fn generate(kty: &str, kid: String) -> Result<(PublicKey, String), CryptoError> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match kty {
        "EC" => {
            let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| CryptoError)?;
            let point = pair.public_key().as_ref();
            let (x, y) = point.get(1..33).zip(point.get(33..65)).ok_or(CryptoError)?;
            let private = pair.to_pkcs8v1().map_err(|_| CryptoError)?;
            let key = PublicKey::Ec {
                kid: Some(kid),
                crv: "P-256".into(),
                x: b64(x),
                y: b64(y),
            };
            Ok((key, pem(private.as_ref())))
        }
        _ => {
            let pair = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| CryptoError)?;
            let public = pair.public_key();
            let key = PublicKey::Rsa {
                kid: Some(kid),
                n: b64(public.modulus().big_endian_without_leading_zero()),
                e: b64(public.exponent().big_endian_without_leading_zero()),
            };
            let private = pair.as_der().map_err(|_| CryptoError)?;
            Ok((key, pem(private.as_ref())))
        }
    }
}
