//! OAuth 2.0 service apps ("API Services" apps) calling Okta's management APIs with
//! scoped access tokens instead of an SSWS API token
//! (https://developer.okta.com/docs/guides/implement-oauth-for-okta-serviceapp/main/):
//! each has registered public keys (client authentication `private_key_jwt`), granted
//! Okta API scopes ("Okta API Scopes" tab), admin roles ("Admin roles" tab) and the
//! "Require Demonstrating Proof of Possession (DPoP) header in token requests" switch.
//! Tests make them with `POST /__emulator/okta/service-apps`; their tokens come from
//! the org authorization server (`org_token`), and the management APIs take them as
//! `Authorization: Bearer` here, each endpoint checking its scope.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client_keys::{self, PublicKey};
use super::{error_body, okta_error};
use crate::http::{json, json_with};
use crate::state::{EmulatorState, Vendor, World};

/// The Okta API scopes an app can be granted, of those the emulated endpoints check.
pub(crate) const OKTA_SCOPES: &[&str] = &[
    "okta.clients.read",
    "okta.clients.register",
    "okta.clients.manage",
    "okta.apps.read",
    "okta.apps.manage",
];

/// Admin roles that may manage OAuth apps (Application Administrator, API Access
/// Management Administrator, and the org-wide ones); `READ_ONLY_ADMIN` may only read.
/// https://support.okta.com/help/s/article/how-to-assign-the-correct-admin-role-to-a-service-application
const WRITE_ROLES: &[&str] = &[
    "SUPER_ADMIN",
    "ORG_ADMIN",
    "APP_ADMIN",
    "API_ACCESS_MANAGEMENT_ADMIN",
];
const READ_ROLES: &[&str] = &["READ_ONLY_ADMIN"];

#[derive(Serialize, Deserialize)]
pub(crate) struct ServiceApp {
    pub client_id: String,
    pub name: String,
    /// Its public keys (Okta keeps no private key).
    pub keys: Vec<PublicKey>,
    /// Granted Okta API scopes.
    pub scopes: Vec<String>,
    pub admin_roles: Vec<String>,
    pub dpop_required: bool,
    /// Management calls its tokens were accepted for, shown by `/__emulator/state`
    /// (transient, like call statistics).
    #[serde(skip)]
    pub bearer_calls: AtomicU64,
}

/// What a management endpoint needs from a caller, named by the scope its reference
/// lists (https://developer.okta.com/docs/api/oauth2/ and each endpoint's "OAuth 2.0
/// scope"): the `.manage` scope of a namespace also satisfies its `.read` endpoints
/// (https://support.okta.com/help/s/article/insufficient-scope-error-when-making-a-request-to-an-oauth-or-management-endpoint),
/// and `okta.clients.manage` also registers clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    ClientsRead,
    ClientsRegister,
    ClientsManage,
    AppsRead,
    AppsManage,
}

impl Access {
    /// True for calls a read-only API token or admin may not make.
    pub fn write(self) -> bool {
        !matches!(self, Access::ClientsRead | Access::AppsRead)
    }

    /// The scope the endpoint's reference names (the challenge's `scope`).
    fn scope(self) -> &'static str {
        match self {
            Access::ClientsRead => "okta.clients.read",
            Access::ClientsRegister => "okta.clients.register",
            Access::ClientsManage => "okta.clients.manage",
            Access::AppsRead => "okta.apps.read",
            Access::AppsManage => "okta.apps.manage",
        }
    }

    fn satisfied_by(self, scope: &str) -> bool {
        scope == self.scope()
            || match self {
                Access::ClientsRead | Access::ClientsRegister => scope == "okta.clients.manage",
                Access::AppsRead => scope == "okta.apps.manage",
                Access::ClientsManage | Access::AppsManage => false,
            }
    }
}

