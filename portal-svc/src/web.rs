//! The router and what every request goes through: security headers on every response,
//! the CSRF check on every form post, and [`Me`], the signed-in person of a page.

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http_body_util::BodyExt as _;
use secrecy::SecretString;
use subtle::ConstantTimeEq as _;

use crate::Portal;
use crate::cookies::Jar;
use crate::errors::PageError;
use crate::pages;
use crate::session::{Gone, Person, SessionId};

/// The largest form the portal accepts (a provider's private key is the biggest field).
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Refresh the access token this long before it expires.
const REFRESH_MARGIN: chrono::Duration = chrono::Duration::seconds(30);

pub fn router(portal: Portal) -> Router {
    Router::new()
        .merge(pages::routes())
        .route("/healthz", get(|| async { "ok" }))
        .route("/static/portal.css", get(pages::assets::css))
        .route("/static/portal.js", get(pages::assets::js))
        .fallback(|| async { PageError::NotFound })
        .layer(middleware::from_fn_with_state(portal.clone(), check_csrf))
        .layer(middleware::from_fn_with_state(
            portal.clone(),
            security_headers,
        ))
        .with_state(portal)
}

/// Every response: a strict Content-Security-Policy (only this origin's script and style,
/// no inline script, no framing, forms post only here), no MIME sniffing, no referrer, and
/// no caching of pages (they show people's data, and once a secret).
async fn security_headers(State(portal): State<Portal>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if portal.config.secure_cookies() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        );
    }
    response
}

/// Every POST is a form of a signed-in session's page and carries that session's CSRF
/// token in the `csrf` field; anything else is refused before a handler runs, so no
/// handler can forget. A post without a session goes to sign in.
async fn check_csrf(State(portal): State<Portal>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(id) = session_id(&portal, request.headers()) else {
        return PageError::SignIn {
            return_to: "/".into(),
        }
        .into_response();
    };
    let Ok(session) = portal.sessions.touch(id) else {
        return PageError::SignIn {
            return_to: "/".into(),
        }
        .into_response();
    };
    let (parts, body) = request.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_FORM_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is larger than 64 KiB",
            )
                .into_response();
        }
    };
    let sent = url::form_urlencoded::parse(&bytes)
        .find(|(name, _)| name == "csrf")
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default();
    let expected = session.csrf.as_bytes();
    if sent.len() != expected.len() || !bool::from(sent.as_bytes().ct_eq(expected)) {
        tracing::warn!(path = %parts.uri.path(), "a form post without this session's CSRF token was refused");
        return PageError::Csrf.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn session_id(portal: &Portal, headers: &axum::http::HeaderMap) -> Option<SessionId> {
    portal
        .cookies
        .get(headers, Jar::Session)
        .and_then(|bytes| SessionId::from_bytes(&bytes))
}

/// The signed-in person of a request, with a fresh access token; without one the page
/// sends them to sign in and back here.
pub struct Me {
    pub id: SessionId,
    pub person: Person,
    pub csrf: String,
    pub token: SecretString,
}

impl FromRequestParts<Portal> for Me {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, portal: &Portal) -> Result<Self, PageError> {
        // Back to this page after signing in; after a form post, to the page it came from.
        let return_to = if parts.method == Method::GET {
            parts
                .uri
                .path_and_query()
                .map_or("/", |p| p.as_str())
                .to_owned()
        } else {
            "/".to_owned()
        };
        let sign_in = || PageError::SignIn {
            return_to: return_to.clone(),
        };
        let id = session_id(portal, &parts.headers).ok_or_else(sign_in)?;
        let session = portal.sessions.touch(id).map_err(|gone| match gone {
            Gone::None | Gone::Expired => sign_in(),
        })?;
        let now = portal.sessions.now();
        let mut tokens = session.tokens.clone();
        if tokens.expires_at - REFRESH_MARGIN <= now {
            let Some(refresh) = &tokens.refresh else {
                portal.sessions.end(id);
                return Err(sign_in());
            };
            match portal.sign_in.refresh(refresh, now).await {
                Ok(fresh) => {
                    tokens = fresh.clone();
                    portal.sessions.update(id, |s| s.tokens = fresh);
                }
                Err(error) => {
                    tracing::info!(%error, "a session ended: its tokens could not be refreshed");
                    portal.sessions.end(id);
                    return Err(sign_in());
                }
            }
        }
        Ok(Self {
            id,
            person: session.person,
            csrf: session.csrf,
            token: tokens.access,
        })
    }
}

impl Me {
    /// The registry as this person.
    pub fn registry(&self, portal: &Portal) -> Result<crate::registry::As, PageError> {
        Ok(portal.registry.acting_as(&self.token)?)
    }
}
