//! The SSO issuer's two pages: the login form and the error page. Plain HTML that works
//! without JavaScript or CSS: a language, a title, a heading, labelled fields with
//! autocomplete hints, errors announced (`role="alert"`). Everything that comes from a
//! request is HTML-escaped.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `text` safe inside HTML text and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        title = escape(title),
    );
    let mut resp = (status, page).into_response();
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // A login page is never cached, and never framed (clickjacking).
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        // No `form-action`: browsers apply it to the redirect after the login post too,
        // and that goes to the client's loopback port.
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
    resp
}

/// What the login form shows.
pub(crate) struct LoginForm<'a> {
    /// Where the form posts: `/sso/login/{interaction}`.
    pub action: &'a str,
    /// The client's display name.
    pub client: &'a str,
    /// The login typed before, shown again after a wrong password.
    pub login: &'a str,
    pub error: Option<&'a str>,
}

pub(crate) fn login(status: StatusCode, form: &LoginForm<'_>) -> Response {
    let error = form.error.map_or(String::new(), |e| {
        format!("<p role=\"alert\" id=\"error\">{}</p>\n", escape(e))
    });
    let described = if form.error.is_some() {
        " aria-describedby=\"error\""
    } else {
        ""
    };
    let body = format!(
        "<h1>Sign in</h1>\n<p>to continue to {client}</p>\n{error}\
         <form method=\"post\" action=\"{action}\">\n\
         <p><label for=\"login\">Login</label>\n\
         <input id=\"login\" name=\"login\" type=\"text\" autocomplete=\"username\" \
         autocapitalize=\"none\" required value=\"{login}\"{described}></p>\n\
         <p><label for=\"password\">Password</label>\n\
         <input id=\"password\" name=\"password\" type=\"password\" \
         autocomplete=\"current-password\" required{described}></p>\n\
         <p><button type=\"submit\">Sign in</button></p>\n</form>\n",
        client = escape(form.client),
        action = escape(form.action),
        login = escape(form.login),
    );
    html(status, "Sign in", &body)
}

/// An error shown to the person, for requests that cannot be sent back to the client
/// (an unknown client, a redirect URI that is not the client's, an expired login page).
pub(crate) fn error(status: StatusCode, what: &str) -> Response {
    let body = format!(
        "<h1>Sign-in failed</h1>\n<p role=\"alert\">{}</p>\n\
         <p>Start again from the application you were signing in to.</p>\n",
        escape(what)
    );
    html(status, "Sign-in failed", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
