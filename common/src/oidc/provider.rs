//! The identity provider over HTTP: its metadata (OpenID Connect Discovery 1.0), the
//! authorization request (RFC 6749 section 4.1.1 with PKCE, RFC 7636), the token endpoint
//! (sections 4.1.3 and 6), the revocation endpoint (RFC 7009), and the ID token's claims.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use url::Url;

use super::{OidcError, OneTime};
use crate::url_policy::{UrlPolicy, idp_url};

/// What a sign-in needs of the provider's metadata.
#[derive(Debug, Clone)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub revocation_endpoint: Option<String>,
}

/// What a token endpoint answered.
pub struct Tokens {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<SecretString>,
    pub expires_in: Option<i64>,
}

/// How the client authenticates at the token and revocation endpoints.
#[derive(Clone, Copy)]
pub enum ClientAuth<'a> {
    /// A public client (RFC 6749 section 2.1): its id in the body, no secret; PKCE is
    /// what protects its code.
    Public { client_id: &'a str },
    /// A confidential client with `client_secret_basic` (section 2.3.1), the method every
    /// provider must support.
    Basic {
        client_id: &'a str,
        secret: &'a SecretString,
    },
}

impl ClientAuth<'_> {
    pub fn client_id(&self) -> &str {
        match self {
            Self::Public { client_id } | Self::Basic { client_id, .. } => client_id,
        }
    }

    fn apply(
        &self,
        request: reqwest::RequestBuilder,
        form: &mut Vec<(&str, String)>,
    ) -> reqwest::RequestBuilder {
        match self {
            Self::Public { client_id } => {
                form.push(("client_id", (*client_id).to_owned()));
                request
            }
            // Section 2.3.1: both parts form-urlencoded before they are joined.
            Self::Basic { client_id, secret } => request.basic_auth(
                form_encode(client_id),
                Some(form_encode(secret.expose_secret())),
            ),
        }
    }
}

fn form_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// An HTTP client for the provider: timeouts, no redirects (a token endpoint that
/// redirects is misconfigured, and a redirect could carry the form elsewhere), and the
/// PEM certificates in `ca_file` trusted next to the system roots.
pub fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(file) = ca_file {
        let pem = std::fs::read(file)
            .map_err(|e| format!("cannot read DCR_TLS_CA_FILE {}: {e}", file.display()))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("DCR_TLS_CA_FILE holds no PEM certificates: {e}"))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| format!("cannot make an HTTP client: {e}"))
}

/// `url`, if a person's tokens may be sent there under `policy`.
pub fn checked_url(what: &'static str, url: &str, policy: UrlPolicy) -> Result<Url, OidcError> {
    idp_url(url, policy).map_err(|reason| OidcError::Insecure {
        what,
        url: url.to_owned(),
        reason,
    })
}

/// The parameters that ask for tokens meant for `audience`: `audience` (Auth0 and others),
/// and `resource` (RFC 8707) when it is an absolute URI.
pub fn audience_params(audience: Option<&str>) -> Vec<(&'static str, String)> {
    let Some(audience) = audience.filter(|a| !a.is_empty()) else {
        return Vec::new();
    };
    let mut params = vec![("audience", audience.to_owned())];
    if Url::parse(audience).is_ok_and(|u| u.fragment().is_none()) {
        params.push(("resource", audience.to_owned()));
    }
    params
}

