//! The JWT rules every dcr service verifies access tokens by (RFC 9068 profile, RFC 8725
//! practices): authz-svc for the tokens gateways present, registry-svc for people's
//! sign-in tokens. The key comes from the issuer's JWKS by `kid`; the algorithm must be
//! one the key's type allows (so no `none`, no HMAC); `iss` must match exactly;
//! `exp`/`nbf` are checked against the caller's clock with a small leeway; `typ`, when
//! present, must be a JWT type. Audience and what the claims grant are the caller's to
//! judge.

use std::collections::HashMap;
use std::sync::Arc;

pub use jsonwebtoken::Header;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value};

/// A public key from a JWKS and the algorithms it may verify.
pub struct VerifyKey {
    pub key: DecodingKey,
    pub algorithms: Vec<Algorithm>,
}

/// The algorithms a key may verify follow from its own type (RFC 8725 section 3.1): RSA
/// keys RS*/PS*, P-256 ES256, P-384 ES384, Ed25519 EdDSA; symmetric keys never (a public
/// JWKS must not hold them, and HMAC with a public key is the classic confusion attack).
/// A key that names its algorithm verifies that one only; an encryption key none.
pub fn key_algorithms(jwk: &Jwk) -> Vec<Algorithm> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return Vec::new();
    }
    let by_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => vec![
            Algorithm::RS256,
            Algorithm::RS384,
            Algorithm::RS512,
            Algorithm::PS256,
            Algorithm::PS384,
            Algorithm::PS512,
        ],
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => vec![Algorithm::ES256],
            EllipticCurve::P384 => vec![Algorithm::ES384],
            _ => Vec::new(),
        },
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            vec![Algorithm::EdDSA]
        }
        _ => Vec::new(),
    };
    match &jwk.common.key_algorithm {
        Some(named) => by_type.into_iter().filter(|a| same(*a, *named)).collect(),
        None => by_type,
    }
}

fn same(a: Algorithm, k: KeyAlgorithm) -> bool {
    format!("{a:?}") == format!("{k:?}")
}

/// An issuer's signing keys, by `kid`.
#[derive(Default)]
pub struct JwkKeys {
    by_kid: HashMap<String, Arc<VerifyKey>>,
    /// Keys published without a kid (used only for tokens without one).
    unnamed: Vec<Arc<VerifyKey>>,
}

impl JwkKeys {
    /// The usable signing keys of a JWKS document; None when it is not one. Keys of a
    /// type dcr does not verify with are left out.
    pub fn parse(jwks_json: &str) -> Option<Self> {
        let set: JwkSet = serde_json::from_str(jwks_json).ok()?;
        let mut keys = Self::default();
        for jwk in &set.keys {
            let algorithms = key_algorithms(jwk);
            if algorithms.is_empty() {
                continue;
            }
            let Ok(key) = DecodingKey::from_jwk(jwk) else {
                continue;
            };
            let key = Arc::new(VerifyKey { key, algorithms });
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_kid.insert(kid.clone(), key);
                }
                None => keys.unnamed.push(key),
            }
        }
        Some(keys)
    }

    /// The key for a token's `kid`; a token without one only when the set has exactly
    /// one key, so nothing is guessed.
    pub fn pick(&self, kid: Option<&str>) -> Option<Arc<VerifyKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid).cloned(),
            None if self.unnamed.len() + self.by_kid.len() == 1 => self
                .unnamed
                .first()
                .or_else(|| self.by_kid.values().next())
                .cloned(),
            None => None,
        }
    }
}

/// Why a token is refused; `as_str` is the reason said to callers and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtError {
    Malformed,
    NotAccessToken,
    AlgorithmNotAllowed,
    BadSignature,
    OtherIssuer,
    NoExpiry,
    Expired,
    /// Not the token's fault for good: it may pass later.
    NotYetValid,
}

impl JwtError {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "the token is not a well-formed JWT",
            Self::NotAccessToken => "the token is not a JWT access token",
            Self::AlgorithmNotAllowed => "the token's algorithm is not allowed for its key",
            Self::BadSignature => "the token's signature does not verify",
            Self::OtherIssuer => "the token was issued by another issuer",
            Self::NoExpiry => "the token has no expiry",
            Self::Expired => "the token has expired",
            Self::NotYetValid => "the token is not valid yet",
        }
    }
}

impl std::fmt::Display for JwtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for JwtError {}

/// The `typ` values an access token may carry (lower case; compared ignoring case).
pub const ACCESS_TOKEN_TYPES: [&str; 4] =
    ["jwt", "at+jwt", "application/at+jwt", "application/jwt"];

/// The header of what claims to be a JWT access token: its `typ`, when present, must be
/// a JWT type (an ID token or a logout token is not an access token).
pub fn access_token_header(token: &str) -> Result<Header, JwtError> {
    let header = decode_header(token).map_err(|_| JwtError::Malformed)?;
    if let Some(typ) = &header.typ {
        let typ = typ.to_ascii_lowercase();
        if !ACCESS_TOKEN_TYPES.contains(&typ.as_str()) {
            return Err(JwtError::NotAccessToken);
        }
    }
    Ok(header)
}

/// A token whose signature, issuer and lifetime were verified: its claims and `exp`.
pub fn verify_with_key(
    token: &str,
    header: &Header,
    key: &VerifyKey,
    issuer: &str,
    now: i64,
    leeway_seconds: i64,
) -> Result<(Map<String, Value>, i64), JwtError> {
    if !key.algorithms.contains(&header.alg) {
        return Err(JwtError::AlgorithmNotAllowed);
    }
    let mut validation = Validation::new(header.alg);
    // Time is judged below with the caller's clock; audience by the caller.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = decode::<Map<String, Value>>(token, &key.key, &validation)
        .map_err(|_| JwtError::BadSignature)?
        .claims;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(JwtError::OtherIssuer);
    }
    let expires = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(JwtError::NoExpiry)?;
    if expires + leeway_seconds <= now {
        return Err(JwtError::Expired);
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
        && nbf - leeway_seconds > now
    {
        return Err(JwtError::NotYetValid);
    }
    Ok((claims, expires))
}

/// A claim that is a string or a list of strings (`aud`, `scp`, `groups`), as a list;
/// a string is split at `separator` (`'\0'` for none).
pub fn string_or_list(value: Option<&Value>, separator: char) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s
            .split(separator)
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn jwk(json: serde_json::Value) -> Jwk {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn algorithms_follow_the_key_type() {
        let rsa = jwk(serde_json::json!({"kty": "RSA", "n": "sXch", "e": "AQAB"}));
        assert!(key_algorithms(&rsa).contains(&Algorithm::RS256));
        assert!(!key_algorithms(&rsa).contains(&Algorithm::HS256));
        let named =
            jwk(serde_json::json!({"kty": "RSA", "n": "sXch", "e": "AQAB", "alg": "PS256"}));
        assert_eq!(key_algorithms(&named), [Algorithm::PS256]);
        let ec = jwk(serde_json::json!({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}));
        assert_eq!(key_algorithms(&ec), [Algorithm::ES256]);
        let hmac = jwk(serde_json::json!({"kty": "oct", "k": "c2VjcmV0"}));
        assert!(
            key_algorithms(&hmac).is_empty(),
            "symmetric keys never verify"
        );
        let enc = jwk(serde_json::json!({"kty": "RSA", "n": "sXch", "e": "AQAB", "use": "enc"}));
        assert!(key_algorithms(&enc).is_empty());
    }
}
