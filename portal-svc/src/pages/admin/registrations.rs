//! The registrations queue: pending first, approve or reject in one click, filtered by
//! product or status.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use dcr_proto::registry::v1 as pb;
use serde::Deserialize;

use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::pages::apps::status_text;
use crate::views::{Layout, render, when};
use crate::web::Me;

pub struct Row {
    pub id: String,
    pub product: String,
    pub application_id: String,
    pub status: &'static str,
    pub pending: bool,
    pub scopes: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/registrations.html")]
struct Queue {
    layout: Layout,
    rows: Vec<Row>,
    products: Vec<(String, String)>,
    product: String,
    status: String,
    can_decide: bool,
}

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    product: String,
    /// "pending" (default), "approved", "rejected" or "all".
    #[serde(default)]
    status: String,
}

pub async fn queue(
    State(portal): State<Portal>,
    me: Me,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let registry = me.registry(&portal)?;
    let products: Vec<(String, String)> = registry
        .products()
        .list_products(pb::ListProductsRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .products
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let status = match filter.status.as_str() {
        "approved" => pb::RegistrationStatus::Approved,
        "rejected" => pb::RegistrationStatus::Rejected,
        "all" => pb::RegistrationStatus::Unspecified,
        _ => pb::RegistrationStatus::Pending,
    };
    let mut registrations = registry
        .products()
        .list_registrations(pb::ListProductRegistrationsRequest {
            product_id: filter.product.clone(),
            status: status as i32,
            page_size: 500,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .registrations;
    // Pending first, then oldest first: the queue's order.
    registrations.sort_by_key(|r| {
        (
            r.status != pb::RegistrationStatus::Pending as i32,
            r.create_time.map(|t| t.seconds),
        )
    });
    let rows = registrations
        .into_iter()
        .map(|r| Row {
            product: products
                .iter()
                .find(|(id, _)| *id == r.product_id)
                .map_or_else(|| r.product_id.clone(), |(_, name)| name.clone()),
            pending: r.status == pb::RegistrationStatus::Pending as i32,
            id: r.id,
            application_id: r.application_id,
            status: status_text(r.status),
            scopes: r.scopes.join(" "),
            created: when(r.create_time.as_ref()),
        })
        .collect();
    Ok(render(&Queue {
        can_decide: me.person.has("admin") || me.person.has("approver"),
        layout: Layout::of(&portal, &me, "Registrations", "admin"),
        rows,
        products,
        product: filter.product,
        status: match status {
            pb::RegistrationStatus::Approved => "approved",
            pb::RegistrationStatus::Rejected => "rejected",
            pb::RegistrationStatus::Unspecified => "all",
            _ => "pending",
        }
        .to_owned(),
    }))
}

async fn decide(
    portal: &Portal,
    me: &Me,
    id: String,
    approve: bool,
) -> Result<Response, PageError> {
    staff(me)?;
    let mut products = me.registry(portal)?.products();
    let outcome = if approve {
        products
            .approve_registration(pb::ApproveRegistrationRequest { id })
            .await
    } else {
        products
            .reject_registration(pb::RejectRegistrationRequest { id })
            .await
    };
    match outcome {
        Ok(r) => {
            let r = r.into_inner();
            let verb = if approve { "approved" } else { "rejected" };
            let pending = if r.idp_pending {
                " (the identity provider has not confirmed yet; dcr keeps trying)"
            } else {
                ""
            };
            portal
                .sessions
                .notify(me.id, false, format!("Registration {verb}{pending}."));
        }
        Err(status) => match PageError::from(status) {
            PageError::Invalid { message, .. } | PageError::Forbidden(message) => {
                portal.sessions.notify(me.id, true, message);
            }
            other => return Err(other),
        },
    }
    Ok(Redirect::to("/admin/registrations").into_response())
}

pub async fn approve(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    decide(&portal, &me, id, true).await
}

pub async fn reject(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    decide(&portal, &me, id, false).await
}
