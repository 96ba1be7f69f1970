//! Opaque access tokens: RFC 7662 introspection at the IdP, through token-svc (the only
//! service that calls IdPs). An active answer becomes a `Verified` like a JWT's claims, so
//! the credential claim, audience and scopes are judged by the same code; an inactive
//! answer or another issuer is `invalid_token`; anything else fails closed.

use chrono::{DateTime, Utc};
use dcr_proto::token::v1 as tok;
use serde_json::{Map, Value};

use crate::tokens::TokenClient;
use crate::verify::{Rejected, Verified};

/// An active token without `exp` is trusted (and cached) this long before asking again.
const WITHOUT_EXPIRY: i64 = 60;

/// A JWS compact serialization has exactly three dot-separated parts; anything else is
/// treated as an opaque token.
pub fn is_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

pub async fn introspect(
    tokens: &TokenClient,
    provider_id: &str,
    token: &str,
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<Verified, Rejected> {
    let request = tok::IntrospectTokenRequest {
        provider_id: provider_id.to_owned(),
        token: token.to_owned(),
    };
    let answer = match tokens.introspect(request).await {
        Ok(answer) => answer,
        Err(status) => {
            return Err(match status.code() {
                tonic::Code::FailedPrecondition => Rejected::NotNow(
                    "opaque tokens cannot be validated: the provider's introspection client \
                     is missing or refused by the identity provider",
                ),
                tonic::Code::InvalidArgument => Rejected::Invalid("the token is malformed"),
                _ => Rejected::Unavailable("token introspection"),
            });
        }
    };
    judge(answer, issuer, now)
}

fn judge(
    answer: tok::IntrospectTokenResponse,
    issuer: &str,
    now: DateTime<Utc>,
) -> Result<Verified, Rejected> {
    if !answer.active {
        return Err(Rejected::Invalid("the token is not active"));
    }
    if !answer.iss.is_empty() && answer.iss != issuer {
        return Err(Rejected::Invalid("the token was issued by another issuer"));
    }
    let claims: Map<String, Value> = serde_json::from_str(&answer.claims_json)
        .map_err(|_| Rejected::Unavailable("token introspection"))?;
    let expires = if answer.exp > 0 {
        answer.exp
    } else {
        now.timestamp() + WITHOUT_EXPIRY
    };
    if expires <= now.timestamp() {
        return Err(Rejected::Invalid("the token has expired"));
    }
    Ok(Verified::from_claims(claims, expires))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::panic)]
    use super::*;

    fn active(claims: &str) -> tok::IntrospectTokenResponse {
        let value: Value = serde_json::from_str(claims).unwrap_or_default();
        tok::IntrospectTokenResponse {
            active: true,
            iss: value["iss"].as_str().unwrap_or_default().to_owned(),
            exp: value["exp"].as_i64().unwrap_or(0),
            claims_json: claims.to_owned(),
            ..Default::default()
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap_or_default()
    }

    #[test]
    fn three_parts_make_a_jwt_anything_else_is_opaque() {
        assert!(is_jwt("a.b.c"));
        assert!(!is_jwt("opaque-token_value"));
        assert!(!is_jwt("a.b"));
        assert!(!is_jwt("a.b.c.d.e"));
    }

    #[test]
    fn an_active_answer_is_read_like_jwt_claims() {
        let v = judge(
            active(
                r#"{"active":true,"iss":"https://idp","exp":2000,"client_id":"c1","aud":"https://api","scope":"read write","iat":900}"#,
            ),
            "https://idp",
            at(1000),
        );
        let Ok(v) = v else {
            panic!("denied: {v:?}");
        };
        assert_eq!(v.client_id(&["client_id".into()]).as_deref(), Some("c1"));
        assert_eq!(v.audiences, vec!["https://api"]);
        assert_eq!(v.scopes, vec!["read", "write"]);
        assert_eq!((v.expires, v.issued), (2000, Some(900)));
    }

    #[test]
    fn inactive_foreign_or_expired_answers_are_invalid() {
        let inactive = tok::IntrospectTokenResponse::default();
        assert_eq!(
            judge(inactive, "https://idp", at(1000)).err(),
            Some(Rejected::Invalid("the token is not active"))
        );
        let foreign = active(r#"{"active":true,"iss":"https://other","exp":2000}"#);
        assert!(matches!(
            judge(foreign, "https://idp", at(1000)),
            Err(Rejected::Invalid(_))
        ));
        let expired = active(r#"{"active":true,"exp":999}"#);
        assert!(matches!(
            judge(expired, "https://idp", at(1000)),
            Err(Rejected::Invalid(_))
        ));
    }

    #[test]
    fn an_answer_without_exp_is_trusted_for_a_minute() {
        let v = judge(active(r#"{"active":true}"#), "https://idp", at(1000));
        assert_eq!(v.map(|v| v.expires).ok(), Some(1060));
    }
}
