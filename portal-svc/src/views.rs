//! The pages' templates (askama, under templates/) and what every page shares: the
//! [`Layout`] (title, who is signed in, the CSRF token for its forms, notices).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::Portal;
use crate::session::{Notice, Person};
use crate::web::Me;

/// What the frame of every page shows.
pub struct Layout {
    pub title: String,
    pub person: Option<Person>,
    pub csrf: String,
    pub notices: Vec<Notice>,
    /// The navigation entry to mark as current ("apps", "catalog", "admin", ...).
    pub nav: &'static str,
}

impl Layout {
    pub fn anonymous(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            person: None,
            csrf: String::new(),
            notices: Vec::new(),
            nav: "",
        }
    }

    /// The frame for `me`, with the notices left for this page (shown once).
    pub fn of(portal: &Portal, me: &Me, title: impl Into<String>, nav: &'static str) -> Self {
        Self {
            title: title.into(),
            person: Some(me.person.clone()),
            csrf: me.csrf.clone(),
            notices: portal.sessions.take_notices(me.id),
            nav,
        }
    }

    pub fn staff(&self) -> bool {
        self.person.as_ref().is_some_and(Person::is_staff)
    }

    pub fn current(&self, nav: &str) -> &'static str {
        if self.nav == nav { "page" } else { "false" }
    }
}

/// The HTML of `page`, or a plain 500 if a template fails (logged).
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "a page template failed to render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "the page could not be rendered",
            )
                .into_response()
        }
    }
}

/// A form's messages from the registry: one at the top, others next to their fields.
#[derive(Default)]
pub struct FormErrors {
    pub message: Option<String>,
    pub fields: Vec<(String, String)>,
}

impl FormErrors {
    pub fn from(error: &crate::errors::PageError) -> Option<Self> {
        match error {
            crate::errors::PageError::Invalid { message, fields } => Some(Self {
                message: Some(message.clone()),
                fields: fields.clone(),
            }),
            _ => None,
        }
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, m)| m.as_str())
    }

    /// The message is about no field shown on the form.
    pub fn general(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub layout: Layout,
    pub message: String,
}

impl ErrorPage {
    pub fn new(title: &str, message: &str) -> Self {
        Self {
            layout: Layout::anonymous(title),
            message: message.to_owned(),
        }
    }
}

/// A timestamp as pages show it.
pub fn when(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}
