//! Providers (`/admin/providers`): one connection to an identity provider each. The list,
//! a provider's settings (never a secret: the registry returns none) with Verify, and
//! delete; creating and editing are `form`, the type's fields `fields`, and what a form
//! sends `request`.

mod fields;
mod form;
mod request;
mod view;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use dcr_proto::providers::{FieldKind, FieldRef};
use dcr_proto::registry::v1 as pb;

use super::manage::{self, ConfirmDelete, may_configure};
use super::staff;
use crate::Portal;
use crate::errors::PageError;
use crate::pages::notice_and_go;
use crate::views::{Layout, render, when};
use crate::web::Me;

pub fn routes() -> Router<Portal> {
    Router::new()
        .route("/admin/providers", get(list))
        .route("/admin/providers/new", get(form::types))
        .route(
            "/admin/providers/new/{kind}",
            get(form::new).post(form::create),
        )
        .route("/admin/providers/{id}", get(show))
        .route("/admin/providers/{id}/verify", axum::routing::post(verify))
        .route(
            "/admin/providers/{id}/edit",
            get(form::edit).post(form::update),
        )
        .route(
            "/admin/providers/{id}/delete",
            get(confirm_delete).post(delete),
        )
}

/// The type's title ("Okta"), or its name for a type this portal does not know.
fn type_title(provider: &pb::Provider) -> &'static str {
    provider
        .config
        .as_ref()
        .map_or("unknown", |c| fields::type_text(c.schema()).title)
}

fn labels(provider: &pb::Provider) -> Vec<String> {
    let mut labels: Vec<String> = provider
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    labels.sort();
    labels
}

pub struct Row {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub kind: &'static str,
    pub issuer: String,
    pub active: bool,
    pub labels: Vec<String>,
}

#[derive(Template)]
#[template(path = "admin/providers.html")]
struct ListPage {
    layout: Layout,
    section: &'static str,
    rows: Vec<Row>,
    can_change: bool,
}

pub async fn list(State(portal): State<Portal>, me: Me) -> Result<Response, PageError> {
    staff(&me)?;
    let mut providers = manage::providers(&me.registry(&portal)?).await?;
    providers.sort_by(|a, b| a.name.cmp(&b.name));
    let rows = providers
        .into_iter()
        .map(|p| Row {
            kind: type_title(&p),
            labels: labels(&p),
            id: p.id,
            name: p.name,
            display_name: p.display_name,
            issuer: p.issuer,
            active: p.active,
        })
        .collect();
    Ok(render(&ListPage {
        layout: Layout::of(&portal, &me, "Providers", "admin"),
        section: "providers",
        rows,
        can_change: may_configure(&me),
    }))
}

/// A setting as the provider's page shows it.
pub struct Setting {
    pub label: &'static str,
    pub value: String,
}

/// The outcome of Verify: the registry's `ok`, and its detail (what was checked, or
/// what is wrong and what to do about it).
pub struct Verified {
    pub ok: bool,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "admin/provider.html")]
struct ShowPage {
    layout: Layout,
    section: &'static str,
    id: String,
    name: String,
    display_name: String,
    kind: &'static str,
    issuer: String,
    active: bool,
    labels: Vec<String>,
    created: String,
    updated: String,
    settings: Vec<Setting>,
    /// The type's write-only fields: named, never shown.
    secrets: Vec<&'static str>,
    verified: Option<Verified>,
    can_change: bool,
}

async fn provider_page(
    portal: &Portal,
    me: &Me,
    id: String,
    verified: Option<Verified>,
) -> Result<Response, PageError> {
    staff(me)?;
    let provider = me
        .registry(portal)?
        .providers()
        .get_provider(pb::GetProviderRequest { id: id.clone() })
        .await?
        .into_inner();
    let mut settings = Vec::new();
    let mut secrets = Vec::new();
    if let Some(config) = &provider.config {
        let schema = config.schema();
        for field in schema.fields {
            let label = fields::field_text(schema, field).label;
            match (field.kind, config.field(field.name)) {
                (FieldKind::Secret, _) => secrets.push(label),
                (_, Some(FieldRef::Flag(on))) => settings.push(Setting {
                    label,
                    value: if on { "yes" } else { "no" }.into(),
                }),
                (_, Some(FieldRef::Text(text))) => settings.push(Setting {
                    label,
                    value: if text.is_empty() {
                        "(not set)".into()
                    } else {
                        text.to_owned()
                    },
                }),
                (_, None) => {}
            }
        }
    }
    Ok(render(&ShowPage {
        layout: Layout::of(portal, me, provider.name.clone(), "admin"),
        section: "providers",
        kind: type_title(&provider),
        labels: labels(&provider),
        created: when(provider.create_time.as_ref()),
        updated: when(provider.update_time.as_ref()),
        id,
        name: provider.name,
        display_name: provider.display_name,
        issuer: provider.issuer,
        active: provider.active,
        settings,
        secrets,
        verified,
        can_change: may_configure(me),
    }))
}

pub async fn show(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    provider_page(&portal, &me, id, None).await
}

/// Verify asks the registry for a harmless round trip to the IdP with the stored
/// credentials. Its answer is shown on the provider's page at once, not after a redirect:
/// the check changes nothing, so repeating it on a reload is harmless, and the result
/// belongs next to the button rather than in a notice.
pub async fn verify(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let answer = me
        .registry(&portal)?
        .providers()
        .verify_provider(pb::VerifyProviderRequest { id: id.clone() })
        .await;
    let verified = match answer {
        Ok(answer) => {
            let answer = answer.into_inner();
            Verified {
                ok: answer.ok,
                detail: answer.detail,
            }
        }
        // A refusal (the role, a bad id) is shown where the result would be.
        Err(status) => match PageError::from(status) {
            PageError::Forbidden(message) | PageError::Invalid { message, .. } => Verified {
                ok: false,
                detail: message,
            },
            other => return Err(other),
        },
    };
    provider_page(&portal, &me, id, Some(verified)).await
}

pub async fn confirm_delete(
    State(portal): State<Portal>,
    me: Me,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    staff(&me)?;
    let provider = me
        .registry(&portal)?
        .providers()
        .get_provider(pb::GetProviderRequest { id: id.clone() })
        .await?
        .into_inner();
    Ok(render(&ConfirmDelete {
        layout: Layout::of(&portal, &me, "Delete provider", "admin"),
        section: "providers",
        kind: "provider",
        name: provider.name,
        consequence: "dcr forgets the provider and its stored credentials. The registry \
                      refuses while an auth strategy uses it: delete or move those first."
            .into(),
        action: format!("/admin/providers/{id}/delete"),
        cancel: format!("/admin/providers/{id}"),
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
        .providers()
        .delete_provider(pb::DeleteProviderRequest { id: id.clone() })
        .await
        .map(|_| "The provider was deleted.".to_owned())
        .map_err(PageError::from);
    let to = if deleted.is_ok() {
        "/admin/providers".to_owned()
    } else {
        format!("/admin/providers/{id}")
    };
    notice_and_go(&portal, &me, &to, deleted)
}