/// The provider's metadata at `{issuer}/.well-known/openid-configuration`, which must
/// name the same issuer (Discovery section 4.3) and allow PKCE with S256.
pub async fn discover(
    http: &reqwest::Client,
    issuer: &str,
    policy: UrlPolicy,
) -> Result<Metadata, OidcError> {
    checked_url("the issuer", issuer, policy)?;
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let failed = |problem: String| OidcError::provider(issuer, problem);
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| failed(format!("cannot reach {url} ({})", cause(&e))))?;
    let status = response.status();
    if !status.is_success() {
        return Err(failed(format!("{url} answered {status}")));
    }
    let doc: Value = response
        .json()
        .await
        .map_err(|_| failed(format!("{url} is not a JSON document")))?;
    let text = |name: &str| doc.get(name).and_then(Value::as_str).map(str::to_owned);
    if text("issuer").as_deref() != Some(issuer) {
        return Err(failed(format!(
            "its discovery document names the issuer {}, not {issuer:?}",
            doc.get("issuer").unwrap_or(&Value::Null)
        )));
    }
    let endpoint = |name: &'static str| -> Result<String, OidcError> {
        let url =
            text(name).ok_or_else(|| failed(format!("its discovery document has no {name}")))?;
        checked_url(name, &url, policy)?;
        Ok(url)
    };
    if let Some(methods) = doc
        .get("code_challenge_methods_supported")
        .and_then(Value::as_array)
        && !methods.iter().any(|m| m.as_str() == Some("S256"))
    {
        return Err(failed(
            "it does not offer PKCE with S256 (code_challenge_methods_supported)".into(),
        ));
    }
    let revocation_endpoint = match text("revocation_endpoint") {
        Some(url) => Some(checked_url("revocation_endpoint", &url, policy).map(|_| url)?),
        None => None,
    };
    Ok(Metadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: endpoint("authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")?,
        revocation_endpoint,
    })
}

/// One authorization request (RFC 6749 section 4.1.1, PKCE S256, OpenID `nonce`).
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub audience: Option<&'a str>,
}

impl AuthorizationRequest<'_> {
    /// The address to send the person's browser to.
    pub fn url(&self, meta: &Metadata, one: &OneTime, policy: UrlPolicy) -> Result<Url, OidcError> {
        let mut url = checked_url(
            "authorization_endpoint",
            &meta.authorization_endpoint,
            policy,
        )?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("scope", self.scope)
                .append_pair("state", &one.state)
                .append_pair("nonce", &one.nonce)
                .append_pair("code_challenge", &one.challenge)
                .append_pair("code_challenge_method", "S256");
            for (name, value) in audience_params(self.audience) {
                query.append_pair(name, &value);
            }
        }
        Ok(url)
    }
}

/// The root cause of an HTTP failure, for a message (never a URL with a token in it:
/// requests carry tokens only in bodies and headers).
fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// POSTs `form` to the token endpoint as `client`; `step` names the grant in messages.
pub async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    policy: UrlPolicy,
    client: ClientAuth<'_>,
    step: &'static str,
    form: &[(&str, &str)],
) -> Result<Tokens, OidcError> {
    checked_url("token_endpoint", endpoint, policy)?;
    let failed = |problem: String| OidcError::provider(endpoint, problem);
    let mut body: Vec<(&str, String)> = form.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    let request = client.apply(http.post(endpoint), &mut body);
    let response = request
        .form(&body)
        .send()
        .await
        .map_err(|e| failed(format!("the {step} could not be sent ({})", cause(&e))))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    if !status.is_success() {
        return Err(match text("error") {
            // RFC 6749 section 5.2.
            Some(error) => OidcError::Refused {
                step,
                error,
                description: text("error_description"),
            },
            None => failed(format!("the {step} got {status}")),
        });
    }
    let bearer = text("token_type").is_some_and(|t| t.eq_ignore_ascii_case("bearer"));
    let access = text("access_token").filter(|t| !t.is_empty());
    let (Some(access), true) = (access, bearer) else {
        return Err(failed(format!(
            "the {step} answer has no Bearer access_token"
        )));
    };
    Ok(Tokens {
        access_token: SecretString::from(access),
        refresh_token: text("refresh_token").map(SecretString::from),
        id_token: text("id_token").map(SecretString::from),
        expires_in: body.get("expires_in").and_then(Value::as_i64),
    })
}

