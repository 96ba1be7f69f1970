//! The tokens a sign-in gets: a JWT access token (RFC 9068) for the grant's audience and,
//! with `openid`, an ID token (OpenID Connect Core section 2) for the client. Both carry
//! the person as they are now, so a changed group shows at the next refresh.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::{Person, TOKEN_TTL};
use crate::http::json;
use crate::keys::{CryptoError, KeySet};

/// What a token response is about.
pub(super) struct Issue<'a> {
    pub issuer: &'a str,
    pub person: &'a Person,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub audience: &'a str,
    /// Only at the code exchange: the authorization request's nonce.
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    pub now: i64,
}

impl Issue<'_> {
    fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    fn access_claims(&self) -> Value {
        json!({
            "iss": self.issuer,
            "sub": self.person.login,
            "aud": self.audience,
            "iat": self.now,
            "exp": self.now + TOKEN_TTL,
            "auth_time": self.auth_time,
            "jti": crate::ids::guid(),
            "client_id": self.client_id,
            "scope": self.scopes.join(" "),
            "groups": self.person.groups,
            "name": self.person.name,
            "email": self.person.email,
        })
    }

    fn id_claims(&self) -> Value {
        let mut claims = json!({
            "iss": self.issuer,
            "sub": self.person.login,
            "aud": self.client_id,
            "iat": self.now,
            "exp": self.now + TOKEN_TTL,
            "auth_time": self.auth_time,
        });
        let mut add = |name: &str, value: Value| {
            if let Some(obj) = claims.as_object_mut() {
                obj.insert(name.to_owned(), value);
            }
        };
        if let Some(nonce) = self.nonce {
            add("nonce", json!(nonce));
        }
        if self.has("profile") {
            add("name", json!(self.person.name));
            add("preferred_username", json!(self.person.login));
        }
        if self.has("email") {
            add("email", json!(self.person.email));
            add("email_verified", json!(true));
        }
        if self.has("groups") {
            add("groups", json!(self.person.groups));
        }
        claims
    }

    /// The token endpoint's 200: access token, ID token with `openid`, the refresh token
    /// when there is one, with `Cache-Control: no-store` (RFC 6749 section 5.1).
    pub fn response(
        &self,
        keys: &KeySet,
        refresh_token: Option<&str>,
    ) -> Result<Response, CryptoError> {
        let access = keys.sign(&self.access_claims(), &[("typ", json!("at+jwt"))])?;
        let mut body = json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL,
            "scope": self.scopes.join(" "),
        });
        if self.has("openid") {
            body["id_token"] = json!(keys.sign(&self.id_claims(), &[])?);
        }
        if let Some(refresh) = refresh_token {
            body["refresh_token"] = json!(refresh);
        }
        Ok(no_store(json(StatusCode::OK, body)))
    }
}

/// Token responses and errors are never cached (RFC 6749 section 5.1).
pub(super) fn no_store(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

/// An RFC 6749 section 5.2 error: 400, or 401 for `invalid_client`.
pub(super) fn oauth_error(error: &str, description: &str) -> Response {
    let status = if error == "invalid_client" {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    no_store(json(
        status,
        json!({ "error": error, "error_description": description }),
    ))
}
