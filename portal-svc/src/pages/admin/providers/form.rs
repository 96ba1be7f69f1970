//! Creating and editing a provider. Creating starts with its type (which never changes);
//! the form then has exactly that type's fields. Secrets are password inputs that are
//! never filled in: on an edit, empty keeps the stored value, and only the fields that
//! changed are sent (the update mask), so an edit cannot overwrite what it did not touch.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use dcr_proto::providers::{TYPES, TypeSchema};
use dcr_proto::registry::v1 as pb;

use super::fields::{TYPE_TEXTS, TypeText, type_text};
use super::request::{changed_paths, check, posted_provider};
use super::view::{sections, shown_again};
use crate::Portal;
use crate::errors::PageError;
use crate::pages::admin::manage::{FormPage, Posted, form_failed};
use crate::pages::admin::staff;
use crate::views::{FormErrors, Layout, render};
use crate::web::Me;

fn schema_named(name: &str) -> Result<&'static TypeSchema, PageError> {
    TYPES
        .iter()
        .find(|t| t.name == name)
        .ok_or(PageError::NotFound)
}

#[derive(Template)]
#[template(path = "admin/provider_types.html")]
struct TypesPage {
    layout: Layout,
    section: &'static str,
    types: &'static [TypeText],
}

/// Creating a provider starts with its type.
pub async fn types(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    Ok(render(&TypesPage {
        layout: Layout::of(&portal, &me, "New provider", "admin"),
        section: "providers",
        types: TYPE_TEXTS,
    }))
}

fn new_form(
    portal: &Portal,
    me: &Me,
    schema: &TypeSchema,
    shown: &pb::Provider,
    posted: Option<&Posted>,
    errors: FormErrors,
) -> FormPage {
    let about = type_text(schema);
    FormPage {
        layout: Layout::of(portal, me, format!("New {} provider", about.title), "admin"),
        section: "providers",
        heading: format!("New {} provider", about.title),
        intro: about.about.to_owned(),
        action: format!("/admin/providers/new/{}", schema.name),
        sections: sections(schema, shown, posted, false),
        errors,
        submit: "Create the provider".into(),
        cancel: "/admin/providers".into(),
    }
}

pub async fn new(
    State(portal): State<Portal>,
    me: Me,
    Path(kind): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let schema = schema_named(&kind)?;
    let blank = pb::Provider {
        active: true,
        config: dcr_proto::registry::v1::provider::Config::empty(schema.provider_type),
        ..Default::default()
    };
    Ok(new_form(&portal, &me, schema, &blank, None, FormErrors::default()).respond())
}

/// The registry's warnings about a provider just saved (e.g. its issuer did not answer).
fn warn(portal: &Portal, me: &Me, saved: &pb::Provider) {
    for warning in &saved.warnings {
        portal
            .sessions
            .notify(me.id, true, format!("Warning: {warning}"));
    }
}

pub async fn create(
    State(portal): State<Portal>,
    me: Me,
    Path(kind): Path<String>,
    axum::Form(posted): axum::Form<Posted>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let schema = schema_named(&kind)?;
    let registry = me.registry(&portal)?;
    let provider = posted_provider(schema, &posted);
    let created = match check(&posted) {
        Ok(()) => registry
            .providers()
            .create_provider(pb::CreateProviderRequest {
                provider: Some(provider.clone()),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(PageError::from),
        Err(error) => Err(error),
    };
    match created {
        Ok(saved) => {
            warn(&portal, &me, &saved);
            portal.sessions.notify(
                me.id,
                false,
                format!(
                    "The provider {} was created. Verify it to check its credentials.",
                    saved.name
                ),
            );
            Ok(Redirect::to(&format!("/admin/providers/{}", saved.id)).into_response())
        }
        Err(error) => form_failed(error, |errors| {
            new_form(
                &portal,
                &me,
                schema,
                &shown_again(&provider),
                Some(&posted),
                errors,
            )
        }),
    }
}

/// `name`: the provider's stored name (the form's may be being changed).
fn edit_form(
    portal: &Portal,
    me: &Me,
    schema: &TypeSchema,
    (id, name): (&str, &str),
    shown: &pb::Provider,
    posted: Option<&Posted>,
    errors: FormErrors,
) -> FormPage {
    let about = type_text(schema);
    FormPage {
        layout: Layout::of(portal, me, format!("Edit {name}"), "admin"),
        section: "providers",
        heading: format!("Edit the provider {name}"),
        intro: format!(
            "{}: the type cannot change. Secrets are never shown; leave them empty to keep them.",
            about.title
        ),
        action: format!("/admin/providers/{id}/edit"),
        sections: sections(schema, shown, posted, true),
        errors,
        submit: "Save changes".into(),
        cancel: format!("/admin/providers/{id}"),
    }
}

async fn current(
    portal: &Portal,
    me: &Me,
    id: &str,
) -> Result<(pb::Provider, &'static TypeSchema), PageError> {
    let provider = me
        .registry(portal)?
        .providers()
        .get_provider(pb::GetProviderRequest { id: id.to_owned() })
        .await?
        .into_inner();
    let schema = provider
        .config
        .as_ref()
        .map(|c| c.schema())
        .ok_or_else(|| PageError::internal("provider without a config", &provider.id))?;
    Ok((provider, schema))
}

pub async fn edit(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let (provider, schema) = current(&portal, &me, &id).await?;
    Ok(edit_form(
        &portal,
        &me,
        schema,
        (&id, &provider.name),
        &provider,
        None,
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
    let (stored, schema) = current(&portal, &me, &id).await?;
    let wanted = posted_provider(schema, &posted);
    let paths = changed_paths(schema, &stored, &wanted, &posted);
    let saved = match check(&posted) {
        Err(error) => Err(error),
        Ok(()) if paths.is_empty() => {
            portal.sessions.notify(me.id, false, "Nothing changed.");
            return Ok(Redirect::to(&format!("/admin/providers/{id}")).into_response());
        }
        Ok(()) => me
            .registry(&portal)?
            .providers()
            .update_provider(pb::UpdateProviderRequest {
                provider: Some(pb::Provider {
                    id: id.clone(),
                    ..wanted.clone()
                }),
                update_mask: Some(prost_types::FieldMask { paths }),
            })
            .await
            .map(tonic::Response::into_inner)
            .map_err(PageError::from),
    };
    match saved {
        Ok(saved) => {
            warn(&portal, &me, &saved);
            portal.sessions.notify(
                me.id,
                false,
                format!("The provider {} was saved.", saved.name),
            );
            Ok(Redirect::to(&format!("/admin/providers/{id}")).into_response())
        }
        Err(error) => form_failed(error, |errors| {
            edit_form(
                &portal,
                &me,
                schema,
                (&id, &stored.name),
                &shown_again(&wanted),
                Some(&posted),
                errors,
            )
        }),
    }
}