/// Revokes `token` (a refresh token) at `endpoint` (RFC 7009); the provider answers 200
/// whether or not it knew the token.
pub async fn revoke(
    http: &reqwest::Client,
    endpoint: &str,
    policy: UrlPolicy,
    client: ClientAuth<'_>,
    token: &SecretString,
) -> Result<(), OidcError> {
    checked_url("revocation_endpoint", endpoint, policy)?;
    let failed = |problem: String| OidcError::provider(endpoint, problem);
    let mut body = vec![
        ("token", token.expose_secret().to_owned()),
        ("token_type_hint", "refresh_token".to_owned()),
    ];
    let request = client.apply(http.post(endpoint), &mut body);
    let response = request
        .form(&body)
        .send()
        .await
        .map_err(|e| failed(format!("the revocation could not be sent ({})", cause(&e))))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(failed(format!("the revocation got {}", response.status())))
    }
}

/// The claims of a JWT, unverified: for display and routing only, never for a decision
/// (registry-svc verifies every token it is sent).
pub fn jwt_payload(jwt: &str) -> Option<Value> {
    let part = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

/// Who signed in: the ID token's claims once `iss`, `aud` and `nonce` match this sign-in
/// (OpenID Connect Core 3.1.3.7; the token came straight from the token endpoint over TLS,
/// which section 3.1.3.7 item 6 accepts in place of its signature); without an ID token (no
/// `openid` scope), what the access token says if it is a JWT.
pub fn id_token_claims(
    tokens: &Tokens,
    issuer: &str,
    client_id: &str,
    nonce: &str,
) -> Result<Value, OidcError> {
    let Some(id_token) = &tokens.id_token else {
        return Ok(jwt_payload(tokens.access_token.expose_secret()).unwrap_or(Value::Null));
    };
    let claims = jwt_payload(id_token.expose_secret()).ok_or(OidcError::IdToken("is not a JWT"))?;
    if claims["iss"].as_str() != Some(issuer) {
        return Err(OidcError::IdToken("is from another issuer"));
    }
    let for_us = match &claims["aud"] {
        Value::String(aud) => aud == client_id,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !for_us {
        return Err(OidcError::IdToken("is for another client"));
    }
    if claims["nonce"].as_str() != Some(nonce) {
        return Err(OidcError::IdToken("does not carry this sign-in's nonce"));
    }
    Ok(claims)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const LOOPBACK: UrlPolicy = UrlPolicy {
        allow_http_loopback: true,
        allow_http_hosts: &[],
    };

    #[test]
    fn tokens_go_to_https_or_allowed_http_only() {
        assert!(checked_url("x", "https://login.example.com/oauth2", LOOPBACK).is_ok());
        assert!(checked_url("x", "http://127.0.0.1:9000/sso", LOOPBACK).is_ok());
        assert!(checked_url("x", "http://[::1]:9000/sso", LOOPBACK).is_ok());
        assert!(checked_url("x", "http://localhost:9000/sso", LOOPBACK).is_ok());
        assert!(checked_url("x", "http://login.example.com/oauth2", LOOPBACK).is_err());
        assert!(checked_url("x", "ftp://127.0.0.1/", LOOPBACK).is_err());
        assert!(checked_url("x", "not a url", LOOPBACK).is_err());
        let strict = UrlPolicy {
            allow_http_loopback: false,
            allow_http_hosts: &[],
        };
        assert!(checked_url("x", "http://127.0.0.1:9000/sso", strict).is_err());
    }

    #[test]
    fn audiences_go_as_audience_and_as_a_resource_when_a_uri() {
        assert!(audience_params(None).is_empty());
        assert_eq!(
            audience_params(Some("api://dcr")),
            vec![
                ("audience", "api://dcr".to_owned()),
                ("resource", "api://dcr".to_owned())
            ]
        );
        assert_eq!(
            audience_params(Some("dcr")),
            vec![("audience", "dcr".to_owned())]
        );
    }

    #[test]
    fn payloads_are_read_from_jwts_only() {
        let body = URL_SAFE_NO_PAD.encode(br#"{"sub":"alice"}"#);
        assert_eq!(
            jwt_payload(&format!("e30.{body}.x")).unwrap()["sub"],
            "alice"
        );
        assert!(jwt_payload("opaque-token").is_none());
    }
}
