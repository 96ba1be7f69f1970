//! Okta's Dynamic Client Registration API (RFC 7591 shapes) at `/oauth2/v1/clients`,
//! authenticated with an API token (`SSWS`).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::{
    Access, App, Secret, SecretStatus, app_not_found, authorize, new_client_id, new_secret,
};
use crate::http::{json, json_object, json_with, no_content, query_map, string_array};
use crate::state::EmulatorState;

const APPLICATION_TYPES: &[&str] = &["web", "native", "browser", "service"];
const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "implicit",
    "password",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
    "urn:ietf:params:oauth:grant-type:token-exchange",
    "urn:ietf:params:oauth:grant-type:saml2-bearer",
    "urn:ietf:params:oauth:grant-type:jwt-bearer",
];
const AUTH_METHODS: &[&str] = &[
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];
/// Optional string properties kept as sent.
const OPTIONAL: &[&str] = &[
    "client_uri",
    "logo_uri",
    "initiate_login_uri",
    "jwks_uri",
    "policy_uri",
    "tos_uri",
];

fn metadata_error(error: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        json!({ "error": error, "error_description": description }),
    )
}

/// The client in the DCR response shape; `secret` only on create and newSecret.
fn client_json(app: &App, secret: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("client_id".into(), json!(app.client_id));
    out.insert("client_id_issued_at".into(), json!(app.issued_at));
    if let Some(s) = secret {
        out.insert("client_secret".into(), json!(s));
        out.insert("client_secret_expires_at".into(), json!(0));
    }
    out.insert("client_name".into(), json!(app.client_name));
    out.insert("application_type".into(), json!(app.application_type));
    out.insert("redirect_uris".into(), json!(app.redirect_uris));
    out.insert("response_types".into(), json!(app.response_types));
    out.insert("grant_types".into(), json!(app.grant_types));
    out.insert(
        "token_endpoint_auth_method".into(),
        json!(app.token_endpoint_auth_method),
    );
    for (k, v) in &app.optional {
        out.insert(k.clone(), v.clone());
    }
    Value::Object(out)
}

/// Parses a registration (or replacement) request into `app`; `Err` is the 400 answer.
fn apply(app: &mut App, body: &Map<String, Value>) -> Result<(), Response> {
    let body = Metadata(body);
    let name = client_name(&body)?;
    let application_type = application_type(&body)?;
    let service = application_type == "service";
    let grant_types = grant_types(&body, service)?;
    let redirect_uris = redirect_uris(&body, &grant_types)?;
    let response_types = body.list("response_types")?.unwrap_or_else(|| {
        if service {
            vec!["token".into()]
        } else {
            vec!["code".into()]
        }
    });
    let auth_method = auth_method(&body)?;
    let optional = optional(&body)?;
    app.client_name = name;
    app.application_type = application_type;
    app.grant_types = grant_types;
    app.response_types = response_types;
    app.redirect_uris = redirect_uris;
    app.token_endpoint_auth_method = auth_method;
    app.optional = optional;
    Ok(())
}

/// The request body, read property by property with Okta's type errors.
struct Metadata<'a>(&'a Map<String, Value>);

impl Metadata<'_> {
    fn string(&self, k: &str) -> Result<Option<String>, Response> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(metadata_error(
                "invalid_client_metadata",
                &format!("Invalid value for '{k}': Expected a string."),
            )),
        }
    }

    fn list(&self, k: &str) -> Result<Option<Vec<String>>, Response> {
        match self.0.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => string_array(v).map(Some).ok_or_else(|| {
                metadata_error(
                    "invalid_client_metadata",
                    &format!("Invalid value for '{k}': Expected an array of strings."),
                )
            }),
        }
    }
}

fn client_name(body: &Metadata) -> Result<String, Response> {
    let Some(name) = body.string("client_name")?.filter(|n| !n.trim().is_empty()) else {
        return Err(metadata_error(
            "invalid_client_metadata",
            "The 'client_name' property is required.",
        ));
    };
    if name.chars().count() > 100 {
        return Err(metadata_error(
            "invalid_client_metadata",
            "'client_name' exceeds the maximum length of 100 characters.",
        ));
    }
    Ok(name)
}

