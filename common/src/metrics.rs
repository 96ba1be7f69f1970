//! Prometheus metrics. Every service installs one recorder and serves `GET /metrics` on
//! its metrics address; every gRPC call is counted by method and status and timed by
//! method (`MetricsLayer`). Services add their own (caches, IdP calls, stream lag) with
//! the `metrics` macros, or on a per-call path with [`count`] and [`observe`].

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tonic::codegen::http;

/// Installs the process-wide recorder (once; later calls get the same handle).
pub fn install() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.000_25, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
                    2.5, 5.0, 10.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new())
                .build_recorder();
            let handle = recorder.handle();
            // A second recorder (tests, several services in one process) keeps the first.
            if metrics::set_global_recorder(recorder).is_ok() {
                INSTALLED.store(true, Ordering::Release);
            }
            handle
        })
        .clone()
}

/// Set once `install` has put the Prometheus recorder in place: from then on the
/// recorder never changes, so a handle it gave out stays the right one.
static INSTALLED: AtomicBool = AtomicBool::new(false);

/// A `&'static str` compared and hashed by address and length: the series names and
/// labels below are literals or leaked once, so this is exact and costs no string hashing.
#[derive(Clone, Copy)]
struct StaticStr(&'static str);

impl PartialEq for StaticStr {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for StaticStr {}
impl std::hash::Hash for StaticStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.0.as_ptr() as usize, self.0.len()).hash(state);
    }
}

/// Labels one series may have here.
const MAX_LABELS: usize = 3;

/// A series: its name and labels (unused label slots empty).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Series([(StaticStr, StaticStr); MAX_LABELS + 1]);

impl Series {
    fn new(name: &'static str, labels: &[(&'static str, &'static str)]) -> Self {
        assert!(labels.len() <= MAX_LABELS, "at most {MAX_LABELS} labels");
        let mut parts = [(StaticStr(""), StaticStr("")); MAX_LABELS + 1];
        parts[0].0 = StaticStr(name);
        for (part, (key, value)) in parts[1..].iter_mut().zip(labels) {
            *part = (StaticStr(key), StaticStr(value));
        }
        Self(parts)
    }
}

fn labels(labels: &[(&'static str, &'static str)]) -> Vec<metrics::Label> {
    labels
        .iter()
        .map(|(key, value)| metrics::Label::from_static_parts(key, value))
        .collect()
}

type Handles<T> = RefCell<HashMap<Series, T, rustc_hash::FxBuildHasher>>;

thread_local! {
    static COUNTERS: Handles<metrics::Counter> = RefCell::default();
    static HISTOGRAMS: Handles<metrics::Histogram> = RefCell::default();
}

/// Adds one to the counter `name{labels}`. The `metrics` macros build the series' key,
/// hash it and look it up in the recorder's shared registry (a lock and a reference
/// count, on cache lines every core writes) on each call; here each thread looks the
/// handle up once and then only increments it.
pub fn count(name: &'static str, series: &[(&'static str, &'static str)]) {
    cached(
        &COUNTERS,
        name,
        series,
        || metrics::counter!(name, labels(series)),
        |counter| counter.increment(1),
    );
}

/// Records `value` in the histogram `name{labels}`, with the handle kept as [`count`]
/// keeps counters'.
pub fn observe(name: &'static str, series: &[(&'static str, &'static str)], value: f64) {
    cached(
        &HISTOGRAMS,
        name,
        series,
        || metrics::histogram!(name, labels(series)),
        |histogram| histogram.record(value),
    );
}

/// `apply` to this thread's handle of the series, registered on first use. Until
/// `install` has set the recorder for good, handles are not kept: one registered with
/// another (or no) recorder would never reach it.
fn cached<T>(
    handles: &'static std::thread::LocalKey<Handles<T>>,
    name: &'static str,
    series: &[(&'static str, &'static str)],
    register: impl FnOnce() -> T,
    apply: impl FnOnce(&T),
) {
    if !INSTALLED.load(Ordering::Acquire) {
        apply(&register());
        return;
    }
    handles.with_borrow_mut(|handles| {
        apply(
            handles
                .entry(Series::new(name, series))
                .or_insert_with(register),
        );
    });
}

/// Serves `GET /metrics` (Prometheus text format) on `listener` until `shutdown`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    handle: PrometheusHandle,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                (
                    [("content-type", "text/plain; version=0.0.4")],
                    handle.render(),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Counts and times every gRPC call: `dcr_grpc_requests_total{method, code}` and
/// `dcr_grpc_request_duration_seconds{method}`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsLayer;

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        MetricsService { inner }
    }
}

#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for MetricsService<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
{
    type Response = http::Response<MeteredBody<ResBody>>;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let method = Method::of(request.uri().path());
        let start = Instant::now();
        MeteredFuture {
            inner: self.inner.call(request),
            call: Some(Call { method, start }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future: a named type rather than a boxed one, so a call costs no
    /// allocation here. A call whose response never comes (an error, a cancel) is not
    /// counted, as tonic answers those itself.
    pub struct MeteredFuture<F> {
        #[pin]
        inner: F,
        call: Option<Call>,
    }
}

impl<F, B, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<MeteredBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        // An error without a body ("trailers-only") carries its status in the headers.
        let status = grpc_status(response.headers());
        let (parts, body) = response.into_parts();
        Poll::Ready(Ok(http::Response::from_parts(
            parts,
            MeteredBody {
                inner: body,
                call: this.call.take(),
                status,
            },
        )))
    }
}

fn grpc_status(headers: &http::HeaderMap) -> Option<&'static str> {
    headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(code_name)
}

