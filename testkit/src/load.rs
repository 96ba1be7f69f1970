//! A small load generator for benchmarks. Closed loop: `workers` tasks each send one call
//! at a time for `duration`. Open loop: calls are due at a fixed rate and a pool of
//! workers sends each when due; a call that waited for a free worker counts from when it
//! was due (no coordinated omission). gRPC requests are encoded once up front and sent as
//! bytes (as h2load replays frames), so the generator's own cost per call is small and the
//! same for every server. Every benchmark measures its baseline with this same generator
//! in the same run.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::Channel;

/// Set by a benchmark run over TLS (`DCR_BENCH_TLS=1`): the baseline servers serve TLS
/// with these certificates and every channel to an https:// URL trusts them, so service
/// and baseline pay the same TLS cost.
static TLS: std::sync::OnceLock<dcr_common::pki::SetFiles> = std::sync::OnceLock::new();

/// Runs this process's baselines and channels over TLS with `files`.
pub fn use_tls(files: dcr_common::pki::SetFiles) {
    let _ = TLS.set(files);
}

/// A baseline server's listener, and its URL (https:// when the run uses TLS).
async fn baseline_listener() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, crate::tls::url(addr, TLS.get()))
}

/// Serves `router` on `listener`, over TLS when the run uses it.
async fn serve_baseline(
    router: tonic::transport::server::Router,
    listener: tokio::net::TcpListener,
) {
    let served = match TLS.get() {
        Some(files) => {
            // mTLS, as the services in the benchmark stack run.
            let acceptor = dcr_common::tls::ReloadingAcceptor::new(
                files.server_tls(true),
                dcr_common::tls::GRPC_ALPN,
            )
            .expect("TLS acceptor");
            let incoming = dcr_common::tls::TlsIncoming::new(listener, acceptor).expect("incoming");
            router.serve_with_incoming(incoming).await
        }
        None => {
            router
                .serve_with_incoming(
                    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                )
                .await
        }
    };
    served.expect("baseline server");
}

#[derive(Debug, Clone)]
pub struct Report {
    pub calls: u64,
    pub errors: u64,
    pub rps: f64,
    pub p50: Duration,
    pub p99: Duration,
    /// One of the errors, when there were any.
    pub first_error: Option<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>9.0} rps  p50 {:>7.3} ms  p99 {:>7.3} ms  ({} calls, {} errors)",
            self.rps,
            self.p50.as_secs_f64() * 1e3,
            self.p99.as_secs_f64() * 1e3,
            self.calls,
            self.errors
        )?;
        if let Some(error) = &self.first_error {
            write!(f, "\n      e.g. {error}")?;
        }
        Ok(())
    }
}

