//! JWT access token verification by dcr's shared rules (`dcr_common::jwt`: key by `kid`
//! from the issuer's JWKS, algorithms the key's type allows, exact `iss`, `exp`/`nbf`
//! against the injected clock, a JWT `typ`). Audience, scopes and the client id are read
//! here and judged per product by `check.rs`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use dcr_common::jwt::{self, JwtError, string_or_list};
use serde_json::{Map, Value};

use crate::keys::{KeyError, KeyRing};

/// A token whose signature, issuer and lifetime were verified.
#[derive(Debug, Clone)]
pub struct Verified {
    pub claims: Map<String, Value>,
    pub audiences: Vec<String>,
    pub scopes: Vec<String>,
    pub expires: i64,
    pub issued: Option<i64>,
}

impl Verified {
    /// Audience, scopes (`scope` string or `scp` list) and `iat` read from trusted claims.
    pub fn from_claims(claims: Map<String, Value>, expires: i64) -> Self {
        let mut scopes = string_or_list(claims.get("scope"), ' ');
        scopes.extend(string_or_list(claims.get("scp"), ' '));
        Self {
            audiences: string_or_list(claims.get("aud"), '\u{0}'),
            issued: claims.get("iat").and_then(Value::as_i64),
            expires,
            scopes,
            claims,
        }
    }

    /// The first of `claims` present as a string: the client id.
    pub fn client_id(&self, claims: &[String]) -> Option<String> {
        claims.iter().find_map(|c| {
            self.claims
                .get(c)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    }

    /// Whether the token is `client_id`'s own. Where the token names the client it was
    /// issued to (`ISSUED_TO_CLAIMS`), every such claim must name this client: with `sub`
    /// as the credential claim (Curity's default), a person's token whose subject happens
    /// to equal a client id would otherwise pass as that client. Without an audience to
    /// check (`audience_checked` false), the token must name its client: then nothing
    /// else ties it to dcr's clients.
    pub fn issued_to(&self, client_id: &str, audience_checked: bool) -> Result<(), &'static str> {
        // On every check (also for cached tokens), so without allocating.
        let mut named = ISSUED_TO_CLAIMS
            .iter()
            .filter_map(|c| self.claims.get(*c).and_then(Value::as_str))
            .peekable();
        let names_a_client = named.peek().is_some();
        if named.any(|c| c != client_id) {
            return Err("the token was issued to another client");
        }
        if !names_a_client && !audience_checked {
            return Err(
                "no audience is set for this product, and the token does not name the client it was issued to",
            );
        }
        Ok(())
    }
}

/// Where IdPs name the client a token was issued to: `client_id` (RFC 9068, RFC 7662),
/// `azp` (OpenID Connect; Auth0, Entra v2), `cid` (Okta), `appid` (Entra v1).
pub const ISSUED_TO_CLAIMS: [&str; 4] = ["client_id", "azp", "cid", "appid"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// The token is bad for good: remembered for a while, so it costs no work again.
    #[error("{0}")]
    Invalid(&'static str),
    /// Refused now, but the same token may pass later (a key the issuer has not published
    /// yet, `nbf` in the future, a provider that cannot introspect until an admin adds its
    /// introspection client): never remembered.
    #[error("{0}")]
    NotNow(&'static str),
    /// What the check needs (the issuer's keys, the introspection endpoint) could not be
    /// had: not the token's fault, and no reason to allow. Names what is unavailable.
    #[error("{0} is unavailable")]
    Unavailable(&'static str),
}

pub async fn verify(
    token: &str,
    issuer: &str,
    keys: &KeyRing,
    now: DateTime<Utc>,
    leeway: Duration,
) -> Result<Verified, Rejected> {
    let header = jwt::access_token_header(token).map_err(rejected)?;
    let key = keys
        .key(issuer, header.kid.as_deref())
        .await
        .map_err(|e| match e {
            KeyError::UnknownKey => Rejected::NotNow("the token's signing key is unknown"),
            KeyError::Unavailable => Rejected::Unavailable("the issuer's keys"),
        })?;
    let leeway = i64::try_from(leeway.as_secs()).unwrap_or(0);
    let (claims, expires) =
        jwt::verify_with_key(token, &header, &key, issuer, now.timestamp(), leeway)
            .map_err(rejected)?;
    Ok(Verified::from_claims(claims, expires))
}

/// The shared rules' refusal, remembered unless the token may pass later.
fn rejected(error: JwtError) -> Rejected {
    match error {
        JwtError::NotYetValid => Rejected::NotNow(error.as_str()),
        _ => Rejected::Invalid(error.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(claims: Value) -> Verified {
        let Value::Object(claims) = claims else {
            unreachable!("an object")
        };
        Verified::from_claims(claims, 0)
    }

    #[test]
    fn a_token_passes_only_as_the_client_it_was_issued_to() {
        // A client's own token, as each vendor shapes it.
        for own in [
            serde_json::json!({"sub": "app-1", "client_id": "app-1"}), // RFC 9068, Curity
            serde_json::json!({"sub": "app-1@clients", "azp": "app-1"}), // Auth0
            serde_json::json!({"sub": "app-1", "cid": "app-1"}),       // Okta
            serde_json::json!({"sub": "x", "appid": "app-1"}),         // Entra v1
        ] {
            assert_eq!(token(own.clone()).issued_to("app-1", true), Ok(()), "{own}");
            assert_eq!(
                token(own.clone()).issued_to("app-1", false),
                Ok(()),
                "{own}"
            );
        }
        // A person's token whose subject equals a client id, issued to another client.
        let person = token(serde_json::json!({"sub": "app-1", "client_id": "portal"}));
        assert_eq!(
            person.issued_to("app-1", true),
            Err("the token was issued to another client")
        );
        // Naming no client is acceptable only where the audience was checked.
        let anonymous = token(serde_json::json!({"sub": "app-1"}));
        assert_eq!(anonymous.issued_to("app-1", true), Ok(()));
        assert!(anonymous.issued_to("app-1", false).is_err());
    }
}
