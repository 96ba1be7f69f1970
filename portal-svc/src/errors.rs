//! What a page shows when something fails: one type for every handler, rendered once
//! (the error page, or a redirect to sign in). Registry errors become readable messages;
//! field violations go back to the form next to their field. Internal causes are logged
//! with an error id and never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tonic::Code;
use tonic_types::StatusExt as _;

use crate::views::{ErrorPage, render};

#[derive(Debug)]
pub enum PageError {
    /// No session (or it timed out): sign in, then come back to `return_to`.
    SignIn { return_to: String },
    /// Not there, or not the person's (the same answer, so ids cannot be probed).
    NotFound,
    /// The person's roles do not allow it; the registry's message says which are needed.
    Forbidden(String),
    /// The form's CSRF token is missing or not this session's.
    Csrf,
    /// Bad input: a message, and the fields it concerns (form field name, message).
    Invalid {
        message: String,
        fields: Vec<(String, String)>,
    },
    /// The registry or the identity provider cannot be reached.
    Unavailable(String),
    /// A bug or an unexpected answer: logged under `id`.
    Internal { id: String },
    /// The sign-in at the identity provider did not complete.
    SignInFailed(String),
    /// Over a per-source limit.
    TooMany(String),
}

impl PageError {
    pub fn internal(what: &str, cause: &dyn std::fmt::Display) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        tracing::error!(error_id = %id, "{what}: {cause}");
        Self::Internal { id }
    }

    /// For a notice, where there is no form to show field messages beside: the field
    /// messages folded into the message ("... (name: is required)").
    pub fn fields_in_message(self) -> Self {
        match self {
            Self::Invalid { message, fields } => {
                let mut text = message;
                for (field, reason) in fields {
                    text.push_str(&format!(" ({field}: {reason})"));
                }
                Self::Invalid {
                    message: text,
                    fields: Vec::new(),
                }
            }
            other => other,
        }
    }
}

impl From<tonic::Status> for PageError {
    fn from(status: tonic::Status) -> Self {
        match status.code() {
            Code::InvalidArgument | Code::FailedPrecondition | Code::AlreadyExists | Code::OutOfRange => {
                let fields = status
                    .get_details_bad_request()
                    .map(|b| {
                        b.field_violations
                            .into_iter()
                            .map(|v| (form_field(&v.field), v.description))
                            .collect()
                    })
                    .unwrap_or_default();
                Self::Invalid {
                    message: status.message().to_owned(),
                    fields,
                }
            }
            Code::NotFound => Self::NotFound,
            Code::PermissionDenied => Self::Forbidden(status.message().to_owned()),
            Code::Unauthenticated => Self::SignInFailed(format!(
                "the registry did not accept your sign-in: {}",
                status.message()
            )),
            Code::Unavailable | Code::DeadlineExceeded | Code::ResourceExhausted => Self::Unavailable(
                "dcr's registry is unavailable right now; nothing was changed. Try again in a moment.".into(),
            ),
            _ => Self::internal("registry call", &format!("{:?}: {}", status.code(), status.message())),
        }
    }
}

/// A registry field path ("application.redirect_uris[1]", "product.strategy_id") as the
/// form names it ("redirect_uris", "strategy_id").
fn form_field(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.split('[').next().unwrap_or(last).to_owned()
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            Self::SignIn { return_to } => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("return_to", &return_to)
                    .finish();
                return Redirect::to(&format!("/login?{query}")).into_response();
            }
            Self::NotFound => (
                StatusCode::NOT_FOUND,
                "Not found",
                "There is nothing here, or it is not yours.".to_owned(),
            ),
            Self::Forbidden(message) => (StatusCode::FORBIDDEN, "Not allowed", message),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired",
                "The form was not sent from this session's page. Go back, reload the page and try again."
                    .to_owned(),
            ),
            Self::Invalid { message, fields } => {
                let mut text = message;
                for (field, reason) in fields {
                    text.push_str(&format!("\n{field}: {reason}"));
                }
                (StatusCode::BAD_REQUEST, "That did not work", text)
            }
            Self::Unavailable(message) => (StatusCode::SERVICE_UNAVAILABLE, "Unavailable", message),
            Self::Internal { id } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                format!("An unexpected error occurred (error id {id}); the portal's log has the details."),
            ),
            Self::SignInFailed(message) => (StatusCode::UNAUTHORIZED, "Sign-in failed", message),
            Self::TooMany(message) => (StatusCode::TOO_MANY_REQUESTS, "Slow down", message),
        };
        let page = render(&ErrorPage::new(title, &message));
        (status, page).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::form_field;

    #[test]
    fn registry_paths_become_form_fields() {
        assert_eq!(form_field("application.redirect_uris[1]"), "redirect_uris");
        assert_eq!(form_field("name"), "name");
        assert_eq!(form_field("product.strategy_id"), "strategy_id");
    }
}