/// Runs `call` from `workers` concurrent tasks for `duration` after `warmup`.
pub async fn drive<F, Fut, T, E>(
    workers: usize,
    warmup: Duration,
    duration: Duration,
    call: F,
) -> Report
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: std::fmt::Display,
{
    let start = Instant::now() + warmup;
    let end = start + duration;
    let tasks: Vec<_> = (0..workers)
        .map(|worker| {
            let call = call.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = Errors::default();
                loop {
                    let began = Instant::now();
                    if began >= end {
                        break;
                    }
                    let result = call(worker).await;
                    if began >= start {
                        latencies.push(began.elapsed());
                        errors.note(result);
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = Errors::default();
    for task in tasks {
        let (latencies, e) = task.await.expect("worker");
        all.extend(latencies);
        errors.merge(e);
    }
    report(all, errors, duration)
}

#[derive(Default)]
struct Errors {
    count: u64,
    first: Option<String>,
}

impl Errors {
    fn note<T, E: std::fmt::Display>(&mut self, result: Result<T, E>) {
        if let Err(error) = result {
            self.count += 1;
            self.first.get_or_insert_with(|| error.to_string());
        }
    }

    fn merge(&mut self, other: Errors) {
        self.count += other.count;
        if self.first.is_none() {
            self.first = other.first;
        }
    }
}

fn report(mut all: Vec<Duration>, errors: Errors, elapsed: Duration) -> Report {
    all.sort_unstable();
    let pick = |q: f64| {
        all.get(((all.len() as f64 * q) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    Report {
        calls: all.len() as u64,
        errors: errors.count,
        rps: all.len() as f64 / elapsed.as_secs_f64(),
        p50: pick(0.50),
        p99: pick(0.99),
        first_error: errors.first,
    }
}

/// Workers of the open loop: enough that calls rarely wait for one at the rates measured.
const OPEN_LOOP_WORKERS: usize = 256;

/// Like `drive`, but at a fixed offered rate (open loop), for latency at a given load.
pub async fn drive_at_rate<F, Fut, T, E>(rate: f64, duration: Duration, call: F) -> Report
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: std::fmt::Display,
{
    let interval = Duration::from_secs_f64(1.0 / rate);
    let total = (duration.as_secs_f64() * rate) as u64;
    let start = Instant::now() + Duration::from_millis(10);
    let next = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..OPEN_LOOP_WORKERS)
        .map(|worker| {
            let call = call.clone();
            let next = next.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = Errors::default();
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        break;
                    }
                    let due = start + interval.mul_f64(n as f64);
                    // On time: count from the actual send (the timer's 1 ms granularity
                    // is not the server's doing). Late because every worker was busy:
                    // count from when the call was due.
                    let began = if due > Instant::now() {
                        tokio::time::sleep_until(due.into()).await;
                        Instant::now()
                    } else {
                        due
                    };
                    let result = call(worker).await;
                    latencies.push(began.elapsed());
                    errors.note(result);
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(usize::try_from(total).unwrap_or(0));
    let mut errors = Errors::default();
    for task in tasks {
        let (latencies, e) = task.await.expect("worker");
        all.extend(latencies);
        errors.merge(e);
    }
    report(all, errors, start.elapsed().max(duration))
}

/// A unary gRPC call whose request was encoded once, sent over `connections` HTTP/2
/// connections round robin by worker. Answers the raw response message.
#[derive(Clone)]
pub struct RawCall(Arc<RawCallInner>);

struct RawCallInner {
    channels: Vec<Channel>,
    path: PathAndQuery,
    body: Bytes,
    authorization: Option<tonic::metadata::MetadataValue<tonic::metadata::Ascii>>,
}

impl RawCall {
    /// `path` is the method's `/package.Service/Method`; `bearer` goes in `authorization`.
    pub async fn new(
        url: &str,
        connections: usize,
        path: &'static str,
        message: &impl prost::Message,
        bearer: Option<&str>,
    ) -> Self {
        Self(Arc::new(RawCallInner {
            channels: channels(url, connections).await,
            path: PathAndQuery::from_static(path),
            body: Bytes::from(message.encode_to_vec()),
            authorization: bearer.map(|t| format!("Bearer {t}").parse().expect("metadata")),
        }))
    }

    pub async fn call(&self, worker: usize) -> Result<Bytes, tonic::Status> {
        let inner = &self.0;
        let channel = inner.channels[worker % inner.channels.len()].clone();
        let mut grpc = tonic::client::Grpc::new(channel);
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut request = tonic::Request::new(inner.body.clone());
        if let Some(value) = &inner.authorization {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        grpc.unary(request, inner.path.clone(), RawCodec)
            .await
            .map(tonic::Response::into_inner)
    }
}

/// Passes message bytes through unchanged: calls to any method by its path.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// The trivial tonic echo server: `/dcr.bench.Echo/Echo` answers with the request's own
/// bytes, so it moves exactly the payload the service under test receives.
#[derive(Clone, Copy)]
struct Echo;

impl tonic::server::NamedService for Echo {
    const NAME: &'static str = "dcr.bench.Echo";
}

struct EchoHandler;

impl tonic::server::UnaryService<Bytes> for EchoHandler {
    type Response = Bytes;
    type Future = std::future::Ready<Result<tonic::Response<Bytes>, tonic::Status>>;
    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        std::future::ready(Ok(tonic::Response::new(request.into_inner())))
    }
}

impl tower_service::Service<tonic::codegen::http::Request<tonic::body::Body>> for Echo {
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::codegen::http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.unary(EchoHandler, request).await)
        })
    }
}

async fn echo_server() -> String {
    let (listener, url) = baseline_listener().await;
    let router = tonic::transport::Server::builder().add_service(Echo);
    tokio::spawn(serve_baseline(router, listener));
    url
}

/// The message of the external benchmarks' echo server (`scripts/bench`): the service's
/// request bytes wrapped in one `bytes` field, decoded and encoded again by prost, as a
/// bare tonic server with a real message type would. With `reply_size`, the answer is
/// an `EchoMessage` of exactly that many bytes instead (its payload zeros), so the echo
/// moves the same bytes as the service each way: a service whose reply is larger than
/// its request (IssueToken's carries a JWT) is not compared with a server that sends
/// less.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoMessage {
    #[prost(bytes = "bytes", tag = "1")]
    pub payload: Bytes,
    #[prost(uint32, tag = "2")]
    pub reply_size: u32,
}

/// The longest reply `EchoMessage::reply_size` asks for.
const MAX_ECHO_REPLY: usize = 64 * 1024;
static ZEROS: [u8; MAX_ECHO_REPLY] = [0; MAX_ECHO_REPLY];

impl EchoMessage {
    /// The request for `message`'s bytes, answered with an `EchoMessage` that encodes to
    /// `reply_size` bytes.
    pub fn sized(message: &[u8], reply_size: usize) -> Self {
        Self {
            payload: Bytes::copy_from_slice(message),
            reply_size: u32::try_from(reply_size).expect("a small reply"),
        }
    }

    /// The reply a `sized` request asks for.
    fn reply(size: usize) -> Self {
        // The payload's length prefix takes a byte or more: find the payload length
        // whose encoding is `size` bytes in all (or the nearest below, for tiny sizes).
        let mut len = size.min(MAX_ECHO_REPLY);
        loop {
            let reply = Self {
                payload: Bytes::from_static(&ZEROS[..len]),
                reply_size: 0,
            };
            if len == 0 || prost::Message::encoded_len(&reply) <= size {
                return reply;
            }
            len -= 1;
        }
    }
}

/// `/dcr.bench.Echo/Echo` answering its `EchoMessage` unchanged.
#[derive(Clone, Copy)]
struct BytesEcho;

impl tonic::server::NamedService for BytesEcho {
    const NAME: &'static str = "dcr.bench.Echo";
}

struct BytesEchoHandler;

impl tonic::server::UnaryService<EchoMessage> for BytesEchoHandler {
    type Response = EchoMessage;
    type Future = std::future::Ready<Result<tonic::Response<EchoMessage>, tonic::Status>>;
    fn call(&mut self, request: tonic::Request<EchoMessage>) -> Self::Future {
        let request = request.into_inner();
        let reply = match request.reply_size {
            0 => request,
            size => EchoMessage::reply(usize::try_from(size).unwrap_or(MAX_ECHO_REPLY)),
        };
        std::future::ready(Ok(tonic::Response::new(reply)))
    }
}

impl tower_service::Service<tonic::codegen::http::Request<tonic::body::Body>> for BytesEcho {
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::codegen::http::Request<tonic::body::Body>) -> Self::Future {
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<
                EchoMessage,
                EchoMessage,
            >::new());
            Ok(grpc.unary(BytesEchoHandler, request).await)
        })
    }
}

