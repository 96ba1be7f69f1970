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

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The id of the request being served by this task, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.as_str().to_owned()).ok()
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
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = IdentifiedFuture<S::Future>;

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
        let header = id.header();
        IdentifiedFuture {
            inner: CURRENT.scope(id, self.inner.call(request)).instrument(span),
            header,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future, in the request's span and with its id as the task's; it
    /// answers with the id. A named type rather than a boxed one: no allocation per call.
    pub struct IdentifiedFuture<F> {
        #[pin]
        inner: tracing::instrument::Instrumented<tokio::task::futures::TaskLocalFuture<RequestId, F>>,
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
            response.headers_mut().insert(HEADER, header);
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
