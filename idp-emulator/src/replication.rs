//! Microsoft Entra's eventual consistency, as a fault: a write is accepted by one directory
//! replica and reaches the others later, so right after `POST /applications` a read or a
//! follow-up call may not find the new application yet
//! (<https://devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra/>:
//! "a newly created object [may] return a 'Not Found'").
//!
//! A fault with `lag_requests: N` lets the matching application create through, then
//! answers the next N Graph requests that name the created application as such a replica
//! does: 404 `Request_ResourceNotFound` on the application's own paths (by object id or
//! `applications(appId='...')`), and 400 `Request_BadRequest` with the detail
//! `NoBackingApplicationObject` to a service principal create for its appId (the answer
//! Microsoft Q&A reports for that call right after the create:
//! <https://learn.microsoft.com/en-us/answers/questions/5883620/ms-graph-api-failing-to-create-service-principal-f>).
//! Other requests are untouched.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::entra::graph_error_body;
use crate::http::{MAX_BODY, json};
use crate::state::EmulatorState;

/// An application the other replicas have not seen yet.
pub(crate) struct Lagging {
    app_id: String,
    object_id: String,
    /// Requests naming it that are still answered as not found.
    remaining: u32,
}

/// Graph requests go to the handler unless they name a lagging application.
pub(crate) async fn pass(state: &EmulatorState, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/graph/") || !any_lagging(state) {
        return next.run(req).await;
    }
    let sp_create = req.method() == Method::POST
        && req.uri().path().trim_end_matches('/') == "/graph/v1.0/servicePrincipals";
    if !sp_create {
        let path = req.uri().path().to_ascii_lowercase();
        return match take(state, |l| {
            path.contains(&l.app_id) || path.contains(&l.object_id)
        }) {
            Some(id) => not_found(&id),
            None => next.run(req).await,
        };
    }
    // The appId is in the body: read it, then hand the request on as it came.
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return json(StatusCode::PAYLOAD_TOO_LARGE, json!({}));
    };
    let app_id = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|b| b["appId"].as_str().map(str::to_ascii_lowercase));
    if let Some(app_id) = app_id
        && take(state, |l| l.app_id == app_id).is_some()
    {
        return no_backing_application(&app_id);
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// After a create the fault matched: the application it made lags for `requests`.
pub(crate) async fn remember_created(
    state: &EmulatorState,
    resp: Response,
    requests: u32,
) -> Response {
    if resp.status() != StatusCode::CREATED {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let created: Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if let (Some(app_id), Some(object_id)) = (created["appId"].as_str(), created["id"].as_str()) {
        let lagging = Lagging {
            app_id: app_id.to_ascii_lowercase(),
            object_id: object_id.to_ascii_lowercase(),
            remaining: requests,
        };
        state.with_instruments(|i| i.lagging.push(lagging));
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn any_lagging(state: &EmulatorState) -> bool {
    state.with_instruments(|i| !i.lagging.is_empty())
}

/// Uses up one request of the first lagging application `names` picks; its app id.
fn take(state: &EmulatorState, names: impl Fn(&Lagging) -> bool) -> Option<String> {
    state.with_instruments(|i| {
        let at = i.lagging.iter().position(names)?;
        let lagging = i.lagging.get_mut(at)?;
        lagging.remaining = lagging.remaining.saturating_sub(1);
        let app_id = lagging.app_id.clone();
        if lagging.remaining == 0 {
            i.lagging.remove(at);
        }
        Some(app_id)
    })
}

fn not_found(id: &str) -> Response {
    json(
        StatusCode::NOT_FOUND,
        graph_error_body(
            "Request_ResourceNotFound",
            &format!(
                "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
            ),
        ),
    )
}

fn no_backing_application(app_id: &str) -> Response {
    let message = format!(
        "The appId '{app_id}' of the service principal does not reference a valid application object."
    );
    let mut body = graph_error_body("Request_BadRequest", &message);
    body["error"]["details"] = json!([{
        "code": "NoBackingApplicationObject",
        "message": message,
        "target": "appId",
    }]);
    json(StatusCode::BAD_REQUEST, body)
}
