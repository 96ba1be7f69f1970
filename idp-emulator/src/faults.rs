//! Fault injection and call statistics: one middleware in front of every vendor route.
//! A matching fault is applied before the handler runs (delay, then drop or an error in
//! the vendor's own shape); every vendor call is counted per normalized route.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::Notify;

use crate::http::json_with;
use crate::state::{EmulatorState, Vendor};
use crate::{entra, ids, replication};

/// Fault injection rules; at most this many are kept.
pub(crate) const MAX_FAULTS: usize = 100;

/// One injected fault, as posted to `/__emulator/faults`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fault {
    #[serde(default)]
    pub id: String,
    pub vendor: Option<Vendor>,
    /// HTTP method to match (any when absent), compared case-blind.
    pub method: Option<String>,
    /// Request path prefix to match, e.g. `/auth0/api/v2/clients`.
    pub path_prefix: String,
    /// Answer with this status (in the vendor's error shape) instead of calling the handler.
    pub status: Option<u16>,
    /// Seconds the faulted answer asks to wait, said the vendor's way: `Retry-After` at
    /// Graph (on a 429 always, 1 s when not given), Curity and Entra's login endpoints;
    /// on a 429 of Auth0 and Okta, which send no `Retry-After`, the rate-limit reset time
    /// (`x-ratelimit-reset`, `x-rate-limit-reset`: epoch seconds, now + this, default 1).
    pub retry_after: Option<u64>,
    /// Wait this long before answering (or before calling the handler, when no status).
    pub delay_ms: Option<u64>,
    /// Close the connection without answering.
    #[serde(default)]
    pub drop: bool,
    /// The handler runs (the vendor acts), then its answer's body is replaced by a page
    /// that is not JSON, as a proxy in front of the vendor may send: the status stays.
    #[serde(default)]
    pub garble: bool,
    /// Graph's replication lag (see [`crate::replication`]): the matching request (an
    /// application create) runs, then this many requests naming the application it made
    /// are answered as a replica that has not seen it yet.
    pub lag_requests: Option<u32>,
    /// How many matching requests this fault applies to.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Default)]
pub(crate) struct Faults {
    pub list: Vec<Fault>,
}

impl Faults {
    /// Takes one use of the first fault matching this request.
    fn take(&mut self, vendor: Option<Vendor>, method: &Method, path: &str) -> Option<Fault> {
        let idx = self.list.iter().position(|f| {
            f.times > 0
                && path.starts_with(&f.path_prefix)
                && f.vendor.is_none_or(|v| Some(v) == vendor)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method.as_str()))
        })?;
        let fault = self.list.get_mut(idx)?;
        fault.times -= 1;
        let taken = fault.clone();
        if fault.times == 0 {
            self.list.remove(idx);
        }
        Some(taken)
    }
}

/// Per-connection handle that closes the connection (set by [`crate::serve`]).
#[derive(Clone)]
pub(crate) struct ConnKill(pub Arc<Notify>);

/// `"METHOD /route"` with every path parameter shown as `{id}` (Graph's alternate key as
/// `applications(appId='{id}')`).
fn normalize(method: &Method, matched: Option<&str>, path: &str) -> String {
    let route = match matched {
        Some(pattern) => pattern
            .split('/')
            .zip(path.split('/').chain(std::iter::repeat("")))
            .map(|(p, actual)| {
                if p.starts_with('{') {
                    if actual.starts_with("applications(") {
                        "applications(appId='{id}')"
                    } else {
                        "{id}"
                    }
                } else {
                    p
                }
            })
            .collect::<Vec<_>>()
            .join("/"),
        None => path.to_string(),
    };
    format!("{method} {route}")
}

/// `resp` with its status kept and its body replaced by an HTML page.
fn garbled(resp: Response) -> Response {
    let (mut parts, _) = resp.into_parts();
    parts.headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/html"),
    );
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(
        parts,
        axum::body::Body::from("<html><body><h1>Bad Gateway</h1>upstream reset</body></html>"),
    )
}

