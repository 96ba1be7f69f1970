//! Okta's Client Secrets API (`/api/v1/apps/{appId}/credentials/secrets`): up to two
//! secrets per client, each ACTIVE or INACTIVE; any ACTIVE one authenticates at the token
//! endpoint. `appId` is the client id here (Okta uses the same id for both).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{Access, Secret, SecretStatus, app_not_found, authorize, new_secret, okta_error};
use crate::http::{json, json_object, no_content, rfc3339};
use crate::state::{EmulatorState, World};

/// Most secrets one client may hold.
const MAX_SECRETS: usize = 2;

fn secret_json(base: &str, app_id: &str, s: &Secret) -> Value {
    let hash = Sha256::digest(s.value.as_bytes());
    let href = format!("{base}/api/v1/apps/{app_id}/credentials/secrets/{}", s.id);
    let links = match s.status {
        SecretStatus::Active => json!({
            "deactivate": { "href": format!("{href}/lifecycle/deactivate"), "hints": { "allow": ["POST"] } },
        }),
        SecretStatus::Inactive => json!({
            "activate": { "href": format!("{href}/lifecycle/activate"), "hints": { "allow": ["POST"] } },
            "delete": { "href": href, "hints": { "allow": ["DELETE"] } },
        }),
    };
    json!({
        "id": s.id,
        "status": s.status.as_str(),
        "client_secret": s.value,
        "secret_hash": URL_SAFE_NO_PAD.encode(&hash[..16]),
        "created": rfc3339(s.created),
        "lastUpdated": rfc3339(s.last_updated),
        "_links": links,
    })
}

fn secret_not_found(id: &str) -> Response {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} (ClientSecret)"),
        &[],
    )
}

fn validation(cause: &str) -> Response {
    okta_error(
        StatusCode::BAD_REQUEST,
        "E0000001",
        "Api validation failed: client_secret",
        &[cause],
    )
}

/// Runs `f` on one app after checking the caller (API token or service app token);
/// 404 for an unknown app.
fn with_app(
    st: &EmulatorState,
    headers: &HeaderMap,
    app_id: &str,
    access: Access,
    f: impl FnOnce(&mut World, &str) -> Response,
) -> Response {
    let base = st.urls().okta_org();
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, headers, access) {
            return resp;
        }
        if w.okta.app(app_id).is_none() {
            return app_not_found(app_id);
        }
        f(w, &base)
    })
}

