//! Client assertions (`private_key_jwt`: RFC 7523 section 2.2, OpenID Connect Core
//! section 9): a JWT the client signs with its private key and sends instead of a
//! secret, `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer`.
//!
//! Okta's claims for a service app
//! (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/#create-and-sign-the-jwt):
//! `iss` and `sub` the client id, `aud` the full URL of the token endpoint called,
//! `exp` at most an hour ahead, `jti` optional but used against replays; the header's
//! `kid` names the app's public key (Okta refuses a missing or unknown one with
//! "The client_assertion JWT kid is invalid." when it needs one,
//! https://support.okta.com/help/s/article/okta-client-assertion-error-invalid-key-id).
//! dcr signs a fresh assertion for every token request: a new `jti`, `exp` four minutes
//! ahead (short, and inside the five minutes some servers allow at most).

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

/// How long an assertion is valid: long enough for a clock a little behind Okta's.
const LIFETIME_SECS: i64 = 240;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A private key that signs client assertions, with the algorithm its type implies:
/// RSA signs RS256, EC P-256 signs ES256.
pub struct AssertionKey {
    alg: Algorithm,
    key: EncodingKey,
}

impl std::fmt::Debug for AssertionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AssertionKey({:?})", self.alg)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// The PEM's label, `PRIVATE KEY` in `-----BEGIN PRIVATE KEY-----`.
fn label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    rest.find("-----").map(|end| &rest[..end])
}

impl AssertionKey {
    /// Reads a PEM private key: PKCS#8 (`PRIVATE KEY`) RSA or EC P-256, or PKCS#1
    /// (`RSA PRIVATE KEY`), and checks that it signs. The error says what is wrong,
    /// never what the key holds.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let key = Self::parse(pem)?;
        // A key that parses may still not sign (an EC key on another curve than P-256).
        key.sign("probe", "https://probe.invalid/token", None, Utc::now())
            .map_err(|_| match key.alg {
                Algorithm::ES256 => "must be an EC key on the P-256 curve (ES256)".to_owned(),
                _ => "is not a usable RSA private key".to_owned(),
            })?;
        Ok(key)
    }

    /// Reads a PEM private key without trying it (`from_pem` checked it when it was set).
    pub(super) fn parse(pem: &str) -> Result<Self, String> {
        let pem = pem.trim();
        let parsed = EncodingKey::from_rsa_pem(pem.as_bytes())
            .map(|key| (Algorithm::RS256, key))
            .or_else(|_| EncodingKey::from_ec_pem(pem.as_bytes()).map(|k| (Algorithm::ES256, k)));
        let Ok((alg, key)) = parsed else {
            return Err(match label(pem) {
                None => "must be a PEM private key (-----BEGIN PRIVATE KEY-----)".into(),
                Some(l) if l.contains("PUBLIC KEY") || l == "CERTIFICATE" => {
                    "is a public key or certificate: give the private key (the public key \
                     is what Okta holds)"
                        .into()
                }
                Some("EC PRIVATE KEY") => {
                    "is an EC key in SEC 1 form: give it as PKCS#8 (`openssl pkcs8 -topk8 \
                     -nocrypt -in key.pem`)"
                        .into()
                }
                Some(l) if l.contains("ENCRYPTED") => {
                    "is encrypted: give the key without a passphrase".into()
                }
                Some(_) => "must be an RSA or EC P-256 private key in PEM".into(),
            });
        };
        Ok(Self { alg, key })
    }

    /// `RS256` or `ES256`.
    pub fn alg_name(&self) -> &'static str {
        match self.alg {
            Algorithm::ES256 => "ES256",
            _ => "RS256",
        }
    }

    /// A fresh assertion for `client_id` at `audience` (the token endpoint's URL).
    pub fn sign(
        &self,
        client_id: &str,
        audience: &str,
        key_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(self.alg);
        header.kid = key_id.map(str::to_owned);
        let iat = now.timestamp();
        let claims = Claims {
            iss: client_id,
            sub: client_id,
            aud: audience,
            iat,
            exp: iat + LIFETIME_SECS,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::idp::test_keys;

    fn claims_and_header(jwt: &str) -> (serde_json::Value, serde_json::Value) {
        use base64::Engine as _;
        let part = |i: usize| {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(jwt.split('.').nth(i).unwrap())
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap()
        };
        (part(1), part(0))
    }

    #[test]
    fn rsa_and_p256_keys_sign_the_claims_okta_asks_for() {
        let now = Utc::now();
        for (pem, alg) in [
            (test_keys::rsa_pkcs8(), "RS256"),
            (test_keys::p256_pkcs8(), "ES256"),
        ] {
            let key = AssertionKey::from_pem(&pem).unwrap();
            assert_eq!(key.alg_name(), alg);
            let one = key
                .sign("0oa1", "https://org/oauth2/v1/token", Some("k1"), now)
                .unwrap();
            let two = key
                .sign("0oa1", "https://org/oauth2/v1/token", None, now)
                .unwrap();
            let (claims, header) = claims_and_header(&one);
            assert_eq!(header["alg"], alg);
            assert_eq!(header["kid"], "k1");
            assert_eq!(claims["iss"], "0oa1");
            assert_eq!(claims["sub"], "0oa1");
            assert_eq!(claims["aud"], "https://org/oauth2/v1/token");
            assert_eq!(claims["iat"], now.timestamp());
            let exp = claims["exp"].as_i64().unwrap();
            assert!(
                exp > now.timestamp() && exp <= now.timestamp() + 300,
                "{exp}"
            );
            let (other, header) = claims_and_header(&two);
            assert!(header.get("kid").is_none());
            assert_ne!(claims["jti"], other["jti"], "a fresh jti per assertion");
        }
    }

    #[test]
    fn other_keys_are_refused_with_what_to_do() {
        let refused = |pem: &str| AssertionKey::from_pem(pem).unwrap_err();
        assert!(refused("not a key").contains("PEM private key"));
        assert!(
            refused("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----")
                .contains("public key")
        );
        assert!(
            refused("-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----")
                .contains("PKCS#8")
        );
        assert!(refused(&test_keys::p384_pkcs8()).contains("P-256"));
    }
}
