//! Entra's token endpoints for the client credentials grant: v2.0 (`scope={resource}/.default`)
//! and v1.0 (`resource={resource}`). As in Entra, the token *format* (v1.0 or v2.0 claims)
//! follows the resource's `api.requestedAccessTokenVersion`, not the endpoint: Graph and
//! any API that does not ask for 2 get v1.0 tokens even from the v2.0 endpoint.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Application, ServicePrincipal, aadsts, tenant_not_found};
use crate::http::{client_creds, json, parse_params};
use crate::ids::secret_eq;
use crate::seed::{ENTRA_GRAPH_APP_ID, ENTRA_TENANT_ID};
use crate::state::{EmulatorState, Vendor, World};
use crate::urls::Urls;

/// Lifetime Entra reports for client-credential tokens.
const TOKEN_TTL: i64 = 3599;

enum Endpoint {
    V1,
    V2,
}

struct Issued {
    access_token: String,
    resource: String,
    now: i64,
}

fn missing(param: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{param}'."),
    )
}

/// A resource named in a request: Graph, or an app (by identifier URI or appId) that has
/// a service principal in the tenant.
struct Resource {
    app_id: String,
    /// `aud` of a v1.0 token: the resource as requested.
    v1_aud: String,
    v2: bool,
}

fn resolve_resource(w: &World, urls: &Urls, requested: &str) -> Option<Resource> {
    let r = requested.trim_end_matches('/');
    if r == urls.graph_resource() || r.eq_ignore_ascii_case(ENTRA_GRAPH_APP_ID) {
        return Some(Resource {
            app_id: ENTRA_GRAPH_APP_ID.into(),
            v1_aud: urls.graph_resource(),
            v2: false,
        });
    }
    let app = w.entra.apps.iter().find(|a| {
        a.app_id.eq_ignore_ascii_case(r)
            || a.identifier_uris
                .iter()
                .any(|u| u.trim_end_matches('/') == r)
    })?;
    w.entra.sp_for(&app.app_id)?;
    Some(Resource {
        app_id: app.app_id.clone(),
        v1_aud: r.to_string(),
        v2: app.wants_v2_tokens(),
    })
}

fn issue(
    w: &World,
    urls: &Urls,
    headers: &HeaderMap,
    params: &BTreeMap<String, String>,
    endpoint: Endpoint,
) -> Result<Issued, Response> {
    check_grant_type(params)?;
    let creds = client_creds(headers, params).ok_or_else(|| missing("client_id"))?;
    let requested = requested_resource(params, endpoint)?;
    let client = w
        .entra
        .app_by_app_id(&creds.id)
        .ok_or_else(|| client_not_found(&creds.id))?;
    let now = w.now();
    check_secret(client, creds.secret.as_deref(), now)?;
    let sp = w
        .entra
        .sp_for(&client.app_id)
        .ok_or_else(|| no_service_principal(&client.app_id))?;
    let resource =
        resolve_resource(w, urls, &requested).ok_or_else(|| resource_not_found(&requested))?;
    let now = now.timestamp();
    let claims = claims(w, urls, client, sp, &resource, now);
    let keys = w.keys.get(Vendor::AzureAd);
    let kid = keys.current_kid().to_string();
    let access_token = keys.sign(&claims, &[("x5t", json!(kid))]).map_err(|_| {
        aadsts(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            90033,
            "A transient error has occurred. Please try again.",
        )
    })?;
    Ok(Issued {
        access_token,
        resource: resource.v1_aud,
        now,
    })
}

fn check_grant_type(params: &BTreeMap<String, String>) -> Result<(), Response> {
    let grant_type = params
        .get("grant_type")
        .ok_or_else(|| missing("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(aadsts(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant_type}'."),
        ));
    }
    Ok(())
}