/// List a client's secrets.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationSSOCredentialOAuth2ClientAuth/#tag/ApplicationSSOCredentialOAuth2ClientAuth/operation/listOAuth2ClientSecrets>.
pub(super) async fn list(
    State(st): State<EmulatorState>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Response {
    with_app(&st, &headers, &app, Access::AppsRead, |w, base| {
        let items: Vec<Value> = w
            .okta
            .app(&app)
            .map(|a| {
                a.secrets
                    .iter()
                    .map(|s| secret_json(base, &app, s))
                    .collect()
            })
            .unwrap_or_default();
        json(StatusCode::OK, Value::Array(items))
    })
}

/// Read one secret.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationSSOCredentialOAuth2ClientAuth/#tag/ApplicationSSOCredentialOAuth2ClientAuth/operation/getOAuth2ClientSecret>.
pub(super) async fn get_one(
    State(st): State<EmulatorState>,
    Path((app, secret)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    with_app(&st, &headers, &app, Access::AppsRead, |w, base| {
        match w
            .okta
            .app(&app)
            .and_then(|a| a.secrets.iter().find(|s| s.id == secret))
        {
            Some(s) => json(StatusCode::OK, secret_json(base, &app, s)),
            None => secret_not_found(&secret),
        }
    })
}

/// Create a secret: optional body `{"client_secret"?, "status"?: "ACTIVE"|"INACTIVE"}`,
/// new secrets are ACTIVE by default. 201; 400 E0000001 past two secrets.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationSSOCredentialOAuth2ClientAuth/#tag/ApplicationSSOCredentialOAuth2ClientAuth/operation/createOAuth2ClientSecret>.
pub(super) async fn create(
    State(st): State<EmulatorState>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    with_app(&st, &headers, &app, Access::AppsManage, |w, base| {
        let body = if body.iter().all(u8::is_ascii_whitespace) {
            Some(serde_json::Map::new())
        } else {
            json_object(&body)
        };
        let Some(body) = body else {
            return okta_error(
                StatusCode::BAD_REQUEST,
                "E0000003",
                "The request body was not well-formed.",
                &[],
            );
        };
        let value = match body.get("client_secret") {
            None | Some(Value::Null) => new_secret(),
            Some(Value::String(s)) if (14..=100).contains(&s.len()) => s.clone(),
            Some(_) => {
                return validation(
                    "client_secret: The client secret must be between 14 and 100 characters.",
                );
            }
        };
        let status = match body.get("status").and_then(Value::as_str) {
            None | Some("ACTIVE") => SecretStatus::Active,
            Some("INACTIVE") => SecretStatus::Inactive,
            Some(_) => return validation("status: Invalid status, expected ACTIVE or INACTIVE."),
        };
        let now = w.now();
        let Some(a) = w.okta.app_mut(&app) else {
            return app_not_found(&app);
        };
        if a.secrets.len() >= MAX_SECRETS {
            return validation(
                "client_secret: You can't have more than two client secrets. Delete an inactive secret first.",
            );
        }
        let secret = Secret::new(value, status, now);
        let out = secret_json(base, &app, &secret);
        a.secrets.push(secret);
        json(StatusCode::CREATED, out)
    })
}

fn set_status(
    st: &EmulatorState,
    headers: &HeaderMap,
    app: &str,
    secret: &str,
    status: SecretStatus,
) -> Response {
    with_app(st, headers, app, Access::AppsManage, |w, base| {
        let now = w.now();
        let Some(s) = w
            .okta
            .app_mut(app)
            .and_then(|a| a.secrets.iter_mut().find(|s| s.id == secret))
        else {
            return secret_not_found(secret);
        };
        if s.status != status {
            s.status = status;
            s.last_updated = now;
        }
        json(StatusCode::OK, secret_json(base, app, s))
    })
}

/// Activate a secret. 200 with the secret.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationSSOCredentialOAuth2ClientAuth/#tag/ApplicationSSOCredentialOAuth2ClientAuth/operation/activateOAuth2ClientSecret>.
pub(super) async fn activate(
    State(st): State<EmulatorState>,
    Path((app, secret)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    set_status(&st, &headers, &app, &secret, SecretStatus::Active)
}

/// Deactivate a secret: it stops working at the token endpoint at once. 200.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationSSOCredentialOAuth2ClientAuth/#tag/ApplicationSSOCredentialOAuth2ClientAuth/operation/deactivateOAuth2ClientSecret>.
pub(super) async fn deactivate(
    State(st): State<EmulatorState>,
    Path((app, secret)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    set_status(&st, &headers, &app, &secret, SecretStatus::Inactive)
}

/// Delete a secret; only an INACTIVE one (400 E0000001 otherwise). 204.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-management/management/tag/ApplicationSSOCredentialOAuth2ClientAuth/#tag/ApplicationSSOCredentialOAuth2ClientAuth/operation/deleteOAuth2ClientSecret>.
pub(super) async fn remove(
    State(st): State<EmulatorState>,
    Path((app, secret)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    with_app(&st, &headers, &app, Access::AppsManage, |w, _| {
        let Some(a) = w.okta.app_mut(&app) else {
            return app_not_found(&app);
        };
        match a.secrets.iter().position(|s| s.id == secret) {
            None => secret_not_found(&secret),
            Some(i) if a.secrets[i].status == SecretStatus::Active => validation(
                "client_secret: Cannot delete an ACTIVE client secret. Deactivate it first.",
            ),
            Some(i) => {
                a.secrets.remove(i);
                no_content()
            }
        }
    })
}