/// Serves the bare echo of `EchoMessage`s on `listener` (plaintext h2c, TCP_NODELAY like
/// dcr's servers) until the process ends: the baseline of the external benchmarks.
pub async fn serve_bytes_echo(
    listener: tokio::net::TcpListener,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .add_service(BytesEcho)
        .serve_with_incoming(
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
        )
        .await
}

/// The same echo with dcr's transport under it (`dcr_common::coalesce`: answers that
/// finish together leave in one write): what the external benchmarks also compare
/// with, to show how much of a service's ratio to the bare echo is that transport.
pub async fn serve_coalesced_bytes_echo(
    listener: tokio::net::TcpListener,
) -> Result<(), tonic::transport::Error> {
    let incoming = dcr_common::coalesce::each(
        tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
    );
    tonic::transport::Server::builder()
        .add_service(BytesEcho)
        .serve_with_incoming(incoming)
        .await
}

/// The echo server, sent `message` (the same bytes as the service under test gets, echoed
/// back) over `connections` connections.
async fn echo_call(message: &impl prost::Message, connections: usize) -> RawCall {
    RawCall::new(
        &echo_server().await,
        connections,
        "/dcr.bench.Echo/Echo",
        message,
        None,
    )
    .await
}

/// Closed-loop throughput of a service and of its baseline, measured in alternating rounds
/// (baseline first in even rounds, the service first in odd ones). On a shared VM the
/// machine's speed drifts by tens of percent within a minute; alternating short rounds
/// puts both sides under the same drift, and the median of the per-round ratios ignores
/// a round that caught a stall.
pub struct Comparison {
    /// Per round: (baseline, service).
    pub rounds: Vec<(Report, Report)>,
}

