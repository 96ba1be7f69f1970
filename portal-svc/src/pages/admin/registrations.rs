//! The registrations queue: pending first, approve or reject in one click, each row naming
//! its application and developer, filtered by product, status, application or person.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use dcr_proto::registry::v1 as pb;
use serde::Deserialize;

use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::pages::apps::status_text;
use crate::pages::notice_and_go;
use crate::views::{Layout, render, when};
use crate::web::Me;

/// How many registrations the queue shows at once (the oldest pending ones first).
const QUEUE_SIZE: i32 = 500;

pub struct Row {
    pub id: String,
    pub product: String,
    pub application_id: String,
    pub application_name: String,
    pub developer_id: String,
    /// Filters the queue to this row's application, or to its developer.
    pub app_filter: String,
    pub developer_filter: String,
    pub status: &'static str,
    pub scopes: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "admin/registrations.html")]
struct Queue {
    layout: Layout,
    rows: Vec<Row>,
    products: Vec<(String, String)>,
    filter: Filter,
    can_decide: bool,
    /// More match than the queue shows.
    more: bool,
}

/// The queue's filters, from the query string (and carried by the decision forms, so the
/// page after a decision shows the same queue).
#[derive(Deserialize, Default, Clone)]
pub struct Filter {
    #[serde(default)]
    pub product: String,
    /// "pending" (default), "approved", "rejected" or "all".
    #[serde(default)]
    pub status: String,
    /// An application id.
    #[serde(default)]
    pub app: String,
    /// A developer id.
    #[serde(default)]
    pub person: String,
}

impl Filter {
    fn registry_status(&self) -> pb::RegistrationStatus {
        match self.status.as_str() {
            "approved" => pb::RegistrationStatus::Approved,
            "rejected" => pb::RegistrationStatus::Rejected,
            "all" => pb::RegistrationStatus::Unspecified,
            _ => pb::RegistrationStatus::Pending,
        }
    }

    /// The same filter, trimmed, with the status spelled as the form offers it.
    fn normalized(self) -> Self {
        let status = match self.registry_status() {
            pb::RegistrationStatus::Approved => "approved",
            pb::RegistrationStatus::Rejected => "rejected",
            pb::RegistrationStatus::Unspecified => "all",
            pb::RegistrationStatus::Pending => "pending",
        };
        Self {
            product: self.product.trim().to_owned(),
            status: status.to_owned(),
            app: self.app.trim().to_owned(),
            person: self.person.trim().to_owned(),
        }
    }

    /// The queue's URL for this filter.
    fn url(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("product", &self.product),
            ("status", &self.status),
            ("app", &self.app),
            ("person", &self.person),
        ] {
            if !value.is_empty() {
                query.append_pair(name, value);
            }
        }
        format!("/admin/registrations?{}", query.finish())
    }
}

pub async fn queue(
    State(portal): State<Portal>,
    me: Me,
    Query(filter): Query<Filter>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let filter = filter.normalized();
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
    let listed = registry
        .products()
        .list_registrations(pb::ListProductRegistrationsRequest {
            product_id: filter.product.clone(),
            status: filter.registry_status() as i32,
            application_id: filter.app.clone(),
            developer_id: filter.person.clone(),
            page_size: QUEUE_SIZE,
            page_token: String::new(),
        })
        .await;
    let listed = match listed {
        Ok(listed) => listed.into_inner(),
        // A malformed application id in the filter: nothing matches it.
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            pb::ListRegistrationsResponse::default()
        }
        Err(status) => return Err(status.into()),
    };
    let more = !listed.next_page_token.is_empty();
    let mut registrations = listed.registrations;
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
            app_filter: Filter {
                app: r.application_id.clone(),
                status: "all".into(),
                ..Filter::default()
            }
            .url(),
            developer_filter: Filter {
                person: r.developer_id.clone(),
                status: filter.status.clone(),
                ..Filter::default()
            }
            .url(),
            id: r.id,
            application_id: r.application_id,
            application_name: r.application_name,
            developer_id: r.developer_id,
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
        filter,
        more,
    }))
}

async fn decide(
    portal: &Portal,
    me: &Me,
    id: String,
    approve: bool,
    back: Filter,
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
    let outcome = outcome
        .map(|r| {
            let r = r.into_inner();
            let verb = if approve { "approved" } else { "rejected" };
            let app = if r.application_name.is_empty() {
                String::new()
            } else {
                format!(" for {}", r.application_name)
            };
            let pending = if r.idp_pending {
                " (the identity provider has not confirmed yet; dcr keeps trying)"
            } else {
                ""
            };
            format!("Registration {verb}{app}{pending}.")
        })
        .map_err(PageError::from);
    // Back to the queue as it was filtered: built from the filter's fields only, so the
    // form cannot send the person anywhere else.
    notice_and_go(portal, me, &back.normalized().url(), outcome)
}

pub async fn approve(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
    Form(back): Form<Filter>,
) -> Result<Response, PageError> {
    decide(&portal, &me, id, true, back).await
}

pub async fn reject(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
    Form(back): Form<Filter>,
) -> Result<Response, PageError> {
    decide(&portal, &me, id, false, back).await
}
