//! What the configuration pages (providers, strategies, products) share: who may change
//! what (only to leave out buttons; the registry decides), the lists they choose from,
//! the form and delete-confirmation pages, and how a change's outcome is shown.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dcr_proto::registry::v1 as pb;

// `Input` names the field kinds in templates/admin/field.html.
use super::field::{Input, Section, place_errors};
use crate::errors::PageError;
use crate::registry::As;
use crate::views::{FormErrors, Layout, render};
use crate::web::Me;

/// Providers and auth strategies: admins and provider admins.
pub fn may_configure(me: &Me) -> bool {
    me.person.has("admin") || me.person.has("provider-admin")
}

/// Products: admins only (provider admins read them).
pub fn may_publish(me: &Me) -> bool {
    me.person.has("admin")
}

/// How many of each kind the pages list at most: far more than an organisation
/// configures, bounded for the portal.
const MAX_LISTED: usize = 1000;

pub async fn providers(registry: &As) -> Result<Vec<pb::Provider>, PageError> {
    let mut client = registry.providers();
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_providers(pb::ListProvidersRequest {
                page_size: 200,
                page_token,
            })
            .await?
            .into_inner();
        all.extend(page.providers);
        if page.next_page_token.is_empty() || all.len() >= MAX_LISTED {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

pub async fn strategies(registry: &As) -> Result<Vec<pb::AuthStrategy>, PageError> {
    let mut client = registry.strategies();
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_strategies(pb::ListStrategiesRequest {
                page_size: 200,
                page_token,
            })
            .await?
            .into_inner();
        all.extend(page.strategies);
        if page.next_page_token.is_empty() || all.len() >= MAX_LISTED {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

pub async fn products(registry: &As) -> Result<Vec<pb::ApiProduct>, PageError> {
    let mut client = registry.products();
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .list_products(pb::ListProductsRequest {
                page_size: 200,
                page_token,
            })
            .await?
            .into_inner();
        all.extend(page.products);
        if page.next_page_token.is_empty() || all.len() >= MAX_LISTED {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

/// Space- or line-separated words (scopes, claims).
pub fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_owned).collect()
}

/// A form's fields as posted: checkboxes appear only when checked, and a group of them
/// repeats its name, so the pairs are kept as sent.
#[derive(serde::Deserialize)]
#[serde(transparent)]
pub struct Posted(Vec<(String, String)>);

impl Posted {
    /// The first value of `name` ("" when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name` (a group of checkboxes).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A checkbox is checked.
    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }
}

/// A portal-side refusal of one field, shaped like the registry's.
pub fn invalid(field: &str, message: &str) -> PageError {
    PageError::Invalid {
        message: format!("{field}: {message}"),
        fields: vec![(field.to_owned(), message.to_owned())],
    }
}

#[derive(Template)]
#[template(path = "admin/form.html")]
pub struct FormPage {
    pub layout: Layout,
    /// The admin sub-navigation entry to mark ("providers", ...).
    pub section: &'static str,
    pub heading: String,
    pub intro: String,
    pub action: String,
    pub sections: Vec<Section>,
    pub errors: FormErrors,
    pub submit: String,
    pub cancel: String,
}

impl FormPage {
    /// The page, 200; with errors (placed next to their fields), 400.
    pub fn respond(mut self) -> Response {
        place_errors(&mut self.sections, &self.errors);
        let status = if self.errors.message.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        (status, render(&self)).into_response()
    }
}

/// A failed save: field errors go back to the form (`form` renders it with them); any
/// other failure is the error page.
pub fn form_failed(
    error: PageError,
    form: impl FnOnce(FormErrors) -> FormPage,
) -> Result<Response, PageError> {
    match FormErrors::from(&error) {
        Some(errors) => Ok(form(errors).respond()),
        None => Err(error),
    }
}

#[derive(Template)]
#[template(path = "admin/confirm_delete.html")]
pub struct ConfirmDelete {
    pub layout: Layout,
    pub section: &'static str,
    /// "provider", "auth strategy", "product".
    pub kind: &'static str,
    pub name: String,
    /// What deleting it does, and when the registry refuses.
    pub consequence: String,
    pub action: String,
    pub cancel: String,
}