/// The resource as the request names it: `scope={resource}/.default` on v2.0,
/// `resource={resource}` on v1.0.
fn requested_resource(
    params: &BTreeMap<String, String>,
    endpoint: Endpoint,
) -> Result<String, Response> {
    match endpoint {
        Endpoint::V2 => {
            let scope = params.get("scope").ok_or_else(|| missing("scope"))?;
            let parts: Vec<&str> = scope.split_whitespace().collect();
            match parts.as_slice() {
                [one] if one.ends_with("/.default") => {
                    Ok(one.trim_end_matches("/.default").to_string())
                }
                _ => Err(aadsts(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    &format!(
                        "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                )),
            }
        }
        Endpoint::V1 => Ok(params
            .get("resource")
            .ok_or_else(|| missing("resource"))?
            .clone()),
    }
}

fn client_not_found(app_id: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{app_id}' was not found in the directory '{ENTRA_TENANT_ID}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
        ),
    )
}

/// Entra tells a wrong secret from an expired one, so a rotation that came too late shows.
fn check_secret(
    client: &Application,
    secret: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), Response> {
    let Some(secret) = secret else {
        return Err(aadsts(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    let matching: Vec<_> = client
        .passwords
        .iter()
        .filter(|p| secret_eq(&p.secret, secret))
        .collect();
    if matching.is_empty() {
        return Err(aadsts(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                client.app_id
            ),
        ));
    }
    if !matching.iter().any(|p| p.start <= now && now < p.end) {
        return Err(aadsts(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000222,
            &format!(
                "The provided client secret keys for app '{}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.",
                client.app_id
            ),
        ));
    }
    Ok(())
}

fn no_service_principal(app_id: &str) -> Response {
    aadsts(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        7000229,
        &format!(
            "The client application {app_id} is missing service principal in the tenant {ENTRA_TENANT_ID}. See instructions here: https://go.microsoft.com/fwlink/?linkid=2225119"
        ),
    )
}

fn resource_not_found(requested: &str) -> Response {
    aadsts(
        StatusCode::BAD_REQUEST,
        "invalid_resource",
        500011,
        &format!(
            "The resource principal named {requested} was not found in the tenant named {ENTRA_TENANT_ID}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
        ),
    )
}

/// The access token's claims, in the v1.0 or v2.0 shape the resource asks for.
fn claims(
    w: &World,
    urls: &Urls,
    client: &Application,
    sp: &ServicePrincipal,
    resource: &Resource,
    now: i64,
) -> serde_json::Value {
    let roles = w.entra.roles(&client.app_id, &resource.app_id);
    let mut claims = json!({
        "iat": now,
        "nbf": now,
        "exp": now + TOKEN_TTL,
        "aio": crate::ids::url_safe(40),
        "idtyp": "app",
        "oid": sp.id,
        "rh": format!("0.{}.", crate::ids::url_safe(40)),
        "sub": sp.id,
        "tid": ENTRA_TENANT_ID,
        "uti": crate::ids::url_safe(22),
    });
    if resource.v2 {
        claims["aud"] = json!(resource.app_id);
        claims["iss"] = json!(urls.entra_v2_issuer());
        claims["azp"] = json!(client.app_id);
        claims["azpacr"] = json!("1");
        claims["ver"] = json!("2.0");
    } else {
        claims["aud"] = json!(resource.v1_aud);
        claims["iss"] = json!(urls.entra_v1_issuer());
        claims["idp"] = json!(urls.entra_v1_issuer());
        claims["appid"] = json!(client.app_id);
        claims["appidacr"] = json!("1");
        claims["ver"] = json!("1.0");
    }
    if !roles.is_empty() {
        claims["roles"] = json!(roles);
    }
    claims
}

fn form(headers: &HeaderMap, body: &[u8]) -> BTreeMap<String, String> {
    // Entra reads only form bodies; anything else looks like a body without parameters.
    parse_params(headers, body, false).unwrap_or_default()
}

/// v2.0 token endpoint, client credentials with `scope={resource}/.default`.
/// Follows <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow#first-case-access-token-request-with-a-shared-secret>
/// and the error codes of <https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>.
pub(super) async fn token_v2(
    State(st): State<EmulatorState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if tenant != ENTRA_TENANT_ID {
        return tenant_not_found(&tenant);
    }
    let params = form(&headers, &body);
    let urls = st.urls().clone();
    st.with(|w| match issue(w, &urls, &headers, &params, Endpoint::V2) {
        Ok(t) => json(
            StatusCode::OK,
            json!({ "token_type": "Bearer", "expires_in": TOKEN_TTL, "ext_expires_in": TOKEN_TTL, "access_token": t.access_token }),
        ),
        Err(resp) => resp,
    })
}

/// v1.0 token endpoint, client credentials with `resource={resource}`. Numbers in the
/// answer are strings, as Entra sends them.
/// Follows <https://learn.microsoft.com/en-us/previous-versions/azure/active-directory/azuread-dev/v1-oauth2-client-creds-grant-flow#request-an-access-token>.
pub(super) async fn token_v1(
    State(st): State<EmulatorState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if tenant != ENTRA_TENANT_ID {
        return tenant_not_found(&tenant);
    }
    let params = form(&headers, &body);
    let urls = st.urls().clone();
    st.with(|w| match issue(w, &urls, &headers, &params, Endpoint::V1) {
        Ok(t) => json(
            StatusCode::OK,
            json!({
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL.to_string(),
                "ext_expires_in": TOKEN_TTL.to_string(),
                "expires_on": (t.now + TOKEN_TTL).to_string(),
                "not_before": t.now.to_string(),
                "resource": t.resource,
                "access_token": t.access_token,
            }),
        ),
        Err(resp) => resp,
    })
}