/// gRPC status codes by number (as sent) to their names (as read on a dashboard).
fn code_name(code: &str) -> &'static str {
    match code {
        "0" => "OK",
        "1" => "CANCELLED",
        "2" => "UNKNOWN",
        "3" => "INVALID_ARGUMENT",
        "4" => "DEADLINE_EXCEEDED",
        "5" => "NOT_FOUND",
        "6" => "ALREADY_EXISTS",
        "7" => "PERMISSION_DENIED",
        "8" => "RESOURCE_EXHAUSTED",
        "9" => "FAILED_PRECONDITION",
        "10" => "ABORTED",
        "11" => "OUT_OF_RANGE",
        "12" => "UNIMPLEMENTED",
        "13" => "INTERNAL",
        "14" => "UNAVAILABLE",
        "15" => "DATA_LOSS",
        "16" => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// The `method` label: the paths of methods that exist, and `unknown` for the rest.
/// A path joins the known ones the first time the server answers it with a status other
/// than UNIMPLEMENTED (what a server says for a path it has no route for), up to
/// `MAX_METHODS` of them, so a client sending made-up paths (and perhaps cancelling them)
/// cannot grow the metric series without bound.
enum Method {
    Known(&'static str),
    Unseen(String),
}

const MAX_METHODS: usize = 256;
const UNKNOWN_METHOD: &str = "unknown";

static KNOWN_METHODS: std::sync::RwLock<BTreeSet<&'static str>> =
    std::sync::RwLock::new(BTreeSet::new());

thread_local! {
    /// The known paths this thread has seen: most calls find theirs here, without the
    /// shared lock's reader count (a write to a cache line every core shares).
    static KNOWN_HERE: RefCell<HashSet<&'static str, rustc_hash::FxBuildHasher>> =
        RefCell::default();
}

/// The known path equal to `path`, if any.
fn known(path: &str) -> Option<&'static str> {
    if let Some(path) = KNOWN_HERE.with_borrow(|here| here.get(path).copied()) {
        return Some(path);
    }
    let path = KNOWN_METHODS.read().ok()?.get(path).copied()?;
    KNOWN_HERE.with_borrow_mut(|here| here.insert(path));
    Some(path)
}

impl Method {
    fn of(path: &str) -> Self {
        known(path).map_or_else(|| Self::Unseen(path.to_owned()), Self::Known)
    }

    fn label(self, code: &str) -> &'static str {
        match self {
            Self::Known(path) => path,
            // No route, or no answer from the server: nothing says the method exists.
            Self::Unseen(_)
                if matches!(code, "UNIMPLEMENTED" | "CANCELLED" | "TRANSPORT_ERROR") =>
            {
                UNKNOWN_METHOD
            }
            Self::Unseen(path) => {
                let Ok(mut methods) = KNOWN_METHODS.write() else {
                    return UNKNOWN_METHOD;
                };
                if let Some(known) = methods.get(path.as_str()) {
                    return known;
                }
                if methods.len() >= MAX_METHODS {
                    return UNKNOWN_METHOD;
                }
                // Leaked once per method (at most MAX_METHODS), so later calls of it
                // allocate no label.
                let path: &'static str = Box::leak(path.into_boxed_str());
                methods.insert(path);
                path
            }
        }
    }
}

struct Call {
    method: Method,
    start: Instant,
}

impl Call {
    fn record(self, code: &'static str) {
        let method = self.method.label(code);
        count(
            "dcr_grpc_requests_total",
            &[("method", method), ("code", code)],
        );
        observe(
            "dcr_grpc_request_duration_seconds",
            &[("method", method)],
            self.start.elapsed().as_secs_f64(),
        );
    }
}

pin_project_lite::pin_project! {
    /// A response body that records the call once its status is known: from the
    /// trailers, or at the end of the body, or as CANCELLED when dropped unfinished.
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        call: Option<Call>,
        status: Option<&'static str>,
    }

    impl<B> PinnedDrop for MeteredBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(call) = this.call.take() {
                call.record(this.status.unwrap_or("CANCELLED"));
            }
        }
    }
}

impl<B: http_body::Body> http_body::Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = std::task::ready!(this.inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(status) = frame.trailers_ref().and_then(grpc_status) {
                    *this.status = Some(status);
                }
            }
            Some(Err(_)) => {
                if let Some(call) = this.call.take() {
                    call.record("TRANSPORT_ERROR");
                }
            }
            None => {
                if let Some(call) = this.call.take() {
                    call.record(this.status.unwrap_or("UNKNOWN"));
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// For a service binary: serves `/metrics` on the address in `var` (default `default`)
/// for the life of the process. A bad address fails the start, naming `var`.
pub async fn start(var: &'static str, default: &str) -> anyhow::Result<()> {
    let addr = crate::config::listen_addr(var, default)?;
    let listener = crate::listen::bind(addr).await?;
    tracing::info!(addr = %listener.local_addr()?, "metrics serving at /metrics");
    let handle = install();
    tokio::spawn(async move {
        if let Err(error) = serve(listener, handle, std::future::pending()).await {
            tracing::error!(%error, "the metrics endpoint stopped");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_paths_are_counted_as_unknown_and_real_ones_by_name() {
        let made_up = "/dcr.test.Nothing/MadeUp";
        assert_eq!(Method::of(made_up).label("UNIMPLEMENTED"), UNKNOWN_METHOD);
        assert!(
            matches!(Method::of(made_up), Method::Unseen(_)),
            "not remembered"
        );

        let real = "/dcr.test.Something/Real";
        assert_eq!(Method::of(real).label("NOT_FOUND"), real);
        assert!(matches!(Method::of(real), Method::Known(p) if p == real));
        // Once known, even an UNIMPLEMENTED answer keeps its name.
        assert_eq!(Method::of(real).label("UNIMPLEMENTED"), real);
    }
}
