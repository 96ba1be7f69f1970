//! SSO identity settings: the one identity provider whose access tokens sign people in,
//! and which of its groups grant which role. Unset `DCR_IDENTITY_ISSUER`: no people, only
//! the static machine tokens.

use dcr_common::config::{self, ConfigError};
use dcr_common::person::PersonRole;
use dcr_common::url_policy::{UrlPolicy, idp_url};

/// The group names that grant each role when the variable is unset.
pub mod defaults {
    pub const ROLES_CLAIM: &str = "groups";
    pub const DEVELOPER_CLAIM: &str = "sub";
    pub const ADMIN_GROUPS: &str = "dcr-admins";
    pub const PROVIDER_ADMIN_GROUPS: &str = "dcr-provider-admins";
    pub const APPROVER_GROUPS: &str = "dcr-approvers";
    pub const VIEWER_GROUPS: &str = "dcr-viewers";
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityConfig {
    /// DCR_IDENTITY_ISSUER: tokens' `iss`, exactly; its discovery document names the keys.
    pub issuer: String,
    /// DCR_IDENTITY_AUDIENCE: a token must name it in `aud`.
    pub audience: String,
    /// DCR_IDENTITY_ROLES_CLAIM (default `groups`): a list (or space-separated string)
    /// of group names.
    pub roles_claim: String,
    /// DCR_IDENTITY_DEVELOPER_CLAIM (default `sub`): whose applications a person owns.
    pub developer_claim: String,
    /// DCR_IDENTITY_{ADMIN,PROVIDER_ADMIN,APPROVER,VIEWER}_GROUPS (comma-separated).
    pub role_groups: Vec<(PersonRole, Vec<String>)>,
    /// Whether plain http is allowed for the issuer (loopback in tests and `dcrctl dev`).
    pub url_policy: UrlPolicy,
}

impl IdentityConfig {
    /// None when DCR_IDENTITY_ISSUER is unset; the audience is then required.
    pub fn from_env(url_policy: UrlPolicy) -> Result<Option<Self>, ConfigError> {
        let Some(issuer) = config::optional("DCR_IDENTITY_ISSUER") else {
            return Ok(None);
        };
        let audience = config::required("DCR_IDENTITY_AUDIENCE")?;
        let text = |var: &'static str, default: &str| {
            config::optional(var).unwrap_or_else(|| default.to_owned())
        };
        let groups = |var: &'static str, default: &str| -> Vec<String> {
            text(var, default)
                .split(',')
                .map(str::trim)
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect()
        };
        Self::new(
            issuer,
            audience,
            text("DCR_IDENTITY_ROLES_CLAIM", defaults::ROLES_CLAIM),
            text("DCR_IDENTITY_DEVELOPER_CLAIM", defaults::DEVELOPER_CLAIM),
            vec![
                (
                    PersonRole::Admin,
                    groups("DCR_IDENTITY_ADMIN_GROUPS", defaults::ADMIN_GROUPS),
                ),
                (
                    PersonRole::ProviderAdmin,
                    groups(
                        "DCR_IDENTITY_PROVIDER_ADMIN_GROUPS",
                        defaults::PROVIDER_ADMIN_GROUPS,
                    ),
                ),
                (
                    PersonRole::Approver,
                    groups("DCR_IDENTITY_APPROVER_GROUPS", defaults::APPROVER_GROUPS),
                ),
                (
                    PersonRole::Viewer,
                    groups("DCR_IDENTITY_VIEWER_GROUPS", defaults::VIEWER_GROUPS),
                ),
            ],
            url_policy,
        )
        .map(Some)
    }

    /// Checked settings; the default group names for every role.
    pub fn new(
        issuer: String,
        audience: String,
        roles_claim: String,
        developer_claim: String,
        role_groups: Vec<(PersonRole, Vec<String>)>,
        url_policy: UrlPolicy,
    ) -> Result<Self, ConfigError> {
        idp_url(&issuer, url_policy).map_err(|e| ConfigError::new("DCR_IDENTITY_ISSUER", e))?;
        if audience.trim().is_empty() {
            return Err(ConfigError::new(
                "DCR_IDENTITY_AUDIENCE",
                "must not be empty",
            ));
        }
        Ok(Self {
            issuer,
            audience,
            roles_claim,
            developer_claim,
            role_groups,
            url_policy,
        })
    }

    /// Settings with the default claims and group names (tests, `dcrctl dev`).
    pub fn with_defaults(
        issuer: String,
        audience: String,
        url_policy: UrlPolicy,
    ) -> Result<Self, ConfigError> {
        let group = |name: &str| vec![name.to_owned()];
        Self::new(
            issuer,
            audience,
            defaults::ROLES_CLAIM.to_owned(),
            defaults::DEVELOPER_CLAIM.to_owned(),
            vec![
                (PersonRole::Admin, group(defaults::ADMIN_GROUPS)),
                (
                    PersonRole::ProviderAdmin,
                    group(defaults::PROVIDER_ADMIN_GROUPS),
                ),
                (PersonRole::Approver, group(defaults::APPROVER_GROUPS)),
                (PersonRole::Viewer, group(defaults::VIEWER_GROUPS)),
            ],
            url_policy,
        )
    }

    /// The roles a person with `groups` holds: always Developer, plus each role one of
    /// whose groups they are in; most powerful first.
    pub fn roles(&self, groups: &[String]) -> Vec<PersonRole> {
        let mut roles: Vec<PersonRole> = self
            .role_groups
            .iter()
            .filter(|(_, names)| names.iter().any(|n| groups.contains(n)))
            .map(|(role, _)| *role)
            .collect();
        roles.push(PersonRole::Developer);
        roles.sort();
        roles.dedup();
        roles
    }
}
