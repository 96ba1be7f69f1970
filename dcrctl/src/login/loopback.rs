//! The loopback redirect of RFC 8252 section 7.3: a listener on 127.0.0.1 at a port the
//! operating system picks, waiting for the one request the browser makes when the
//! identity provider redirects back (`/callback?code=...&state=...`). The IP literal,
//! not `localhost` (section 8.3): a name could resolve elsewhere, and the provider
//! matches the registered `http://127.0.0.1/callback` on any port.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use super::LoginError;

/// What the redirect must carry to be this sign-in's.
#[derive(Debug, Clone)]
pub struct Expected {
    pub state: String,
    pub issuer: String,
}

type Outcome = Result<String, String>;

#[derive(Clone)]
struct Waiting {
    expected: Expected,
    /// Taken by the first redirect: one sign-in, one answer.
    done: Arc<Mutex<Option<oneshot::Sender<Outcome>>>>,
}

pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

impl Loopback {
    pub async fn bind() -> Result<Self, LoginError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            LoginError::Store(format!(
                "cannot listen on 127.0.0.1 for the sign-in's redirect: {e}"
            ))
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| LoginError::Store(format!("cannot listen on 127.0.0.1: {e}")))?
            .port();
        Ok(Self { listener, port })
    }

    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// The authorization code of the first redirect that arrives within `timeout`, if it
    /// is this sign-in's and not an error.
    pub async fn wait(self, expected: Expected, timeout: Duration) -> Result<String, LoginError> {
        let (tx, rx) = oneshot::channel();
        let waiting = Waiting {
            expected,
            done: Arc::new(Mutex::new(Some(tx))),
        };
        let app = Router::new()
            .route("/callback", get(callback))
            .with_state(waiting);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            axum::serve(self.listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.await;
                })
                .await
        });
        let outcome = tokio::time::timeout(timeout, rx).await;
        let _ = stop_tx.send(());
        // The browser's page is on its way; a keep-alive connection must not hold us.
        let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        match outcome {
            Err(_) => Err(LoginError::TimedOut(timeout)),
            Ok(Err(_)) => Err(LoginError::Redirect("the redirect listener stopped".into())),
            Ok(Ok(Ok(code))) => Ok(code),
            Ok(Ok(Err(problem))) => Err(LoginError::Redirect(problem)),
        }
    }
}

/// What the redirect says: the code, or why it is not usable.
fn judge(expected: &Expected, uri: &Uri) -> Outcome {
    let mut params = std::collections::BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        params
            .entry(k.into_owned())
            .or_insert_with(|| v.into_owned());
    }
    let get = |name: &str| params.get(name).map(String::as_str);
    if get("state") != Some(expected.state.as_str()) {
        return Err("the redirect is not for this sign-in (its state does not match)".into());
    }
    // RFC 9207: a provider that names itself must be the one asked (mix-up attacks).
    if let Some(iss) = get("iss")
        && iss != expected.issuer
    {
        return Err(format!(
            "the redirect comes from {}, not from {}",
            dcr_common::text::echo(iss),
            expected.issuer
        ));
    }
    if let Some(error) = get("error") {
        let description = get("error_description").map_or(String::new(), |d| {
            format!(" ({})", dcr_common::text::excerpt(d, 300))
        });
        return Err(format!(
            "the identity provider answered {}{description}",
            dcr_common::text::echo(error)
        ));
    }
    get("code")
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "the redirect carries no code".into())
}

async fn callback(State(waiting): State<Waiting>, uri: Uri) -> Response {
    let sender = waiting
        .done
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    let Some(sender) = sender else {
        return page(
            StatusCode::CONFLICT,
            "This sign-in is already over. You can close this tab.",
        );
    };
    let outcome = judge(&waiting.expected, &uri);
    let shown = match &outcome {
        Ok(_) => page(
            StatusCode::OK,
            "Signed in. You can close this tab and go back to the terminal.",
        ),
        Err(problem) => page(
            StatusCode::BAD_REQUEST,
            &format!("Sign-in failed: {problem}. Run dcrctl login again."),
        ),
    };
    let _ = sender.send(outcome);
    shown
}

fn page(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let body = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>dcrctl login</title></head>\n\
         <body><main><h1>dcrctl login</h1><p role=\"status\">{escaped}</p></main></body>\n</html>\n"
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn expected() -> Expected {
        Expected {
            state: "s1".into(),
            issuer: "http://127.0.0.1:9/sso".into(),
        }
    }

    fn uri(query: &str) -> Uri {
        format!("/callback?{query}").parse().unwrap()
    }

    #[test]
    fn only_this_sign_ins_code_is_taken() {
        let e = expected();
        assert_eq!(judge(&e, &uri("code=c1&state=s1")), Ok("c1".into()));
        assert_eq!(
            judge(
                &e,
                &uri("code=c1&state=s1&iss=http%3A%2F%2F127.0.0.1%3A9%2Fsso")
            ),
            Ok("c1".into())
        );
        assert!(judge(&e, &uri("code=c1&state=other")).is_err());
        assert!(judge(&e, &uri("code=c1")).is_err());
        assert!(judge(&e, &uri("code=c1&state=s1&iss=https%3A%2F%2Fevil")).is_err());
        let denied = judge(&e, &uri("error=access_denied&state=s1")).unwrap_err();
        assert!(denied.contains("access_denied"), "{denied}");
        assert!(judge(&e, &uri("state=s1")).is_err());
    }
}
