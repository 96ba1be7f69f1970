//! Credentials that exist from the start, so a test (or an adapter under test) can reach
//! each vendor's management API without seeding anything first.

/// Client id of the Auth0 management (machine-to-machine) application.
pub const AUTH0_MGMT_CLIENT_ID: &str = "EmuAuth0MgmtClient00000000000001";
/// Its client secret.
pub const AUTH0_MGMT_CLIENT_SECRET: &str =
    "emu-auth0-mgmt-secret-000000000000000000000000000000000000000001";
/// The Management API scopes granted to the management application.
pub const AUTH0_MGMT_SCOPES: &[&str] = &[
    "read:clients",
    "create:clients",
    "update:clients",
    "delete:clients",
    "read:client_keys",
    "update:client_keys",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "delete:client_grants",
];

/// An Okta API token (`Authorization: SSWS <token>`) with super-admin rights.
pub const OKTA_API_TOKEN: &str = "00EmuOktaApiToken0000000000000000000000001";

/// Client id of the Curity client allowed to obtain the `dcr` scope.
pub const CURITY_INITIAL_CLIENT_ID: &str = "emu-curity-dcr-client";
/// Its client secret.
pub const CURITY_INITIAL_CLIENT_SECRET: &str = "emu-curity-dcr-secret-0000000000000001";

/// The Entra tenant (directory) id every Entra URL uses.
pub const ENTRA_TENANT_ID: &str = "4c0ffee0-5eed-4b1d-9c2a-0e1a2b3c4d5e";
/// Application (client) id of the Entra app granted `Application.ReadWrite.OwnedBy` on Graph.
pub const ENTRA_INITIAL_CLIENT_ID: &str = "0e5ad00d-1c1e-4e6f-8a7b-3c2d1e0f9a8b";
/// One of its client secrets (a password credential that expires in 2 years).
pub const ENTRA_INITIAL_CLIENT_SECRET: &str = "EmU8Q~entraInitialSecret0000000000000001";
/// The appId of Microsoft Graph, also accepted as the Graph resource.
pub const ENTRA_GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

/// The SSO issuer's public login client (`{root}/sso`): a native app such as `dcrctl
/// login`, no secret, loopback redirect URIs on any port (RFC 8252 section 7.3).
pub const SSO_LOGIN_CLIENT_ID: &str = "dcrctl";
/// The audience of the SSO issuer's access tokens when a request names none
/// (`resource`, RFC 8707, or `audience`): what `dcrctl dev` configures as
/// `DCR_IDENTITY_AUDIENCE`.
pub const SSO_DEFAULT_AUDIENCE: &str = "api://dcr";

/// A person who can sign in at the SSO issuer. `login` is also their `sub`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeededPerson {
    pub login: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub email: &'static str,
    pub groups: &'static [&'static str],
    /// What dcr makes of their groups with its default group names, for people reading
    /// a list of them (`dcrctl dev` prints it).
    pub role: &'static str,
}

/// The people of the SSO issuer: an admin, an approver and two developers (groups that
/// dcr does not map). Test passwords, published on purpose.
pub const SSO_PEOPLE: &[SeededPerson] = &[
    SeededPerson {
        login: "alice",
        password: "alice-password",
        name: "Alice Admin",
        email: "alice@example.com",
        groups: &["dcr-admins"],
        role: "admin",
    },
    SeededPerson {
        login: "aaron",
        password: "aaron-password",
        name: "Aaron Approver",
        email: "aaron@example.com",
        groups: &["dcr-approvers"],
        role: "approver",
    },
    SeededPerson {
        login: "dana",
        password: "dana-password",
        name: "Dana Developer",
        email: "dana@example.com",
        groups: &["engineering"],
        role: "developer",
    },
    SeededPerson {
        login: "diego",
        password: "diego-password",
        name: "Diego Developer",
        email: "diego@example.com",
        groups: &["engineering", "payments"],
        role: "developer",
    },
];
