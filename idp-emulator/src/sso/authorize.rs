//! The authorization endpoint (RFC 6749 section 4.1.1, OpenID Connect Core section 3.1.2)
//! and the login form's post. An unknown client, a redirect URI that is not the client's,
//! or a parameter given twice gets an error page: nothing about such a request can be
//! trusted enough to redirect to (RFC 6749 section 4.1.2.1). Every other problem goes
//! back to the client as an error redirect with `state` and `iss` (RFC 9207).

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use super::grants::Request;
use super::{ClientKind, LoginClient, SCOPES, page, redirect};
use crate::http::{parse_params, split_scopes};
use crate::ids::secret_eq;
use crate::state::EmulatorState;

/// Longest `state` or `nonce` taken (they come back in URLs and tokens).
const MAX_ECHOED: usize = 512;

/// The query's parameters, or the name of one given twice (RFC 6749 section 3.1: "MUST
/// NOT be included more than once").
fn single_params(query: Option<&str>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if out.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(k.into_owned());
        }
    }
    Ok(out)
}

/// `GET /sso/authorize`: checks the request and shows the login form (200).
pub(super) async fn authorize(State(st): State<EmulatorState>, uri: Uri) -> Response {
    let params = match single_params(uri.query()) {
        Ok(p) => p,
        Err(name) => {
            return page::error(
                StatusCode::BAD_REQUEST,
                &format!("The request gives the parameter {name} more than once."),
            );
        }
    };
    let issuer = st.urls().sso_issuer();
    st.with_mut(|w| {
        let now = w.now_secs();
        let client = match trusted_client(&w.sso.clients, &params) {
            Ok(client) => client.clone(),
            Err(page) => return page,
        };
        let request = match checked(&params, &client) {
            Ok(request) => request,
            Err((error, description)) => {
                let target = ErrorTarget {
                    redirect_uri: params.get("redirect_uri").map_or("", String::as_str),
                    state: params.get("state").map(String::as_str),
                    issuer: &issuer,
                };
                return error_redirect(&target, error, &description);
            }
        };
        let id = w.sso.open_interaction(request, now);
        page::login(
            StatusCode::OK,
            &page::LoginForm {
                action: &format!("/sso/login/{id}"),
                client: &client.name,
                login: "",
                error: None,
            },
        )
    })
}

/// The client named by `client_id`, if its `redirect_uri` is one of its own; else the
/// error page to show.
fn trusted_client<'a>(
    clients: &'a [LoginClient],
    params: &BTreeMap<String, String>,
) -> Result<&'a LoginClient, Response> {
    let Some(client_id) = params.get("client_id") else {
        return Err(page::error(
            StatusCode::BAD_REQUEST,
            "The request names no client (client_id).",
        ));
    };
    let Some(client) = clients.iter().find(|c| &c.client_id == client_id) else {
        return Err(page::error(
            StatusCode::BAD_REQUEST,
            &format!("There is no client {client_id:?} here."),
        ));
    };
    let native = client.kind == ClientKind::Native;
    match params.get("redirect_uri") {
        Some(uri) if redirect::allowed(&client.redirect_uris, uri, native) => Ok(client),
        Some(uri) if native => Err(page::error(
            StatusCode::BAD_REQUEST,
            &format!(
                "{uri:?} is not a redirect URI of {client_id:?} (a loopback http://127.0.0.1:PORT/callback or http://[::1]:PORT/callback)."
            ),
        )),
        Some(uri) => Err(page::error(
            StatusCode::BAD_REQUEST,
            &format!(
                "{uri:?} is not a redirect URI of {client_id:?}: it must be one of its registered redirect URIs exactly."
            ),
        )),
        None => Err(page::error(
            StatusCode::BAD_REQUEST,
            "The request has no redirect_uri.",
        )),
    }
}