impl Comparison {
    /// Service rps over baseline rps, per round.
    pub fn ratios(&self) -> Vec<f64> {
        self.rounds.iter().map(|(b, s)| s.rps / b.rps).collect()
    }

    pub fn median_ratio(&self) -> f64 {
        median(self.ratios())
    }

    /// The baseline's median rps over the rounds.
    pub fn baseline_rps(&self) -> f64 {
        median(self.rounds.iter().map(|(b, _)| b.rps).collect())
    }

    /// The service's median rps over the rounds.
    pub fn service_rps(&self) -> f64 {
        median(self.rounds.iter().map(|(_, s)| s.rps).collect())
    }

    /// Errors of either side, in all rounds.
    pub fn errors(&self) -> u64 {
        self.rounds.iter().map(|(b, s)| b.errors + s.errors).sum()
    }
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ratios: Vec<String> = self.ratios().iter().map(|r| format!("{r:.2}")).collect();
        write!(
            f,
            "median {:.2} over {} rounds ({}); median rps {:.0} vs {:.0}, {} errors",
            self.median_ratio(),
            self.rounds.len(),
            ratios.join(" "),
            self.service_rps(),
            self.baseline_rps(),
            self.errors()
        )?;
        for (b, s) in &self.rounds {
            for e in [&b.first_error, &s.first_error].into_iter().flatten() {
                write!(f, "\n      e.g. {e}")?;
            }
        }
        Ok(())
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `rounds` alternating closed-loop rounds of `baseline` and `service` (see `Comparison`),
/// each `duration` long after `warmup`, with `workers` workers.
pub async fn compare<A, AF, B, BF, T, U, E, G>(
    rounds: usize,
    workers: usize,
    warmup: Duration,
    duration: Duration,
    baseline: A,
    service: B,
) -> Comparison
where
    A: Fn(usize) -> AF + Clone + Send + 'static,
    AF: Future<Output = Result<T, E>> + Send,
    B: Fn(usize) -> BF + Clone + Send + 'static,
    BF: Future<Output = Result<U, G>> + Send,
    T: Send,
    U: Send,
    E: std::fmt::Display,
    G: std::fmt::Display,
{
    let mut results = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let (b, s) = if round % 2 == 0 {
            let b = drive(workers, warmup, duration, baseline.clone()).await;
            (b, drive(workers, warmup, duration, service.clone()).await)
        } else {
            let s = drive(workers, warmup, duration, service.clone()).await;
            (drive(workers, warmup, duration, baseline.clone()).await, s)
        };
        results.push((b, s));
    }
    Comparison { rounds: results }
}

/// How the hot-path benchmarks load a service: 64 closed-loop workers on 4 HTTP/2
/// connections (`RawCall`s to the service use `CONNECTIONS` too), 6 alternating rounds of
/// 2 s after 0.5 s of warm-up, then open loops of 4 s.
pub const CONNECTIONS: usize = 4;
const WORKERS: usize = 64;
const WARMUP: Duration = Duration::from_millis(500);
const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 6;
const OPEN_LOOP: Duration = Duration::from_secs(4);

