//! Auth strategies (`/admin/strategies`): how gateways accept the apps of a provider
//! (which tokens, scopes, audience, session settings). The list, create, edit (only the
//! fields that changed are sent; `form`) and delete.

mod form;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use dcr_proto::registry::v1 as pb;

use super::manage::{self, ConfirmDelete, may_configure};
use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::pages::notice_and_go;
use crate::views::{Layout, render};
use crate::web::Me;

pub fn routes() -> Router<Portal> {
    Router::new()
        .route("/admin/strategies", get(list).post(form::create))
        .route("/admin/strategies/new", get(form::new))
        .route(
            "/admin/strategies/{id}/edit",
            get(form::edit).post(form::update),
        )
        .route(
            "/admin/strategies/{id}/delete",
            get(confirm_delete).post(delete),
        )
}

/// The auth methods: (form value, proto value, what it means).
pub(super) const METHODS: &[(&str, pb::AuthMethod, &str)] = &[
    (
        "client_credentials",
        pb::AuthMethod::ClientCredentials,
        "Client credentials: the app's client id and secret",
    ),
    (
        "bearer",
        pb::AuthMethod::Bearer,
        "Bearer: access tokens from the identity provider",
    ),
    (
        "session",
        pb::AuthMethod::Session,
        "Session: people sign in in a browser",
    ),
];

fn method_name(value: i32) -> &'static str {
    METHODS
        .iter()
        .find(|(_, m, _)| *m as i32 == value)
        .map_or("unknown", |(name, _, _)| name)
}

pub struct Row {
    pub id: String,
    pub name: String,
    pub provider: String,
    pub scopes: String,
    pub audience: String,
    pub methods: String,
    pub auto_approve: bool,
}

#[derive(Template)]
#[template(path = "admin/strategies.html")]
struct ListPage {
    layout: Layout,
    section: &'static str,
    rows: Vec<Row>,
    can_change: bool,
}

pub async fn list(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    let registry = me.registry(&portal)?;
    let providers = manage::providers(&registry).await?;
    let mut strategies = manage::strategies(&registry).await?;
    strategies.sort_by(|a, b| a.name.cmp(&b.name));
    let rows = strategies
        .into_iter()
        .map(|s| Row {
            provider: providers
                .iter()
                .find(|p| p.id == s.provider_id)
                .map_or_else(|| s.provider_id.clone(), |p| p.name.clone()),
            methods: s
                .auth_methods
                .iter()
                .map(|m| method_name(*m))
                .collect::<Vec<_>>()
                .join(", "),
            scopes: s.scopes.join(" "),
            id: s.id,
            name: s.name,
            audience: s.audience,
            auto_approve: s.auto_approve,
        })
        .collect();
    Ok(render(&ListPage {
        layout: Layout::of(&portal, &me, "Auth strategies", "admin"),
        section: "strategies",
        rows,
        can_change: may_configure(&me),
    }))
}

pub async fn confirm_delete(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let (strategy, _) = form::current(&portal, &me, &id).await?;
    Ok(render(&ConfirmDelete {
        layout: Layout::of(&portal, &me, "Delete auth strategy", "admin"),
        section: "strategies",
        kind: "auth strategy",
        name: strategy.name,
        consequence: "Gateways stop accepting apps by it. The registry refuses while a \
                      product or an application uses it."
            .into(),
        action: format!("/admin/strategies/{id}/delete"),
        cancel: "/admin/strategies".into(),
    }))
}

pub async fn delete(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let deleted = me
        .registry(&portal)?
        .strategies()
        .delete_strategy(pb::DeleteStrategyRequest { id })
        .await
        .map(|_| "The auth strategy was deleted.".to_owned())
        .map_err(PageError::from);
    notice_and_go(&portal, &me, "/admin/strategies", deleted)
}
