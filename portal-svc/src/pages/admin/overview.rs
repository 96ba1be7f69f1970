//! The admin console's first page: how much there is, and what waits for someone.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use dcr_proto::registry::v1 as pb;

use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::views::{Layout, render};
use crate::web::Me;

#[derive(Template)]
#[template(path = "admin/overview.html")]
struct Overview {
    layout: Layout,
    pending: usize,
    products: usize,
    can_approve: bool,
}

pub async fn page(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    let registry = me.registry(&portal)?;
    let products = registry
        .products()
        .list_products(pb::ListProductsRequest {
            page_size: 1000,
            page_token: String::new(),
        })
        .await?
        .into_inner()
        .products
        .len();
    // Approvers, viewers and admins may list registrations; provider admins may not.
    let pending = match registry
        .products()
        .list_registrations(pb::ListProductRegistrationsRequest {
            status: pb::RegistrationStatus::Pending as i32,
            page_size: 1000,
            ..Default::default()
        })
        .await
    {
        Ok(page) => page.into_inner().registrations.len(),
        Err(status) if status.code() == tonic::Code::PermissionDenied => 0,
        Err(status) => return Err(status.into()),
    };
    Ok(render(&Overview {
        can_approve: me.person.has("admin") || me.person.has("approver"),
        layout: Layout::of(&portal, &me, "Admin", "admin"),
        pending,
        products,
    }))
}
