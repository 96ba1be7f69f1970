//! dcrctl's settings for the identity provider over HTTP (`dcr_common::oidc`): a person's
//! tokens go to https URLs, or plain http on loopback only (`dcrctl dev`, tests).

use dcr_common::url_policy::UrlPolicy;

use super::LoginError;

/// https everywhere; plain http only to 127.0.0.1, [::1] and localhost.
pub const POLICY: UrlPolicy = UrlPolicy {
    allow_http_loopback: true,
    allow_http_hosts: &[],
};

/// An HTTP client for the provider, trusting `DCR_TLS_CA_FILE` next to the system roots.
pub fn client() -> Result<reqwest::Client, LoginError> {
    let ca = std::env::var_os("DCR_TLS_CA_FILE").filter(|f| !f.is_empty());
    dcr_common::oidc::http_client(ca.as_deref().map(std::path::Path::new))
        .map_err(LoginError::Store)
}

/// Revokes `token` (a refresh token) at `endpoint` as the public client `client_id`
/// (RFC 7009).
pub async fn revoke(
    endpoint: &str,
    client_id: &str,
    token: &secrecy::SecretString,
) -> Result<(), LoginError> {
    let http = client()?;
    let auth = dcr_common::oidc::ClientAuth::Public { client_id };
    Ok(dcr_common::oidc::revoke(&http, endpoint, POLICY, auth, token).await?)
}