type Refusal = (&'static str, String);

/// The request's parameters, checked; or the OAuth error to redirect with.
fn checked(params: &BTreeMap<String, String>, client: &LoginClient) -> Result<Request, Refusal> {
    let get = |name: &str| params.get(name).map(String::as_str);
    match get("response_type") {
        Some("code") => {}
        Some(other) => {
            return Err((
                "unsupported_response_type",
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
        None => return Err(("invalid_request", "response_type is missing".into())),
    }
    let scopes = split_scopes(get("scope").unwrap_or(""));
    if let Some(unknown) = scopes.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(("invalid_scope", format!("unknown scope {unknown:?}")));
    }
    let code_challenge = pkce_challenge(get("code_challenge"), get("code_challenge_method"))?;
    if get("prompt") == Some("none") {
        return Err((
            "login_required",
            "prompt=none, and there is no session".into(),
        ));
    }
    let echoed = |name: &str| match get(name) {
        Some(v) if v.len() > MAX_ECHOED => Err((
            "invalid_request",
            format!("{name} is longer than {MAX_ECHOED} characters"),
        )),
        v => Ok(v.map(str::to_owned)),
    };
    Ok(Request {
        client_id: client.client_id.clone(),
        redirect_uri: get("redirect_uri").unwrap_or("").to_owned(),
        scopes,
        state: echoed("state")?,
        nonce: echoed("nonce")?,
        code_challenge,
        audience: requested_audience(get("resource"), get("audience"))?,
    })
}

/// PKCE is required, with S256 only (RFC 7636; `plain` offers no protection once the
/// request is seen). An S256 challenge is 43 base64url characters.
fn pkce_challenge(challenge: Option<&str>, method: Option<&str>) -> Result<String, Refusal> {
    let Some(challenge) = challenge else {
        return Err((
            "invalid_request",
            "code_challenge is required (PKCE with S256)".into(),
        ));
    };
    if method != Some("S256") {
        return Err((
            "invalid_request",
            "code_challenge_method must be S256".into(),
        ));
    }
    let base64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if challenge.len() != 43 || !challenge.chars().all(base64url) {
        return Err((
            "invalid_request",
            "code_challenge is not a base64url SHA-256 hash (43 characters)".into(),
        ));
    }
    Ok(challenge.to_owned())
}

/// The audience a request asks for: `resource` (RFC 8707: an absolute URI without a
/// fragment) or `audience` (Auth0's and Okta's name for it), not two different ones.
pub(super) fn requested_audience(
    resource: Option<&str>,
    audience: Option<&str>,
) -> Result<Option<String>, Refusal> {
    if let Some(resource) = resource {
        let absolute = Url::parse(resource).is_ok_and(|u| u.fragment().is_none());
        if !absolute {
            return Err((
                "invalid_target",
                format!("resource {resource:?} is not an absolute URI without a fragment"),
            ));
        }
    }
    match (resource, audience) {
        (Some(r), Some(a)) if r != a => Err((
            "invalid_request",
            "resource and audience name different audiences".into(),
        )),
        (r, a) => Ok(r.or(a).map(str::to_owned)),
    }
}

/// Where an error redirect goes.
struct ErrorTarget<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    issuer: &'a str,
}

fn error_redirect(target: &ErrorTarget<'_>, error: &str, description: &str) -> Response {
    let Ok(mut url) = Url::parse(target.redirect_uri) else {
        return page::error(StatusCode::BAD_REQUEST, description);
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("error", error);
        query.append_pair("error_description", description);
        if let Some(state) = target.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", target.issuer);
    }
    see_other(StatusCode::FOUND, url.as_str())
}

fn see_other(status: StatusCode, location: &str) -> Response {
    let mut resp = status.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

/// `POST /sso/login/{interaction}` (`login`, `password`): a 303 to the client with a code,
/// or the form again with 401 after a wrong password.
pub(super) async fn login(
    State(st): State<EmulatorState>,
    Path(interaction): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(form) = parse_params(&headers, &body, false) else {
        return page::error(
            StatusCode::BAD_REQUEST,
            "The login form was not sent as a form.",
        );
    };
    let field = |name: &str| form.get(name).map_or("", String::as_str);
    let (login, password) = (field("login"), field("password"));
    let issuer = st.urls().sso_issuer();
    st.with_mut(|w| {
        let now = w.now_secs();
        let Some(pending) = w.sso.interaction(&interaction, now) else {
            return page::error(
                StatusCode::BAD_REQUEST,
                "This sign-in page has expired or was already used.",
            );
        };
        let client_name = w
            .sso
            .client(&pending.request.client_id)
            .map_or_else(|| pending.request.client_id.clone(), |c| c.name.clone());
        // Every person's password is compared, so an unknown login takes as long as a
        // wrong password and gets the same answer.
        let matched = w
            .sso
            .people
            .iter()
            .filter(|p| secret_eq(&p.password, password))
            .any(|p| p.login == login);
        if !matched {
            return page::login(
                StatusCode::UNAUTHORIZED,
                &page::LoginForm {
                    action: &format!("/sso/login/{interaction}"),
                    client: &client_name,
                    login,
                    error: Some("Wrong login or password."),
                },
            );
        }
        let Some((code, request)) = w.sso.issue_code(&interaction, login, now) else {
            return page::error(
                StatusCode::BAD_REQUEST,
                "This sign-in page was already used.",
            );
        };
        code_redirect(&request, &code, &issuer)
    })
}

/// The authorization response (RFC 6749 section 4.1.2, RFC 9207): a 303, so the browser
/// GETs the redirect URI.
fn code_redirect(request: &Request, code: &str, issuer: &str) -> Response {
    let Ok(mut url) = Url::parse(&request.redirect_uri) else {
        return page::error(StatusCode::BAD_REQUEST, "The redirect URI is not valid.");
    };
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("code", code);
        if let Some(state) = &request.state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    see_other(StatusCode::SEE_OTHER, url.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_given_twice_are_named() {
        assert_eq!(
            single_params(Some("a=1&b=2&a=3")).err().as_deref(),
            Some("a")
        );
        assert_eq!(single_params(Some("a=1&b=2")).map(|p| p.len()), Ok(2));
    }

    #[test]
    fn pkce_is_s256_only() {
        let good = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(pkce_challenge(Some(good), Some("S256")).is_ok());
        assert!(pkce_challenge(Some(good), Some("plain")).is_err());
        assert!(pkce_challenge(Some(good), None).is_err());
        assert!(pkce_challenge(None, Some("S256")).is_err());
        assert!(pkce_challenge(Some("short"), Some("S256")).is_err());
    }

    #[test]
    fn audiences() {
        assert_eq!(
            requested_audience(Some("api://dcr"), None),
            Ok(Some("api://dcr".into()))
        );
        assert_eq!(
            requested_audience(None, Some("dcr")),
            Ok(Some("dcr".into()))
        );
        assert!(requested_audience(Some("relative"), None).is_err());
        assert!(requested_audience(Some("api://a"), Some("api://b")).is_err());
        assert_eq!(requested_audience(None, None), Ok(None));
    }
}
