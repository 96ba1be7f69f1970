//! People sign in: an OpenID provider of the emulator's own at `{root}/sso`, for `dcrctl
//! login` and `dcrctl dev` (registry-svc accepts its access tokens as people's). Not a
//! vendor: the smallest strict provider a native CLI meets in the wild.
//!
//! - authorization code flow only, PKCE with S256 required (RFC 7636; OAuth 2.0 Security
//!   BCP), `state` echoed, `iss` in the authorization response (RFC 9207), `nonce` in
//!   the ID token;
//! - a public native client with loopback redirect URIs on any port (RFC 8252 section
//!   7.3, [`redirect`]), and web clients registered through the control API
//!   ([`clients`]): confidential (`client_secret_basic`, [`client_auth`]) or public, with
//!   redirect URIs that match exactly;
//! - a plain HTML login form ([`page`]); a wrong password shows it again with 401;
//! - single-use codes that live 60 s; refresh tokens rotated at each use, a reused one
//!   revokes its whole grant (Security BCP section 4.14.2);
//! - JWT access tokens (RFC 9068 `at+jwt`) for the audience a `resource` (RFC 8707) or
//!   `audience` parameter names, else the client's default, carrying the person's
//!   groups, name and email as they are at each issue;
//! - errors as RFC 6749 section 5.2 JSON at the token endpoint; an unknown client or a
//!   redirect URI that is not the client's is an error page, never a redirect.
//!
//! Codes and refresh tokens are kept only as SHA-256 hashes.

mod authorize;
mod client_auth;
mod clients;
mod control;
mod discovery;
mod grants;
mod issue;
mod page;
mod redirect;
mod revoke;
mod token;
mod userinfo;

use axum::Router;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::keys::{CryptoError, KeySet};
use crate::seed::{SSO_DEFAULT_AUDIENCE, SSO_LOGIN_CLIENT_ID, SSO_PEOPLE};
use crate::state::EmulatorState;

pub(crate) use grants::{Code, Grant, Interaction};

/// Access and ID tokens live 10 minutes: short, so a group removed at the identity
/// provider reaches dcr at the next refresh.
pub(crate) const TOKEN_TTL: i64 = 600;
/// An authorization code is good for 60 s (RFC 6749 section 4.1.2: "a maximum
/// authorization code lifetime of 10 minutes is RECOMMENDED"; shorter is stricter).
pub(crate) const CODE_TTL: i64 = 60;
/// A login page can be answered for 10 minutes.
pub(crate) const INTERACTION_TTL: i64 = 600;
/// A refresh token is good for 8 hours of not being used (a working day).
pub(crate) const REFRESH_TTL: i64 = 8 * 3600;

/// The scopes the provider knows; any other is `invalid_scope`.
pub(crate) const SCOPES: &[&str] = &["openid", "profile", "email", "groups", "offline_access"];

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Person {
    /// Also the person's `sub`.
    pub login: String,
    pub password: String,
    pub name: String,
    pub email: String,
    pub groups: Vec<String>,
}

/// What kind of app a login client is, which decides how its redirect URIs match.
#[derive(Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ClientKind {
    /// A native app on the person's machine (`dcrctl`): a registered loopback redirect
    /// URI matches on any port (RFC 8252 section 7.3). The default, because state files
    /// written before web clients existed hold only the seeded native client.
    #[default]
    Native,
    /// A web app (the Dev Portal): redirect URIs match exactly.
    Web,
}

/// A client of the login flow: public (no secret), or confidential (a secret it presents
/// by HTTP Basic at the token and revocation endpoints).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct LoginClient {
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub kind: ClientKind,
    /// `None` for a public client. Kept in clear like the vendors' secrets: a test double
    /// needs to compare it, and the state file is private (mode 0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Registered redirect URIs; for a native client a loopback one matches on any port
    /// ([`redirect`]).
    pub redirect_uris: Vec<String>,
    /// The audience of tokens issued without `resource` or `audience`.
    pub default_audience: String,
}

/// The SSO issuer's state: its keys, people, clients, and the flows in progress.
#[derive(Serialize, Deserialize)]
pub(crate) struct Directory {
    pub keys: KeySet,
    pub people: Vec<Person>,
    pub clients: Vec<LoginClient>,
    #[serde(default)]
    pub interactions: Vec<Interaction>,
    #[serde(default)]
    pub codes: Vec<Code>,
    #[serde(default)]
    pub grants: Vec<Grant>,
}

impl Directory {
    /// The seeded people and login client ([`crate::seed`]), with the key set at
    /// `key_index` of the process's initial keys.
    pub fn seeded(key_index: usize) -> Result<Self, CryptoError> {
        let people = SSO_PEOPLE
            .iter()
            .map(|p| Person {
                login: p.login.into(),
                password: p.password.into(),
                name: p.name.into(),
                email: p.email.into(),
                groups: p.groups.iter().map(|g| (*g).to_owned()).collect(),
            })
            .collect();
        Ok(Self {
            keys: KeySet::initial(key_index)?,
            people,
            clients: vec![LoginClient {
                client_id: SSO_LOGIN_CLIENT_ID.into(),
                name: "dcrctl".into(),
                kind: ClientKind::Native,
                client_secret: None,
                redirect_uris: vec![
                    "http://127.0.0.1/callback".into(),
                    "http://[::1]/callback".into(),
                ],
                default_audience: SSO_DEFAULT_AUDIENCE.into(),
            }],
            interactions: Vec::new(),
            codes: Vec::new(),
            grants: Vec::new(),
        })
    }

    pub fn client(&self, id: &str) -> Option<&LoginClient> {
        self.clients.iter().find(|c| c.client_id == id)
    }

    pub fn person(&self, login: &str) -> Option<&Person> {
        self.people.iter().find(|p| p.login == login)
    }
}

pub(crate) fn routes() -> Router<EmulatorState> {
    Router::new()
        .route(
            "/sso/.well-known/openid-configuration",
            get(discovery::discovery),
        )
        .route(
            "/sso/.well-known/oauth-authorization-server",
            get(discovery::discovery),
        )
        .route("/sso/jwks", get(discovery::jwks))
        .route("/sso/authorize", get(authorize::authorize))
        .route("/sso/login/{interaction}", post(authorize::login))
        .route("/sso/token", post(token::token))
        .route(
            "/sso/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route("/sso/revoke", post(revoke::revoke))
        .route("/__emulator/sso/clients", post(clients::register))
        .route(
            "/__emulator/sso/clients/{client_id}",
            get(clients::get_client),
        )
        .route(
            "/__emulator/sso/people/{login}",
            get(control::get_person).post(control::set_groups),
        )
}
