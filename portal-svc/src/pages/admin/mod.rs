//! The admin console, for people with a staff role (admin, provider-admin, approver,
//! viewer). The registry decides each action by the person's roles; these pages only
//! leave out what a role cannot use, and show the registry's refusal otherwise.

pub mod audit;
pub mod checks;
pub mod field;
pub mod manage;
pub mod overview;
pub mod products;
pub mod providers;
pub mod registrations;
pub mod strategies;

use axum::Router;
use axum::routing::{get, post};

use crate::Portal;
use crate::errors::PageError;
use crate::web::Me;

pub fn routes() -> Router<Portal> {
    Router::new()
        .route("/admin", get(overview::page))
        .route("/admin/check", post(overview::check))
        .route("/admin/audit", get(audit::page))
        .route("/admin/registrations", get(registrations::queue))
        .route(
            "/admin/registrations/{id}/approve",
            post(registrations::approve),
        )
        .route(
            "/admin/registrations/{id}/reject",
            post(registrations::reject),
        )
        .merge(providers::routes())
        .merge(strategies::routes())
        .merge(products::routes())
}

/// Staff only: a developer who types an admin address gets a clear refusal.
pub fn staff(me: &Me) -> Result<(), PageError> {
    if me.person.is_staff() {
        Ok(())
    } else {
        Err(PageError::Forbidden(
            "The admin console is for admins, provider admins, approvers and viewers; you are signed in as a developer.".into(),
        ))
    }
}