fn application_type(body: &Metadata) -> Result<String, Response> {
    let application_type = body
        .string("application_type")?
        .unwrap_or_else(|| "web".into());
    if !APPLICATION_TYPES.contains(&application_type.as_str()) {
        return Err(metadata_error(
            "invalid_client_metadata",
            &format!("Invalid value for 'application_type': {application_type}."),
        ));
    }
    Ok(application_type)
}

/// Known grant types only, and a service application gets client credentials only.
fn grant_types(body: &Metadata, service: bool) -> Result<Vec<String>, Response> {
    let grant_types = body.list("grant_types")?.unwrap_or_else(|| {
        vec![
            if service {
                "client_credentials"
            } else {
                "authorization_code"
            }
            .to_string(),
        ]
    });
    if let Some(bad) = grant_types
        .iter()
        .find(|g| !GRANT_TYPES.contains(&g.as_str()))
    {
        return Err(metadata_error(
            "invalid_client_metadata",
            &format!("Invalid value for 'grant_types': {bad}."),
        ));
    }
    if service && grant_types.iter().any(|g| g != "client_credentials") {
        return Err(metadata_error(
            "invalid_client_metadata",
            "Service applications only support the 'client_credentials' grant type.",
        ));
    }
    Ok(grant_types)
}

/// Required by the grants that redirect the browser.
fn redirect_uris(body: &Metadata, grant_types: &[String]) -> Result<Vec<String>, Response> {
    let redirect_uris = body.list("redirect_uris")?.unwrap_or_default();
    if grant_types
        .iter()
        .any(|g| g == "authorization_code" || g == "implicit")
        && redirect_uris.is_empty()
    {
        return Err(metadata_error(
            "invalid_redirect_uri",
            "'redirect_uris' is required for the requested grant types.",
        ));
    }
    Ok(redirect_uris)
}

fn auth_method(body: &Metadata) -> Result<String, Response> {
    let auth_method = body
        .string("token_endpoint_auth_method")?
        .unwrap_or_else(|| "client_secret_basic".into());
    if !AUTH_METHODS.contains(&auth_method.as_str()) {
        return Err(metadata_error(
            "invalid_client_metadata",
            &format!("Invalid value for 'token_endpoint_auth_method': {auth_method}."),
        ));
    }
    Ok(auth_method)
}

/// The optional properties the request set, kept as sent.
fn optional(body: &Metadata) -> Result<Map<String, Value>, Response> {
    let mut optional = Map::new();
    for key in OPTIONAL {
        if let Some(v) = body.string(key)? {
            optional.insert((*key).to_string(), json!(v));
        }
    }
    if let Some(v) = body.list("post_logout_redirect_uris")? {
        optional.insert("post_logout_redirect_uris".into(), json!(v));
    }
    Ok(optional)
}

/// Register a client. 201 with `client_id`, `client_secret` and the metadata.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/#tag/Client/operation/createClient>.
pub(super) async fn create(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &headers, Access::ClientsRegister) {
            return resp;
        }
        let Some(body) = json_object(&body) else {
            return metadata_error(
                "invalid_client_metadata",
                "The request body is not a JSON object.",
            );
        };
        let now = w.now();
        let mut app = App {
            client_id: new_client_id(),
            issued_at: now.timestamp(),
            client_name: String::new(),
            application_type: String::new(),
            grant_types: Vec::new(),
            response_types: Vec::new(),
            redirect_uris: Vec::new(),
            token_endpoint_auth_method: String::new(),
            optional: Map::new(),
            secrets: Vec::new(),
        };
        if let Err(resp) = apply(&mut app, &body) {
            return resp;
        }
        let secret = new_secret();
        app.secrets
            .push(Secret::new(secret.clone(), SecretStatus::Active, now));
        let out = client_json(&app, Some(&secret));
        w.okta.apps.push(app);
        json(StatusCode::CREATED, out)
    })
}

