//! A confidential web client, the Dev Portal's kind, at either identity provider of the
//! tests: the oidc-provider peer (`--web-client`, [`oidc_provider_with_web_client`]) or the
//! emulator's `/sso` (registered with `POST /__emulator/sso/clients`). It authenticates
//! with HTTP Basic (`client_secret_basic`) and its redirect URIs match exactly. The pieces
//! a test that plays the portal needs: PKCE, the authorization URL, the code exchange.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use url::Url;

use crate::peers::{Peer, oidc_provider_with};
use crate::people::{SignedIn, token_request};

/// A confidential web client: id, secret, redirect URIs (matched exactly).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebClient {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uris: Vec<String>,
}

impl WebClient {
    pub fn new(client_id: &str, client_secret: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            redirect_uris: vec![redirect_uri.to_owned()],
        }
    }

    /// `{"client_id", "client_secret", "redirect_uris"}`: the peer's `--web-client` value,
    /// and (with a `name`) the body of the emulator's `POST /__emulator/sso/clients`.
    pub fn to_json(&self) -> Value {
        json!({
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.redirect_uris,
        })
    }

    /// The `Authorization` header value of `client_secret_basic`: RFC 6749 section 2.3.1
    /// form-urlencodes the id and the secret before joining them with `:`.
    pub fn basic_authorization(&self) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", enc(&self.client_id), enc(&self.client_secret));
        format!("Basic {}", STANDARD.encode(pair))
    }
}

/// The oidc-provider peer with `people` (as for [`crate::people::oidc_provider_with_people`])
/// and the confidential web client `client` (`--web-client`, see the peer's README).
pub async fn oidc_provider_with_web_client(people: Value, client: &WebClient) -> Peer {
    let people = people.to_string();
    let client = client.to_json().to_string();
    oidc_provider_with(&["--people", &people, "--web-client", &client]).await
}

/// A PKCE pair (RFC 7636): a fresh verifier and its S256 challenge.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        // 64 characters of [0-9a-f]: within the 43..128 unreserved characters allowed.
        Self::from_verifier(format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        ))
    }

    pub fn from_verifier(verifier: String) -> Self {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// An authorization request of the code flow with PKCE S256.
pub struct AuthorizationRequest<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce: &'a Pkce,
    /// RFC 8707: the resource the access token is for (a JWT at the peer).
    pub resource: Option<&'a str>,
}

impl AuthorizationRequest<'_> {
    /// The URL to open in a browser: `authorization_endpoint` with the parameters.
    pub fn url(&self, authorization_endpoint: &str) -> Result<Url, url::ParseError> {
        let mut url = Url::parse(authorization_endpoint)?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("client_id", self.client_id)
                .append_pair("response_type", "code")
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("scope", self.scope)
                .append_pair("state", self.state)
                .append_pair("nonce", self.nonce)
                .append_pair("code_challenge", &self.pkce.challenge)
                .append_pair("code_challenge_method", "S256");
            if let Some(resource) = self.resource {
                query.append_pair("resource", resource);
            }
        }
        Ok(url)
    }
}

/// Exchanges `code` at `token_endpoint` as `client` (HTTP Basic), with the PKCE verifier
/// and, when given, `resource` again (the peer then issues a JWT for it). `Err` names the
/// status and body of a refusal.
pub async fn exchange_code(
    token_endpoint: &str,
    client: &WebClient,
    code: &str,
    redirect_uri: &str,
    pkce: &Pkce,
    resource: Option<&str>,
) -> Result<SignedIn, String> {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    if let Some(resource) = resource {
        form.push(("resource", resource));
    }
    token_request(token_endpoint, "code exchange", &form, Some(client)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urlencoded_first() {
        let client = WebClient::new("dcr portal", "a+b/c%d:e", "http://127.0.0.1:1/cb");
        let header = client.basic_authorization();
        let decoded = STANDARD
            .decode(header.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "dcr+portal:a%2Bb%2Fc%25d%3Ae"
        );
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into());
        assert_eq!(
            pkce.challenge,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let fresh = Pkce::new();
        assert_eq!(fresh.verifier.len(), 64);
        assert_ne!(fresh.verifier, Pkce::new().verifier);
    }
}
