//! Who is calling the token and revocation endpoints. A public client names itself with
//! `client_id` in the body and presents no secret; a confidential client authenticates
//! with HTTP Basic only (`client_secret_basic`, RFC 6749 section 2.3.1: the id and secret
//! form-urlencoded, then joined by `:`). Everything else is `invalid_client` with 401 and
//! `WWW-Authenticate: Basic` (section 5.2): a secret in the body (`client_secret_post`
//! is not offered, so a client cannot drift into it), a public client sending a secret, a
//! confidential one sending none, an unknown client or a wrong secret (those two alike).

use std::collections::BTreeMap;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::issue::oauth_error;
use super::{Directory, LoginClient};
use crate::http::basic_auth;

/// The `WWW-Authenticate` challenge of every `invalid_client` answer.
const CHALLENGE: &str = "Basic realm=\"sso\", charset=\"UTF-8\"";

/// 401 `invalid_client` with the Basic challenge.
pub(super) fn refused(description: &str) -> Response {
    let mut resp = oauth_error("invalid_client", description);
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(CHALLENGE),
    );
    resp
}

/// Whether `given` is `expected`, in time that depends on neither: both are hashed first,
/// so not even the length of the stored secret shows.
fn secret_matches(expected: &str, given: &str) -> bool {
    let (a, b) = (Sha256::digest(expected), Sha256::digest(given));
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

/// The authenticated client of a token or revocation request.
pub(super) fn authenticate<'a>(
    sso: &'a Directory,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
) -> Result<&'a LoginClient, Response> {
    if params.contains_key("client_secret") {
        return Err(refused(
            "client_secret in the body (client_secret_post) is not accepted: a confidential client authenticates with HTTP Basic (client_secret_basic), a public one sends no secret",
        ));
    }
    let body_id = params.get("client_id").map(String::as_str);
    if headers.contains_key(header::AUTHORIZATION) {
        let Some((id, secret)) = basic_auth(headers) else {
            return Err(refused(
                "the Authorization header is not HTTP Basic with the form-urlencoded client_id:client_secret",
            ));
        };
        if body_id.is_some_and(|b| b != id) {
            return Err(refused(
                "client_id in the body is not the one in the Authorization header",
            ));
        }
        let client = sso.client(&id);
        return match client.map(|c| (c, c.client_secret.as_deref())) {
            Some((c, None)) => Err(refused(&format!(
                "client {:?} is public: send client_id in the body and no secret",
                c.client_id
            ))),
            Some((c, Some(expected))) if secret_matches(expected, &secret) => Ok(c),
            // An unknown client and a wrong secret get the same answer.
            _ => Err(refused(
                "client authentication failed (unknown client or wrong secret)",
            )),
        };
    }
    let Some(client) = body_id.and_then(|id| sso.client(id)) else {
        return Err(refused("unknown client"));
    };
    if client.client_secret.is_some() {
        return Err(refused(&format!(
            "client {:?} is confidential: authenticate with HTTP Basic (client_secret_basic)",
            client.client_id
        )));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_match_exactly() {
        assert!(secret_matches("s3cret-value", "s3cret-value"));
        assert!(!secret_matches("s3cret-value", "s3cret-valuE"));
        assert!(!secret_matches("s3cret-value", "s3cret-value "));
        assert!(!secret_matches("s3cret-value", ""));
    }
}