/// List clients: `q` (prefix of `client_name`, case-blind), `limit` (default 20, max 200),
/// `after` (cursor from the `Link: <...>; rel="next"` header).
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/#tag/Client/operation/listClients>.
pub(super) async fn list(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = query_map(raw.as_deref());
    let base = st.urls().okta_clients();
    st.with(|w| {
        if let Err(resp) = authorize(w, &headers, Access::ClientsRead) {
            return resp;
        }
        let limit = q
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(20)
            .clamp(1, 200);
        let prefix = q.get("q").map(|p| p.to_lowercase());
        let matching: Vec<&App> = w
            .okta
            .apps
            .iter()
            .filter(|a| {
                prefix
                    .as_ref()
                    .is_none_or(|p| a.client_name.to_lowercase().starts_with(p.as_str()))
            })
            .collect();
        let start = match q.get("after") {
            Some(after) => matching
                .iter()
                .position(|a| &a.client_id == after)
                .map(|i| i + 1)
                .unwrap_or(matching.len()),
            None => 0,
        };
        let page: Vec<&App> = matching.iter().skip(start).take(limit).copied().collect();
        let more = start + page.len() < matching.len();
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let q_part = q
            .get("q")
            .map(|p| format!("&q={}", encode(p)))
            .unwrap_or_default();
        let mut links = vec![format!("<{base}?limit={limit}{q_part}>; rel=\"self\"")];
        if let (true, Some(last)) = (more, page.last()) {
            links.push(format!(
                "<{base}?after={}&limit={limit}{q_part}>; rel=\"next\"",
                last.client_id
            ));
        }
        let items: Vec<Value> = page.iter().map(|a| client_json(a, None)).collect();
        json_with(
            StatusCode::OK,
            Value::Array(items),
            &[("link", links.join(", "))],
        )
    })
}

/// Read one client (without its secret).
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/#tag/Client/operation/getClient>.
pub(super) async fn get_one(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    st.with(|w| {
        if let Err(resp) = authorize(w, &headers, Access::ClientsRead) {
            return resp;
        }
        match w.okta.app(&id) {
            Some(app) => json(StatusCode::OK, client_json(app, None)),
            None => app_not_found(&id),
        }
    })
}

/// Replace a client's metadata (full replacement, same rules as registration). 200.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/#tag/Client/operation/replaceClient>.
pub(super) async fn replace(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &headers, Access::ClientsManage) {
            return resp;
        }
        let Some(app) = w.okta.app_mut(&id) else {
            return app_not_found(&id);
        };
        let Some(body) = json_object(&body) else {
            return metadata_error(
                "invalid_client_metadata",
                "The request body is not a JSON object.",
            );
        };
        let mut updated = app.clone();
        if let Err(resp) = apply(&mut updated, &body) {
            return resp;
        }
        *app = updated;
        json(StatusCode::OK, client_json(app, None))
    })
}

/// Delete a client. 204.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/#tag/Client/operation/deleteClient>.
pub(super) async fn remove(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &headers, Access::ClientsManage) {
            return resp;
        }
        let before = w.okta.apps.len();
        w.okta.apps.retain(|a| a.client_id != id);
        if w.okta.apps.len() == before {
            app_not_found(&id)
        } else {
            no_content()
        }
    })
}

/// Generate a new client secret: it replaces every existing secret of the client (use the
/// Client Secrets API to keep two during a rotation). 200 with the client and
/// `client_secret`.
/// Follows <https://developer.okta.com/docs/api/openapi/okta-oauth/oauth/tag/Client/#tag/Client/operation/generateNewClientSecret>.
pub(super) async fn generate_secret(
    State(st): State<EmulatorState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    st.with_mut(|w| {
        if let Err(resp) = authorize(w, &headers, Access::ClientsManage) {
            return resp;
        }
        let now = w.now();
        let Some(app) = w.okta.app_mut(&id) else {
            return app_not_found(&id);
        };
        let secret = new_secret();
        app.secrets = vec![Secret::new(secret.clone(), SecretStatus::Active, now)];
        json(StatusCode::OK, client_json(app, Some(&secret)))
    })
}
