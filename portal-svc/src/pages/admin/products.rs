//! API products (`/admin/products`): what developers see in the catalog and register
//! their apps for, each under an auth strategy. The list, create, edit (only the fields
//! that changed are sent) and delete.

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use dcr_proto::registry::v1 as pb;

use super::field::{Choice, Field, Input, Section};
use super::manage::{self, ConfirmDelete, FormPage, Posted, form_failed, may_publish};
use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::pages::notice_and_go;
use crate::views::{FormErrors, Layout, render};
use crate::web::Me;

pub fn routes() -> Router<Portal> {
    Router::new()
        .route("/admin/products", get(list).post(create))
        .route("/admin/products/new", get(new))
        .route("/admin/products/{id}/edit", get(edit).post(update))
        .route(
            "/admin/products/{id}/delete",
            get(confirm_delete).post(delete),
        )
}

pub struct Row {
    pub id: String,
    pub name: String,
    pub description: String,
    pub strategy: String,
    pub audience: String,
}

#[derive(Template)]
#[template(path = "admin/products.html")]
struct ListPage {
    layout: Layout,
    section: &'static str,
    rows: Vec<Row>,
    can_change: bool,
}

fn strategy_name(strategies: &[pb::AuthStrategy], id: &str) -> String {
    strategies
        .iter()
        .find(|s| s.id == id)
        .map_or_else(|| id.to_owned(), |s| s.name.clone())
}

pub async fn list(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    let registry = me.registry(&portal)?;
    let strategies = manage::strategies(&registry).await?;
    let mut products = manage::products(&registry).await?;
    products.sort_by(|a, b| a.name.cmp(&b.name));
    let rows = products
        .into_iter()
        .map(|p| Row {
            strategy: strategy_name(&strategies, &p.strategy_id),
            id: p.id,
            name: p.name,
            description: p.description,
            audience: p.audience,
        })
        .collect();
    Ok(render(&ListPage {
        layout: Layout::of(&portal, &me, "API products", "admin"),
        section: "products",
        rows,
        can_change: may_publish(&me),
    }))
}

fn posted_product(posted: &Posted) -> pb::ApiProduct {
    pb::ApiProduct {
        name: posted.get("name").trim().to_owned(),
        description: posted.get("description").trim().to_owned(),
        strategy_id: posted.get("strategy_id").to_owned(),
        audience: posted.get("audience").trim().to_owned(),
        ..Default::default()
    }
}

/// The update mask: the fields whose posted value differs from the stored one.
fn changed_paths(current: &pb::ApiProduct, wanted: &pb::ApiProduct) -> Vec<String> {
    [
        ("name", wanted.name != current.name),
        ("description", wanted.description != current.description),
        ("strategy_id", wanted.strategy_id != current.strategy_id),
        ("audience", wanted.audience != current.audience),
    ]
    .into_iter()
    .filter(|(_, changed)| *changed)
    .map(|(path, _)| path.to_owned())
    .collect()
}

fn sections(shown: &pb::ApiProduct, strategies: &[pb::AuthStrategy]) -> Vec<Section> {
    let mut options = vec![Choice::new("", "Choose…", shown.strategy_id.is_empty())];
    options.extend(
        strategies
            .iter()
            .map(|s| Choice::new(&s.id, &s.name, s.id == shown.strategy_id)),
    );
    vec![Section::new(
        "",
        vec![
            Field::text(
                "name",
                "Name",
                "How the catalog shows the product to developers.",
                &shown.name,
            )
            .required(true),
            Field::new(
                "description",
                "Description",
                "What the API does, for developers choosing a product.",
                Input::Area {
                    value: shown.description.clone(),
                },
            ),
            Field::new(
                "strategy_id",
                "Auth strategy",
                "How the product's gateways accept apps, and at which provider their clients are made.",
                Input::Select { options },
            )
            .required(true),
            Field::text(
                "audience",
                "Audience",
                "Empty: the strategy's audience.",
                &shown.audience,
            ),
        ],
    )]
}

