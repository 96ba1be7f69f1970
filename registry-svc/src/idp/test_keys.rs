//! Private keys for unit tests, generated per process (never kept in the tree), as PEM.

#![allow(clippy::expect_used)]

use std::sync::OnceLock;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
    EcdsaSigningAlgorithm,
};
use base64::Engine as _;

fn pem(label: &str, der: &[u8]) -> String {
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .filter_map(|c| std::str::from_utf8(c).ok())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// An RSA-2048 key, PKCS#8 (what Okta's "Generate new key" hands out); one per process,
/// RSA generation being slow.
pub fn rsa_pkcs8() -> String {
    static KEY: OnceLock<String> = OnceLock::new();
    KEY.get_or_init(|| {
        let pair =
            aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA key");
        pem("PRIVATE KEY", pair.as_der().expect("PKCS#8").as_ref())
    })
    .clone()
}

fn ec(alg: &'static EcdsaSigningAlgorithm) -> String {
    let pair = EcdsaKeyPair::generate(alg).expect("EC key");
    pem("PRIVATE KEY", pair.to_pkcs8v1().expect("PKCS#8").as_ref())
}

pub fn p256_pkcs8() -> String {
    ec(&ECDSA_P256_SHA256_FIXED_SIGNING)
}

pub fn p384_pkcs8() -> String {
    ec(&ECDSA_P384_SHA384_FIXED_SIGNING)
}
