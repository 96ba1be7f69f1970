//! The site, one module per part: sign-in and sign-out, the product catalog, a developer's
//! applications, and the admin console.

pub mod admin;
pub mod apps;
pub mod assets;
pub mod auth;
pub mod catalog;

use axum::Router;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::Portal;
use crate::errors::PageError;
use crate::web::Me;

pub fn routes() -> Router<Portal> {
    Router::new()
        .route("/", get(auth::home))
        .route("/login", get(auth::login))
        .route("/auth/callback", get(auth::callback))
        .route("/logout", post(auth::logout))
        .route("/catalog", get(catalog::page))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/new", get(apps::new))
        .route("/apps/{id}", get(apps::show))
        .route("/apps/{id}/secret", get(apps::secret))
        .route(
            "/apps/{id}/delete",
            get(apps::confirm_delete).post(apps::delete),
        )
        .route("/apps/{id}/credentials", post(apps::add_credential))
        .route("/apps/{id}/regenerate", post(apps::regenerate))
        .route(
            "/apps/{id}/credentials/{credential}/revoke",
            post(apps::revoke_credential),
        )
        .route("/apps/{id}/registrations", post(apps::register))
        .route(
            "/apps/{id}/registrations/{registration}/delete",
            post(apps::unregister),
        )
        .merge(admin::routes())
}

/// A change done or refused: a notice (the registry's message when refused), then `to`.
/// Errors that are no refusal (unavailable, not found) are the error page.
pub fn notice_and_go(
    portal: &Portal,
    me: &Me,
    to: &str,
    outcome: Result<String, PageError>,
) -> Result<Response, PageError> {
    match outcome {
        Ok(text) => portal.sessions.notify(me.id, false, text),
        Err(PageError::Invalid { message, .. } | PageError::Forbidden(message)) => {
            portal.sessions.notify(me.id, true, message);
        }
        Err(other) => return Err(other),
    }
    Ok(Redirect::to(to).into_response())
}
