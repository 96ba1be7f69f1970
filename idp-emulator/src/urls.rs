//! Every URL the emulator serves, derived from the root it listens on. The vendor is the
//! first path segment, so each vendor has its own issuer on one listener.

use crate::seed::ENTRA_TENANT_ID;

/// URLs of one running emulator. `root` is e.g. `http://127.0.0.1:41234` (no trailing slash).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Urls {
    pub root: String,
}

impl Urls {
    pub fn new(root: &str) -> Self {
        Self {
            root: root.trim_end_matches('/').to_string(),
        }
    }

    // --- Auth0 -------------------------------------------------------------------------

    /// Tenant base, the equivalent of `https://TENANT.auth0.com`.
    pub fn auth0_base(&self) -> String {
        format!("{}/auth0", self.root)
    }
    /// `{root}/auth0/`: Auth0 issuers end with a slash.
    pub fn auth0_issuer(&self) -> String {
        format!("{}/auth0/", self.root)
    }
    pub fn auth0_token(&self) -> String {
        format!("{}/auth0/oauth/token", self.root)
    }
    pub fn auth0_jwks(&self) -> String {
        format!("{}/auth0/.well-known/jwks.json", self.root)
    }
    /// The Management API audience, `{root}/auth0/api/v2/`, which is also its base URL.
    pub fn auth0_management_audience(&self) -> String {
        format!("{}/auth0/api/v2/", self.root)
    }

    // --- Okta --------------------------------------------------------------------------

    /// Org base, the equivalent of `https://ORG.okta.com`.
    pub fn okta_org(&self) -> String {
        format!("{}/okta", self.root)
    }
    /// The `default` custom authorization server.
    pub fn okta_issuer(&self) -> String {
        format!("{}/okta/oauth2/default", self.root)
    }
    pub fn okta_token(&self) -> String {
        format!("{}/okta/oauth2/default/v1/token", self.root)
    }
    pub fn okta_introspect(&self) -> String {
        format!("{}/okta/oauth2/default/v1/introspect", self.root)
    }
    pub fn okta_jwks(&self) -> String {
        format!("{}/okta/oauth2/default/v1/keys", self.root)
    }
    /// The org authorization server's token endpoint, where service apps get tokens with
    /// Okta API scopes (and the `aud` their client assertions must name).
    pub fn okta_org_token(&self) -> String {
        format!("{}/okta/oauth2/v1/token", self.root)
    }
    /// The org-level Dynamic Client Registration endpoint.
    pub fn okta_clients(&self) -> String {
        format!("{}/okta/oauth2/v1/clients", self.root)
    }
    /// `{org}/api/v1/apps/{app_id}/credentials/secrets`.
    pub fn okta_secrets(&self, app_id: &str) -> String {
        format!(
            "{}/okta/api/v1/apps/{app_id}/credentials/secrets",
            self.root
        )
    }

    // --- Curity ------------------------------------------------------------------------

    pub fn curity_issuer(&self) -> String {
        format!("{}/curity/oauth/v2/oauth-anonymous", self.root)
    }
    pub fn curity_token(&self) -> String {
        format!("{}/curity/oauth/v2/oauth-token", self.root)
    }
    pub fn curity_jwks(&self) -> String {
        format!("{}/curity/oauth/v2/oauth-anonymous/jwks", self.root)
    }
    pub fn curity_introspect(&self) -> String {
        format!("{}/curity/oauth/v2/oauth-introspect", self.root)
    }
    pub fn curity_registration(&self) -> String {
        format!("{}/curity/token-service/oauth-registration", self.root)
    }

    // --- Microsoft Entra ID ------------------------------------------------------------

    /// `{root}/entra/{tenant}`, the equivalent of `https://login.microsoftonline.com/{tenant}`.
    pub fn entra_login(&self) -> String {
        format!("{}/entra/{ENTRA_TENANT_ID}", self.root)
    }
    pub fn entra_v2_issuer(&self) -> String {
        format!("{}/entra/{ENTRA_TENANT_ID}/v2.0", self.root)
    }
    /// Issuer of v1.0 tokens, the equivalent of `https://sts.windows.net/{tenant}/`.
    pub fn entra_v1_issuer(&self) -> String {
        format!("{}/entra/sts/{ENTRA_TENANT_ID}/", self.root)
    }
    pub fn entra_v2_token(&self) -> String {
        format!("{}/entra/{ENTRA_TENANT_ID}/oauth2/v2.0/token", self.root)
    }
    pub fn entra_v1_token(&self) -> String {
        format!("{}/entra/{ENTRA_TENANT_ID}/oauth2/token", self.root)
    }
    pub fn entra_jwks(&self) -> String {
        format!("{}/entra/{ENTRA_TENANT_ID}/discovery/v2.0/keys", self.root)
    }
    /// The Microsoft Graph resource (token audience), the equivalent of
    /// `https://graph.microsoft.com`.
    pub fn graph_resource(&self) -> String {
        format!("{}/graph", self.root)
    }
    /// Graph v1.0 base, e.g. `{root}/graph/v1.0/applications`.
    pub fn graph_v1(&self) -> String {
        format!("{}/graph/v1.0", self.root)
    }

    // --- SSO: people sign in (the emulator's own OpenID provider) ----------------------

    /// `{root}/sso`: the issuer people sign in at (`dcrctl login`, `dcrctl dev`).
    pub fn sso_issuer(&self) -> String {
        format!("{}/sso", self.root)
    }
    pub fn sso_authorize(&self) -> String {
        format!("{}/sso/authorize", self.root)
    }
    pub fn sso_token(&self) -> String {
        format!("{}/sso/token", self.root)
    }
    pub fn sso_jwks(&self) -> String {
        format!("{}/sso/jwks", self.root)
    }
    pub fn sso_userinfo(&self) -> String {
        format!("{}/sso/userinfo", self.root)
    }
    pub fn sso_revoke(&self) -> String {
        format!("{}/sso/revoke", self.root)
    }
}