fn form(
    portal: &Portal,
    me: &Me,
    editing: Option<(&str, &str)>,
    shown: &pb::ApiProduct,
    strategies: &[pb::AuthStrategy],
    errors: FormErrors,
) -> FormPage {
    let (title, heading, action, submit) = match editing {
        None => (
            "New API product".to_owned(),
            "New API product".to_owned(),
            "/admin/products".to_owned(),
            "Create the product",
        ),
        Some((id, name)) => (
            format!("Edit {name}"),
            format!("Edit the API product {name}"),
            format!("/admin/products/{id}/edit"),
            "Save changes",
        ),
    };
    FormPage {
        layout: Layout::of(portal, me, title, "admin"),
        section: "products",
        heading,
        intro: "Developers find products in the catalog and register their apps for them.".into(),
        action,
        sections: sections(shown, strategies),
        errors,
        submit: submit.into(),
        cancel: "/admin/products".into(),
    }
}

pub async fn new(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    let strategies = manage::strategies(&me.registry(&portal)?).await?;
    let blank = pb::ApiProduct::default();
    Ok(form(
        &portal,
        &me,
        None,
        &blank,
        &strategies,
        FormErrors::default(),
    )
    .respond())
}

pub async fn create(
    State(portal): State<Portal>,
    me: Me,
    axum::Form(posted): axum::Form<Posted>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let registry = me.registry(&portal)?;
    let product = posted_product(&posted);
    let created = registry
        .products()
        .create_product(pb::CreateProductRequest {
            product: Some(product.clone()),
        })
        .await;
    match created {
        Ok(saved) => {
            let text = format!("The API product {} was created.", saved.into_inner().name);
            portal.sessions.notify(me.id, false, text);
            Ok(Redirect::to("/admin/products").into_response())
        }
        // A refusal is the error page before anything else is asked of the registry.
        Err(status) => {
            let error = PageError::from(status);
            if FormErrors::from(&error).is_none() {
                return Err(error);
            }
            let strategies = manage::strategies(&registry).await?;
            form_failed(error, |errors| {
                form(&portal, &me, None, &product, &strategies, errors)
            })
        }
    }
}

async fn current(portal: &Portal, me: &Me, id: &str) -> Result<pb::ApiProduct, PageError> {
    Ok(me
        .registry(portal)?
        .products()
        .get_product(pb::GetProductRequest { id: id.to_owned() })
        .await?
        .into_inner())
}

pub async fn edit(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let product = current(&portal, &me, &id).await?;
    let strategies = manage::strategies(&me.registry(&portal)?).await?;
    let editing = Some((id.as_str(), product.name.as_str()));
    Ok(form(
        &portal,
        &me,
        editing,
        &product,
        &strategies,
        FormErrors::default(),
    )
    .respond())
}

pub async fn update(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
    axum::Form(posted): axum::Form<Posted>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let stored = current(&portal, &me, &id).await?;
    let wanted = posted_product(&posted);
    let paths = changed_paths(&stored, &wanted);
    if paths.is_empty() {
        portal.sessions.notify(me.id, false, "Nothing changed.");
        return Ok(Redirect::to("/admin/products").into_response());
    }
    let registry = me.registry(&portal)?;
    let saved = registry
        .products()
        .update_product(pb::UpdateProductRequest {
            product: Some(pb::ApiProduct {
                id: id.clone(),
                ..wanted.clone()
            }),
            update_mask: Some(prost_types::FieldMask { paths }),
        })
        .await;
    match saved {
        Ok(saved) => {
            let text = format!("The API product {} was saved.", saved.into_inner().name);
            portal.sessions.notify(me.id, false, text);
            Ok(Redirect::to("/admin/products").into_response())
        }
        // A refusal is the error page before anything else is asked of the registry.
        Err(status) => {
            let error = PageError::from(status);
            if FormErrors::from(&error).is_none() {
                return Err(error);
            }
            let strategies = manage::strategies(&registry).await?;
            let editing = Some((id.as_str(), stored.name.as_str()));
            form_failed(error, |errors| {
                form(&portal, &me, editing, &wanted, &strategies, errors)
            })
        }
    }
}

pub async fn confirm_delete(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let product = current(&portal, &me, &id).await?;
    Ok(render(&ConfirmDelete {
        layout: Layout::of(&portal, &me, "Delete API product", "admin"),
        section: "products",
        kind: "API product",
        name: product.name,
        consequence: "It leaves the catalog. The registry refuses while apps are registered \
                      for it: remove those registrations first."
            .into(),
        action: format!("/admin/products/{id}/delete"),
        cancel: "/admin/products".into(),
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
        .products()
        .delete_product(pb::DeleteProductRequest { id })
        .await
        .map(|_| "The API product was deleted.".to_owned())
        .map_err(PageError::from);
    notice_and_go(&portal, &me, "/admin/products", deleted)
}
