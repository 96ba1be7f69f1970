//! Request ids across the services: every gRPC call has an `x-request-id` (the caller's,
//! or a new one), answers with it, and dcr's calls to the other dcr services made while
//! serving it carry it on, so one id ties the log lines of authz-svc, token-svc and
//! registry-svc for one gateway check together.
//!
//! The id and the method live in a task-local for the call, and the log format
//! (`telemetry::CallFields`) adds them to each line logged while serving it. A tracing
//! span per call would say the same, but the fmt layer formats and stores a span's
//! fields when it is made, on every call, logged or not: about 5 points of a warm
//! Check's throughput (docs/benchmarks.md). With trace export on, each call also gets
//! its `request` span, which the exporter needs.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::codegen::http;
use tracing::Instrument as _;

pub const HEADER: &str = "x-request-id";

/// [`HEADER`] as a header name made once: a `&str` key is parsed and checked again by
/// every lookup and insert that takes it.
const HEADER_NAME: http::HeaderName = http::HeaderName::from_static(HEADER);

/// The name of a call's span, made only when traces are exported.
pub const SPAN: &str = "request";

/// The longest id a caller may send (and the room one takes in memory).
const MAX_LEN: usize = 128;

/// A request id, kept inline: a call's id costs no allocation until it is written out.
#[derive(Clone, Copy)]
pub struct RequestId {
    len: u8,
    bytes: [u8; MAX_LEN],
}

impl RequestId {
    /// A caller's id, when it is fit to keep (see [`valid`]).
    pub fn parse(id: &str) -> Option<Self> {
        if !valid(id) {
            return None;
        }
        let mut bytes = [0; MAX_LEN];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        Some(Self {
            len: id.len() as u8,
            bytes,
        })
    }

    /// A new id: a random (version 4) UUID, written out without going through `fmt`.
    pub fn fresh() -> Self {
        let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        let mut bytes = [0; MAX_LEN];
        let len = uuid.hyphenated().encode_lower(&mut bytes).len() as u8;
        Self { len, bytes }
    }

    pub fn as_str(&self) -> &str {
        // Only ever filled from a valid (ASCII) id or a UUID's text.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The id as the answer's header, marked never to be indexed by HPACK: each id is
    /// new, so adding it to the connection's table would only evict the entries that
    /// repeat (content type, status), and the peer would store it too.
    fn header(&self) -> Option<http::HeaderValue> {
        let mut header =
            http::HeaderValue::from_bytes(&self.bytes[..usize::from(self.len)]).ok()?;
        header.set_sensitive(true);
        Some(header)
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

/// The call being served: its id and, for calls through the gRPC layer, its method
/// (the request's path, shared with the request, not copied).
#[derive(Clone)]
pub struct Call {
    id: RequestId,
    method: Option<http::Uri>,
}

tokio::task_local! {
    static CURRENT: Call;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|call| call.id.as_str().to_owned()).ok()
}

/// `f` of the id and the method (empty when unknown) of the call this task serves.
pub fn with_current<R>(f: impl FnOnce(&str, &str) -> R) -> Option<R> {
    CURRENT
        .try_with(|call| {
            let method = call.method.as_ref().map_or("", http::Uri::path);
            f(call.id.as_str(), method)
        })
        .ok()
}

/// Whether a caller's id is fit to keep: 1 to 128 printable ASCII characters, no spaces.
pub fn valid(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A caller's id is kept when it is short and printable; otherwise a new one is made.
fn accept(value: Option<&http::HeaderValue>) -> RequestId {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(RequestId::parse)
        .unwrap_or_else(RequestId::fresh)
}

/// Runs `future` as the work of request `id` (a valid one): dcr's internal calls made
/// from it carry `id`. For handlers that learn a better id than the gRPC metadata's,
/// such as Envoy's Check (the checked HTTP request's own id).
pub async fn scope<F: Future>(id: RequestId, future: F) -> F::Output {
    let method = CURRENT.try_with(|call| call.method.clone()).ok().flatten();
    CURRENT.scope(Call { id, method }, future).await
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
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = IdentifiedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let id = accept(request.headers().get(&HEADER_NAME));
        let path = request.uri().path();
        tracing::debug!(request_id = %id, method = %path, "grpc request");
        let span = if crate::otel::enabled() {
            let span = tracing::info_span!(
                SPAN,
                request_id = %id,
                method = %path,
                otel.name = tracing::field::Empty,
                otel.kind = tracing::field::Empty,
            );
            // Trace views name spans by the method; the caller's trace continues here.
            span.record("otel.name", path.trim_start_matches('/'));
            span.record("otel.kind", "server");
            crate::otel::adopt_caller_trace(&span, request.headers());
            span
        } else {
            tracing::Span::none()
        };
        let header = id.header();
        let call = Call {
            id,
            method: Some(request.uri().clone()),
        };
        IdentifiedFuture {
            inner: CURRENT
                .scope(call, self.inner.call(request))
                .instrument(span),
            header,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future, with the call as the task's (and in its span when traces
    /// are exported); it answers with the id. A named type rather than a boxed one: no
    /// allocation per call.
    pub struct IdentifiedFuture<F> {
        #[pin]
        inner: tracing::instrument::Instrumented<tokio::task::futures::TaskLocalFuture<Call, F>>,
        header: Option<http::HeaderValue>,
    }
}

impl<F, B, E> Future for IdentifiedFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Some(header) = this.header.take() {
            response.headers_mut().insert(HEADER_NAME, header);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    #[test]
    fn a_callers_id_is_kept_unless_it_is_unfit() {
        let given = http::HeaderValue::from_static("gw-42");
        assert_eq!(accept(Some(&given)).as_str(), "gw-42");
        let spaced = http::HeaderValue::from_static("has space");
        assert_ne!(accept(Some(&spaced)).as_str(), "has space");
        let fresh = accept(None);
        let uuid = uuid::Uuid::parse_str(fresh.as_str()).expect("a UUID");
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(fresh.as_str(), uuid.hyphenated().to_string());
        assert_ne!(accept(None).as_str(), fresh.as_str(), "a new one each time");
    }
}