/// The `WWW-Authenticate` challenge Okta sends with a refused Bearer token
/// (https://support.okta.com/help/s/article/insufficient-scope-error-when-making-a-request-to-an-oauth-or-management-endpoint).
fn challenge(org: &str, rest: &str) -> String {
    format!(r#"Bearer authorization_uri="{org}/oauth2/v1/authorize", realm="{org}", {rest}"#)
}

/// A management call with `Authorization: Bearer <token>`: a token of this org's
/// authorization server (signature, `iss` and `aud` the org, not expired) of a service
/// app that still exists, holding a scope that satisfies `access`, for an app with an
/// admin role that may make the call.
pub(crate) fn authorize_bearer(w: &World, token: &str, access: Access) -> Result<(), Response> {
    let org = w.okta.org_url.as_str();
    let invalid = || {
        json_with(
            StatusCode::UNAUTHORIZED,
            error_body("E0000011", "Invalid token provided"),
            &[(
                "www-authenticate",
                challenge(
                    org,
                    r#"error="invalid_token", error_description="The access token is invalid.""#,
                ),
            )],
        )
    };
    let claims = w
        .keys
        .get(Vendor::Okta)
        .verify(token)
        .filter(|c| c["iss"].as_str() == Some(org) && c["aud"].as_str() == Some(org))
        .filter(|c| c["exp"].as_i64().is_some_and(|exp| exp > w.now_secs()))
        .ok_or_else(invalid)?;
    let app = claims["cid"]
        .as_str()
        .and_then(|cid| w.okta.service_app(cid))
        .ok_or_else(invalid)?;
    let scopes = claims["scp"].as_array().cloned().unwrap_or_default();
    if !scopes
        .iter()
        .filter_map(Value::as_str)
        .any(|s| access.satisfied_by(s))
    {
        let rest = format!(
            r#"scope="{}", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.""#,
            access.scope()
        );
        return Err(json_with(
            StatusCode::FORBIDDEN,
            error_body(
                "E0000006",
                "You do not have permission to perform the requested action",
            ),
            &[("www-authenticate", challenge(org, &rest))],
        ));
    }
    let may = |roles: &[&str]| app.admin_roles.iter().any(|r| roles.contains(&r.as_str()));
    if !(may(WRITE_ROLES) || (!access.write() && may(READ_ROLES))) {
        return Err(okta_error(
            StatusCode::FORBIDDEN,
            "E0000006",
            "You do not have permission to perform the requested action",
            &[],
        ));
    }
    app.bearer_calls.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

fn bad(message: &str) -> Response {
    json(StatusCode::BAD_REQUEST, json!({ "error": message }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Jwks {
    keys: Vec<PublicKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceAppSpec {
    client_id: Option<String>,
    name: Option<String>,
    /// Public keys to register; without, one key pair of `key_type` is generated and
    /// its private key returned once.
    jwks: Option<Jwks>,
    /// `RSA` (default) or `EC` (P-256), for a generated key.
    key_type: Option<String>,
    /// The generated key's KID (default: random, as Okta's).
    kid: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    /// Default `["APP_ADMIN"]` (Application Administrator).
    admin_roles: Option<Vec<String>>,
    #[serde(default)]
    dpop_required: bool,
}

/// The registered keys, or a generated pair: (keys, private key PEM if generated).
fn keys_of(spec: &ServiceAppSpec) -> Result<(Vec<PublicKey>, Option<String>), Response> {
    if let Some(jwks) = &spec.jwks {
        if jwks.keys.is_empty() {
            return Err(bad("jwks.keys must not be empty"));
        }
        if let Some(problem) = jwks.keys.iter().find_map(PublicKey::problem) {
            return Err(bad(&format!("jwks: {problem}")));
        }
        return Ok((jwks.keys.clone(), None));
    }
    let kty = spec.key_type.as_deref().unwrap_or("RSA");
    if !["RSA", "EC"].contains(&kty) {
        return Err(bad("key_type must be RSA or EC"));
    }
    let kid = spec.kid.clone().unwrap_or_else(|| crate::ids::url_safe(43));
    match client_keys::generate(kty, kid) {
        Ok((key, pem)) => Ok((vec![key], Some(pem))),
        Err(_) => Err(json(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "key generation failed" }),
        )),
    }
}

/// `POST /__emulator/okta/service-apps`: an API Services app with client authentication
/// "Public key / Private key", replacing one of the same client id. 201 `{client_id,
/// kid, private_key_pem (when generated), jwks, scopes, admin_roles, dpop_required,
/// token_endpoint}`.
pub(crate) async fn create(State(st): State<EmulatorState>, body: Bytes) -> Response {
    let spec: ServiceAppSpec = match serde_json::from_slice(&body) {
        Ok(spec) => spec,
        Err(e) => return bad(&format!("invalid body: {e}")),
    };
    if let Some(unknown) = spec
        .scopes
        .iter()
        .find(|s| !OKTA_SCOPES.contains(&s.as_str()))
    {
        return bad(&format!(
            "unknown scope {unknown}; the emulated ones are {}",
            OKTA_SCOPES.join(" ")
        ));
    }
    let (keys, private_key_pem) = match keys_of(&spec) {
        Ok(keys) => keys,
        Err(resp) => return resp,
    };
    let client_id = spec.client_id.clone().unwrap_or_else(super::new_client_id);
    let app = ServiceApp {
        client_id: client_id.clone(),
        name: spec
            .name
            .clone()
            .unwrap_or_else(|| "dcr service app".into()),
        keys,
        scopes: spec.scopes.clone(),
        admin_roles: spec
            .admin_roles
            .clone()
            .unwrap_or_else(|| vec!["APP_ADMIN".into()]),
        dpop_required: spec.dpop_required,
        bearer_calls: AtomicU64::new(0),
    };
    let mut out = json!({
        "client_id": client_id,
        "kid": app.keys.first().and_then(PublicKey::kid),
        "jwks": { "keys": app.keys.iter().map(PublicKey::jwk).collect::<Vec<_>>() },
        "scopes": app.scopes,
        "admin_roles": app.admin_roles,
        "dpop_required": app.dpop_required,
        "token_endpoint": st.urls().okta_org_token(),
    });
    if let Some(pem) = private_key_pem {
        out["private_key_pem"] = json!(pem);
    }
    st.with_mut(|w| {
        w.okta.service_apps.retain(|a| a.client_id != client_id);
        w.okta.service_apps.push(app);
    });
    json(StatusCode::CREATED, out)
}

/// The service apps in `/__emulator/state` (public keys only).
pub(crate) fn dump(w: &World) -> Value {
    let apps: Vec<Value> = w
        .okta
        .service_apps
        .iter()
        .map(|a| {
            json!({
                "client_id": a.client_id, "name": a.name,
                "kids": a.keys.iter().map(PublicKey::kid).collect::<Vec<_>>(),
                "scopes": a.scopes, "admin_roles": a.admin_roles,
                "dpop_required": a.dpop_required,
                "bearer_calls": a.bearer_calls.load(Ordering::Relaxed),
            })
        })
        .collect();
    Value::Array(apps)
}