/// The measurement docs/design.md states its throughput and latency targets in, printed:
/// `call` (the service, named `name`) against a trivial tonic echo server sent `request`,
/// the same bytes, in alternating closed-loop rounds (see `Comparison`), then both in an
/// open loop at half the echo server's median rate. The gRPC health Check (empty
/// messages) is measured too, for reference.
pub async fn against_echo<F, Fut, T, E>(name: &str, request: &impl prost::Message, call: F)
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<T, E>> + Send,
    T: Send,
    E: std::fmt::Display,
{
    let (base, base_half) = baseline(CONNECTIONS, WORKERS, WARMUP, OPEN_LOOP).await;
    let echo = echo_call(request, CONNECTIONS).await;
    let echo = move |w: usize| {
        let echo = echo.clone();
        async move { echo.call(w).await }
    };
    let closed = compare(ROUNDS, WORKERS, WARMUP, ROUND, echo.clone(), call.clone()).await;
    let half = closed.baseline_rps() / 2.0;
    let echo_half = drive_at_rate(half, OPEN_LOOP, echo).await;
    let service_half = drive_at_rate(half, OPEN_LOOP, call).await;

    println!("closed loop, {WORKERS} workers on {CONNECTIONS} connections:");
    println!("  tonic health Check (empty messages), {OPEN_LOOP:?}, for reference: {base}");
    println!("  {name} over a tonic echo of the same request,");
    println!("    {ROUNDS} alternating rounds of {ROUND:?}: {closed}");
    println!("    (target >= 0.80)");
    println!(
        "open loop at half the echo server's median rate ({half:.0} rps), {OPEN_LOOP:?} each:"
    );
    println!(
        "  {:<36} {base_half}",
        "tonic health Check (at its own half)"
    );
    println!("  {:<36} {echo_half}", "tonic echo of the same request");
    println!("  {name:<36} {service_half}   (target p99 < 2 ms)");
}

/// The baseline every benchmark divides by: a trivial tonic server (gRPC health Check,
/// which answers a constant), with TCP_NODELAY like dcr's servers. Returns its URL.
pub async fn trivial_tonic_server() -> String {
    let (listener, url) = baseline_listener().await;
    let (reporter, health) = tonic_health::server::health_reporter();
    let router = tonic::transport::Server::builder().add_service(health);
    tokio::spawn(async move {
        let _keep = reporter;
        serve_baseline(router, listener).await;
    });
    url
}

/// `n` separate HTTP/2 connections to `url`.
pub async fn channels(url: &str, n: usize) -> Vec<tonic::transport::Channel> {
    let mut channels = Vec::with_capacity(n);
    for _ in 0..n {
        channels.push(
            crate::tls::client(TLS.get())
                .endpoint(url, "bench")
                .expect("uri")
                .connect()
                .await
                .expect("connect"),
        );
    }
    channels
}

/// Closed-loop and half-rate open-loop reports for the baseline server.
pub async fn baseline(
    connections: usize,
    workers: usize,
    warmup: Duration,
    duration: Duration,
) -> (Report, Report) {
    let health = RawCall::new(
        &trivial_tonic_server().await,
        connections,
        "/grpc.health.v1.Health/Check",
        &tonic_health::pb::HealthCheckRequest::default(),
        None,
    )
    .await;
    let call = move |w: usize| {
        let health = health.clone();
        async move { health.call(w).await }
    };
    let closed = drive(workers, warmup, duration, call.clone()).await;
    let open = drive_at_rate(closed.rps / 2.0, duration, call).await;
    (closed, open)
}

/// Runs a benchmark's body: no log output (measure the service, not logging) on a
/// multi-threaded runtime, as the services run.
pub fn bench<F: Future<Output = ()>>(body: F) {
    tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default())
        .expect("no other subscriber in a benchmark");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(body);
}