pub(crate) async fn middleware(
    State(state): State<EmulatorState>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    if path.starts_with("/__emulator") {
        return next.run(req).await;
    }
    let vendor = Vendor::of_path(&path);
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let route = normalize(req.method(), matched.as_deref(), &path);
    let fault = state.with_instruments(|i| {
        *i.stats.entry(route).or_insert(0) += 1;
        i.faults.take(vendor, req.method(), &path)
    });
    let mut resp = match fault {
        None => replication::pass(&state, req, next).await,
        Some(fault) => {
            if let Some(ms) = fault.delay_ms {
                tokio::time::sleep(Duration::from_millis(ms.min(60_000))).await;
            }
            if fault.drop {
                if let Some(kill) = req.extensions().get::<ConnKill>() {
                    kill.0.notify_one();
                    // The connection task drops this request with the connection.
                    std::future::pending::<()>().await;
                }
                // Served without the emulator's accept loop: nothing to drop, so fail loudly.
                fault_response(vendor, &path, 502, None)
            } else if let Some(status) = fault.status {
                fault_response(vendor, &path, status, fault.retry_after)
            } else {
                let resp = replication::pass(&state, req, next).await;
                let resp = match fault.lag_requests {
                    Some(requests) => replication::remember_created(&state, resp, requests).await,
                    None => resp,
                };
                if fault.garble { garbled(resp) } else { resp }
            }
        }
    };
    add_vendor_headers(vendor, &path, &mut resp);
    resp
}

/// Headers every answer of a vendor carries: Auth0's and Okta's rate-limit headers,
/// Graph's request id.
fn add_vendor_headers(vendor: Option<Vendor>, path: &str, resp: &mut Response) {
    let reset = (chrono::Utc::now().timestamp() + 60).to_string();
    let headers = resp.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if !headers.contains_key(name)
            && let Ok(v) = HeaderValue::from_str(value)
        {
            headers.insert(name, v);
        }
    };
    match vendor {
        Some(Vendor::Auth0) => {
            set("x-ratelimit-limit", "50");
            set("x-ratelimit-remaining", "49");
            set("x-ratelimit-reset", &reset);
        }
        Some(Vendor::Okta) => {
            set("x-rate-limit-limit", "600");
            set("x-rate-limit-remaining", "599");
            set("x-rate-limit-reset", &reset);
        }
        Some(Vendor::AzureAd) if path.starts_with("/graph") => {
            set("request-id", &ids::guid());
        }
        _ => {}
    }
}

fn reason(status: StatusCode) -> &'static str {
    status.canonical_reason().unwrap_or("Error")
}

/// An error answer in the shape the vendor uses at that path.
fn fault_response(
    vendor: Option<Vendor>,
    path: &str,
    status: u16,
    retry_after: Option<u64>,
) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = wait_headers(vendor, path, code, retry_after);
    let body = match vendor {
        Some(Vendor::Auth0) => {
            if path.starts_with("/auth0/oauth/") {
                let error = if code == StatusCode::TOO_MANY_REQUESTS {
                    "too_many_requests"
                } else {
                    "server_error"
                };
                json!({ "error": error, "error_description": reason(code) })
            } else if code == StatusCode::TOO_MANY_REQUESTS {
                json!({ "statusCode": 429, "error": "Too Many Requests",
                        "message": "Global limit has been reached", "errorCode": "too_many_requests" })
            } else {
                json!({ "statusCode": status, "error": reason(code), "message": reason(code) })
            }
        }
        Some(Vendor::Okta) => {
            if code == StatusCode::TOO_MANY_REQUESTS {
                crate::okta::error_body(
                    "E0000047",
                    "API call exceeded rate limit due to too many requests.",
                )
            } else if code.is_server_error() {
                crate::okta::error_body("E0000009", "Internal Server Error")
            } else {
                crate::okta::error_body(
                    "E0000001",
                    &format!("Api validation failed: {}", reason(code)),
                )
            }
        }
        Some(Vendor::Curity) => {
            let error = if code.is_server_error() {
                "server_error"
            } else {
                "temporarily_unavailable"
            };
            json!({ "error": error, "error_description": reason(code) })
        }
        Some(Vendor::AzureAd) if path.starts_with("/graph") => {
            let gcode = match status {
                429 => "TooManyRequests",
                503 => "serviceNotAvailable",
                500 => "generalException",
                _ => "UnknownError",
            };
            entra::graph_error_body(gcode, reason(code))
        }
        Some(Vendor::AzureAd) => entra::aadsts_body(
            "temporarily_unavailable",
            90033,
            "A transient error has occurred. Please try again.",
        ),
        None => json!({ "error": reason(code) }),
    };
    json_with(code, body, &headers)
}

