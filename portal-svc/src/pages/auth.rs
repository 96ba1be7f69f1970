//! Signing in and out. `/login` sends the browser to the identity provider with a fresh
//! `state`, `nonce` and PKCE verifier kept in the sealed sign-in cookie; `/auth/callback`
//! checks them, exchanges the code, asks the registry who the person is, and starts the
//! session; `/logout` ends it here and at the identity provider.

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{RETRY_AFTER, SET_COOKIE};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use dcr_common::peer::Peer;
use dcr_proto::registry::v1 as pb;
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::Portal;
use crate::cookies::Jar;
use crate::errors::PageError;
use crate::session::{Person, Tokens};
use crate::signin::{Pending, SIGN_IN_TTL_SECS, safe_return_to};
use crate::views::{Layout, render};
use crate::web::Me;

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
}

/// Signed in: their apps; else the welcome page with the sign-in button.
pub async fn home(State(portal): State<Portal>, headers: HeaderMap) -> Response {
    let signed_in = portal
        .cookies
        .get(&headers, Jar::Session)
        .and_then(|b| crate::session::SessionId::from_bytes(&b))
        .is_some_and(|id| portal.sessions.touch(id).is_ok());
    if signed_in {
        return Redirect::to("/apps").into_response();
    }
    render(&Home {
        layout: Layout::anonymous("Welcome"),
    })
}

#[derive(Deserialize)]
pub struct LoginQuery {
    return_to: Option<String>,
}

/// A sign-in started or finished makes the portal call the identity provider: bounded per
/// source address.
fn limited(portal: &Portal, peer: Peer) -> Option<Response> {
    let wait = portal.sign_in_limit.check(&peer.0.ip()).err()?;
    let seconds = wait.as_secs().max(1);
    let page = PageError::TooMany(format!(
        "Too many sign-ins from your address; try again in {seconds} s."
    ));
    Some((AppendHeaders([(RETRY_AFTER, seconds.to_string())]), page).into_response())
}

pub async fn login(
    State(portal): State<Portal>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    Query(q): Query<LoginQuery>,
) -> Response {
    if let Some(refused) = limited(&portal, peer) {
        return refused;
    }
    let return_to = safe_return_to(q.return_to.as_deref());
    match portal.sign_in.start(return_to, portal.sessions.now()).await {
        Ok((url, pending)) => {
            let value = serde_json::to_vec(&pending).unwrap_or_default();
            let cookie = portal.cookies.set(Jar::SignIn, &value, SIGN_IN_TTL_SECS);
            (
                AppendHeaders([(SET_COOKIE, cookie)]),
                Redirect::to(url.as_str()),
            )
                .into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "cannot start a sign-in");
            PageError::Unavailable(format!("Signing in is not possible right now: {error}"))
                .into_response()
        }
    }
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

pub async fn callback(
    State(portal): State<Portal>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    Query(back): Query<Callback>,
) -> Response {
    if let Some(refused) = limited(&portal, peer) {
        return refused;
    }
    let clear = AppendHeaders([(SET_COOKIE, portal.cookies.clear(Jar::SignIn))]);
    match finish(&portal, &headers, back).await {
        Ok((session, return_to)) => {
            let cookie = portal.cookies.set(
                Jar::Session,
                session.as_bytes(),
                portal.sessions.cookie_max_age(),
            );
            (
                clear,
                AppendHeaders([(SET_COOKIE, cookie)]),
                Redirect::to(&return_to),
            )
                .into_response()
        }
        Err(error) => (clear, error).into_response(),
    }
}

async fn finish(
    portal: &Portal,
    headers: &HeaderMap,
    back: Callback,
) -> Result<(crate::session::SessionId, String), PageError> {
    let failed = |why: &str| {
        PageError::SignInFailed(format!("{why} Start again from the portal's sign-in."))
    };
    let pending: Pending = portal
        .cookies
        .get(headers, Jar::SignIn)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| {
            failed("This sign-in was not started here, or took longer than 10 minutes.")
        })?;
    let now = portal.sessions.now();
    if now.timestamp() - pending.started > i64::try_from(SIGN_IN_TTL_SECS).unwrap_or(i64::MAX) {
        return Err(failed("The sign-in took longer than 10 minutes."));
    }
    let state = back.state.unwrap_or_default();
    if !bool::from(state.as_bytes().ct_eq(pending.state.as_bytes())) {
        return Err(failed(
            "The identity provider's answer is not for this sign-in (state).",
        ));
    }
    let issuer = portal
        .sign_in
        .issuer()
        .await
        .map_err(|e| PageError::Unavailable(e.to_string()))?;
    // RFC 9207: an answer that names an issuer must name ours (a mix-up defence).
    if back.iss.as_deref().is_some_and(|iss| iss != issuer) {
        return Err(failed("The answer came from another identity provider."));
    }
    if let Some(error) = back.error {
        let detail = back
            .error_description
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        return Err(PageError::SignInFailed(format!(
            "The identity provider said: {error}{detail}."
        )));
    }
    let code = back
        .code
        .ok_or_else(|| failed("The identity provider sent no code."))?;
    let (tokens, claims) = portal
        .sign_in
        .finish(&pending, &code, now)
        .await
        .map_err(|e| PageError::SignInFailed(e.to_string()))?;
    let person = who(portal, &tokens, &claims).await?;
    tracing::info!(subject = %person.subject, roles = ?person.roles, "signed in");
    let id = portal.sessions.create(person, tokens).ok_or_else(|| {
        PageError::Unavailable("Too many people are signed in right now; try again later.".into())
    })?;
    Ok((id, pending.return_to))
}

/// The person as the registry sees them: their roles and developer id come from the
/// registry (which verifies the token), their name from it or the ID token.
async fn who(
    portal: &Portal,
    tokens: &Tokens,
    claims: &serde_json::Value,
) -> Result<Person, PageError> {
    let me = portal
        .registry
        .acting_as(&tokens.access)?
        .identity()
        .who_am_i(pb::WhoAmIRequest::default())
        .await
        .map_err(PageError::from)?
        .into_inner();
    let claim = |name: &str| claims[name].as_str().unwrap_or_default().to_owned();
    Ok(Person {
        name: if me.name.is_empty() {
            claim("name")
        } else {
            me.name
        },
        email: if me.email.is_empty() {
            claim("email")
        } else {
            me.email
        },
        subject: me.subject,
        developer_id: me.developer_id,
        roles: me.roles,
    })
}

/// Ends the session here and its refresh token at the identity provider (best effort:
/// the session is gone either way).
pub async fn logout(State(portal): State<Portal>, me: Me) -> Response {
    if let Some(session) = portal.sessions.end(me.id)
        && let Some(refresh) = &session.tokens.refresh
        && let Err(error) = portal.sign_in.revoke(refresh).await
    {
        tracing::warn!(%error, "the identity provider did not revoke a refresh token at sign-out");
    }
    (
        AppendHeaders([(SET_COOKIE, portal.cookies.clear(Jar::Session))]),
        Redirect::to("/?signed_out=1"),
    )
        .into_response()
}
