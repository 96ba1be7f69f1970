//! Request ids across the services: every gRPC call runs in a `request` span carrying its
//! `x-request-id` (the caller's, or a new one), answers with it, and dcr's calls to the
//! other dcr services made while serving it carry it on, so one id ties the log lines
//! of authz-svc, token-svc and registry-svc for one gateway check together.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tracing::Instrument as _;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static CURRENT: String;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Whether a caller's id is fit to keep: 1 to 128 printable ASCII characters, no spaces.
pub fn valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A caller's id is kept when it is short and printable; otherwise a new one is made.
fn accept(value: Option<&http::HeaderValue>) -> String {
    value
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid(v))
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Runs `future` as the work of request `id` (a valid one): dcr's internal calls made
/// from it carry `id`. For handlers that learn a better id than the gRPC metadata's,
/// such as Envoy's Check (the checked HTTP request's own id).
pub async fn scope<F: Future>(id: String, future: F) -> F::Output {
    CURRENT.scope(id, future).await
}

#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdLayer;

impl<S> tower::Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for RequestIdService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let id = accept(request.headers().get(HEADER));
        let path = request.uri().path();
        let span = tracing::info_span!(
            "request",
            request_id = %id,
            method = %path,
            otel.name = tracing::field::Empty,
            otel.kind = tracing::field::Empty,
        );
        if crate::otel::enabled() {
            // Trace views name spans by the method; the caller's trace continues here.
            span.record("otel.name", path.trim_start_matches('/'));
            span.record("otel.kind", "server");
            crate::otel::adopt_caller_trace(&span, request.headers());
        }
        span.in_scope(|| tracing::debug!("grpc request"));
        let future = self.inner.call(request);
        let header = http::HeaderValue::from_str(&id).ok();
        Box::pin(
            CURRENT
                .scope(id, async move {
                    let mut response = future.await?;
                    if let Some(header) = header {
                        response.headers_mut().insert(HEADER, header);
                    }
                    Ok(response)
                })
                .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_id_is_kept_unless_it_is_unfit() {
        let given = http::HeaderValue::from_static("gw-42");
        assert_eq!(accept(Some(&given)), "gw-42");
        let spaced = http::HeaderValue::from_static("has space");
        assert_ne!(accept(Some(&spaced)), "has space");
        assert_eq!(accept(None).len(), 36, "a UUID");
    }
}