/// How a faulted answer asks the caller to wait, as the vendor says it. Auth0 and Okta
/// answer a 429 with their rate-limit headers, the reset as UTC epoch seconds, and no
/// `Retry-After`
/// (<https://auth0.com/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy>,
/// <https://developer.okta.com/docs/reference/rl-best-practices/>); Graph answers a 429
/// with `Retry-After` in seconds (<https://learn.microsoft.com/en-us/graph/throttling>).
fn wait_headers(
    vendor: Option<Vendor>,
    path: &str,
    code: StatusCode,
    retry_after: Option<u64>,
) -> Vec<(&'static str, String)> {
    let limited = code == StatusCode::TOO_MANY_REQUESTS;
    let reset = || {
        let wait = i64::try_from(retry_after.unwrap_or(1)).unwrap_or(i64::MAX);
        chrono::Utc::now()
            .timestamp()
            .saturating_add(wait)
            .to_string()
    };
    match vendor {
        Some(Vendor::Auth0) if limited => vec![
            ("x-ratelimit-limit", "50".into()),
            ("x-ratelimit-remaining", "0".into()),
            ("x-ratelimit-reset", reset()),
        ],
        Some(Vendor::Okta) if limited => vec![
            ("x-rate-limit-limit", "600".into()),
            ("x-rate-limit-remaining", "0".into()),
            ("x-rate-limit-reset", reset()),
        ],
        Some(Vendor::Auth0 | Vendor::Okta) => Vec::new(),
        Some(Vendor::AzureAd) if limited && path.starts_with("/graph") => {
            vec![("retry-after", retry_after.unwrap_or(1).to_string())]
        }
        _ => retry_after
            .map(|secs| vec![("retry-after", secs.to_string())])
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn routes_are_normalized() {
        let m = Method::GET;
        assert_eq!(
            normalize(
                &m,
                Some("/auth0/api/v2/clients/{id}"),
                "/auth0/api/v2/clients/abc"
            ),
            "GET /auth0/api/v2/clients/{id}"
        );
        assert_eq!(
            normalize(
                &m,
                Some("/graph/v1.0/{key}"),
                "/graph/v1.0/applications(appId='x')"
            ),
            "GET /graph/v1.0/applications(appId='{id}')"
        );
        assert_eq!(normalize(&m, None, "/nope"), "GET /nope");
    }

    #[test]
    fn faults_are_used_up() {
        let mut faults = Faults::default();
        faults.list.push(Fault {
            id: "f".into(),
            vendor: Some(Vendor::Okta),
            method: Some("post".into()),
            path_prefix: "/okta/".into(),
            status: Some(429),
            retry_after: None,
            delay_ms: None,
            drop: false,
            garble: false,
            lag_requests: None,
            times: 2,
        });
        assert!(
            faults
                .take(Some(Vendor::Auth0), &Method::POST, "/okta/x")
                .is_none()
        );
        assert!(
            faults
                .take(Some(Vendor::Okta), &Method::GET, "/okta/x")
                .is_none()
        );
        assert!(
            faults
                .take(Some(Vendor::Okta), &Method::POST, "/okta/x")
                .is_some()
        );
        assert!(
            faults
                .take(Some(Vendor::Okta), &Method::POST, "/okta/x")
                .is_some()
        );
        assert!(
            faults
                .take(Some(Vendor::Okta), &Method::POST, "/okta/x")
                .is_none()
        );
    }
}
