//! The identity provider over HTTP: its metadata (OpenID Connect Discovery 1.0), the
//! token endpoint (RFC 6749 sections 4.1.3 and 6) and the revocation endpoint (RFC 7009).
//! Tokens go only to https URLs, or plain http on loopback (`dcrctl dev`, tests).

use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use serde_json::Value;
use url::{Host, Url};

use super::LoginError;

/// What dcrctl needs of the provider's metadata.
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

/// An HTTP client for the provider: timeouts, no redirects (a token endpoint that
/// redirects is misconfigured, and a redirect could carry the form elsewhere), and
/// `DCR_TLS_CA_FILE` trusted next to the system roots.
pub fn client() -> Result<reqwest::Client, LoginError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(file) = std::env::var_os("DCR_TLS_CA_FILE").filter(|f| !f.is_empty()) {
        let pem = std::fs::read(&file).map_err(|e| {
            LoginError::Store(format!(
                "cannot read DCR_TLS_CA_FILE {}: {e}",
                std::path::Path::new(&file).display()
            ))
        })?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            LoginError::Store(format!("DCR_TLS_CA_FILE holds no PEM certificates: {e}"))
        })? {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| LoginError::Store(format!("cannot make an HTTP client: {e}")))
}

/// `url`, if dcrctl may send tokens there: https, or http to a loopback host.
pub fn checked_url(what: &'static str, url: &str) -> Result<Url, LoginError> {
    let insecure = || LoginError::Insecure {
        what,
        url: url.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|_| insecure())?;
    let loopback = match parsed.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(insecure()),
    }
}

/// The provider's metadata at `{issuer}/.well-known/openid-configuration`, which must
/// name the same issuer (Discovery section 4.3) and allow PKCE with S256.
pub async fn discover(http: &reqwest::Client, issuer: &str) -> Result<Metadata, LoginError> {
    checked_url("the issuer", issuer)?;
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let failed = |problem: String| LoginError::provider(issuer, problem);
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
    let endpoint = |name: &'static str| -> Result<String, LoginError> {
        let url =
            text(name).ok_or_else(|| failed(format!("its discovery document has no {name}")))?;
        checked_url(name, &url)?;
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
        Some(url) => Some(checked_url("revocation_endpoint", &url).map(|_| url)?),
        None => None,
    };
    Ok(Metadata {
        issuer: issuer.to_owned(),
        authorization_endpoint: endpoint("authorization_endpoint")?,
        token_endpoint: endpoint("token_endpoint")?,
        revocation_endpoint,
    })
}

/// The root cause of an HTTP failure, for a message (never a URL with a token in it:
/// dcrctl's requests carry tokens only in bodies).
fn cause(e: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

/// POSTs `form` to the token endpoint; `step` names the grant in messages.
pub async fn token_request(
    http: &reqwest::Client,
    endpoint: &str,
    step: &'static str,
    form: &[(&str, &str)],
) -> Result<Tokens, LoginError> {
    checked_url("token_endpoint", endpoint)?;
    let failed = |problem: String| LoginError::provider(endpoint, problem);
    let response = http
        .post(endpoint)
        .form(form)
        .send()
        .await
        .map_err(|e| failed(format!("the {step} could not be sent ({})", cause(&e))))?;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    if !status.is_success() {
        return Err(match text("error") {
            // RFC 6749 section 5.2.
            Some(error) => LoginError::Refused {
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

/// Revokes `token` (a refresh token) at `endpoint` as the public client `client_id`
/// (RFC 7009); the provider answers 200 whether or not it knew the token.
pub async fn revoke(
    endpoint: &str,
    client_id: &str,
    token: &SecretString,
) -> Result<(), LoginError> {
    checked_url("revocation_endpoint", endpoint)?;
    let failed = |problem: String| LoginError::provider(endpoint, problem);
    let response = client()?
        .post(endpoint)
        .form(&[
            ("token", token.expose_secret()),
            ("token_type_hint", "refresh_token"),
            ("client_id", client_id),
        ])
        .send()
        .await
        .map_err(|e| failed(format!("the revocation could not be sent ({})", cause(&e))))?;
    if response.status().is_success() {
        Ok(())
    } else {
        Err(failed(format!("the revocation got {}", response.status())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_to_https_or_loopback_only() {
        assert!(checked_url("x", "https://login.example.com/oauth2").is_ok());
        assert!(checked_url("x", "http://127.0.0.1:9000/sso").is_ok());
        assert!(checked_url("x", "http://[::1]:9000/sso").is_ok());
        assert!(checked_url("x", "http://localhost:9000/sso").is_ok());
        assert!(checked_url("x", "http://login.example.com/oauth2").is_err());
        assert!(checked_url("x", "ftp://127.0.0.1/").is_err());
        assert!(checked_url("x", "not a url").is_err());
    }
}
