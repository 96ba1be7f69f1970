//! People: who signed in through the organisation's identity provider, and the roles
//! their groups grant. The machine callers (static tokens, `auth::Role`) are the other
//! kind of caller.

use std::fmt;

/// What a person may do in dcr. Every signed-in person is a `Developer` (of their own
/// applications); groups at the identity provider grant the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PersonRole {
    /// Everything an admin token may do.
    Admin,
    /// Providers and auth strategies.
    ProviderAdmin,
    /// Registrations: list, approve, reject; and the audit log.
    Approver,
    /// Every admin read, no change.
    Viewer,
    /// Their own applications, credentials and registrations.
    Developer,
}

impl PersonRole {
    pub const ALL: [PersonRole; 5] = [
        Self::Admin,
        Self::ProviderAdmin,
        Self::Approver,
        Self::Viewer,
        Self::Developer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::ProviderAdmin => "provider-admin",
            Self::Approver => "approver",
            Self::Viewer => "viewer",
            Self::Developer => "developer",
        }
    }
}

impl fmt::Display for PersonRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A person proven by a verified access token of the configured identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub issuer: String,
    pub subject: String,
    /// The developer id their applications are owned by: a verified claim (`sub` by
    /// default), never a header.
    pub developer_id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Always holds `Developer`; sorted, most powerful first.
    pub roles: Vec<PersonRole>,
}

impl Person {
    /// How the audit log names this person: stable across name and email changes.
    pub fn audit_name(&self) -> String {
        format!("person:{}#{}", self.issuer, self.subject)
    }

    /// The first of `allowed` this person holds: the role a call is made with.
    pub fn role_for(&self, allowed: &[PersonRole]) -> Option<PersonRole> {
        self.roles.iter().copied().find(|r| allowed.contains(r))
    }
}
