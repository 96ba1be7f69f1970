//! The stack the external benchmarks (`scripts/bench`, the default mode) measure, served
//! for a load generator in another process (h2load), and a fixed number of calls counted
//! by callgrind. Not a benchmark by itself: `scripts/bench` builds it, runs it and drives
//! it.
//!
//! `external serve DIR`: starts the authz stack (oidc-provider, registry-svc, token-svc,
//! authz-svc, all in this process on a multi-threaded runtime, as the binaries run), a
//! bare tonic echo server (`dcr.bench.Echo/Echo`: the service's request bytes in one
//! `bytes` field, answered with as many bytes as the service answers) and the same echo
//! on dcr's transport (`dcr_common::coalesce`), warms a bearer JWT in authz-svc and a token in
//! token-svc's cache, writes into DIR the gRPC-framed request bodies h2load sends
//! (`check.grpc`, `issue.grpc`, and their echo twins `echo-check.grpc`,
//! `echo-issue.grpc`) and `env` (the addresses and the gateway's caller token), sends
//! each body once through a Rust client and checks the answer (ALLOW, a token: h2load
//! cannot see gRPC statuses), then writes `ready` and serves until SIGINT.
//!
//! `external callgrind N`: the same stack on a current-thread runtime, so that every
//! instruction of a call (the client's encoding and HTTP/2, loopback syscalls' user side,
//! the server's HTTP/2, layers, handler) runs on the thread that runs `measured_echo` and
//! `measured_check` (then `measured_issue_echo` and `measured_issue`, token-svc's cached
//! IssueToken); each makes N sequential calls on one connection. Run under
//! `valgrind --tool=callgrind --toggle-collect='*measured_*' --dump-after='*measured_*'`
//! (as `scripts/bench callgrind` does) to count instructions per call.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The allocator the service binary uses (see its main.rs), for baseline and service alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};

use bytes::{BufMut as _, Bytes, BytesMut};
use dcr_proto::authz::v1 as pb;
use dcr_proto::token::v1 as tpb;
use dcr_testkit::authz::AuthzStack;
use dcr_testkit::load::{EchoMessage, RawCall, serve_bytes_echo, serve_coalesced_bytes_echo};
use dcr_testkit::registry::GATEWAY_TOKEN;
use prost::Message as _;

const CHECK: &str = "/dcr.authz.v1.AuthzService/Check";
const ISSUE: &str = "/dcr.token.v1.TokenService/IssueToken";
const ECHO: &str = "/dcr.bench.Echo/Echo";

/// The stack with a registered app, a bearer JWT authz-svc has verified once and a token
/// in token-svc's cache, an echo server, and the requests the benchmarks send.
struct Bench {
    stack: AuthzStack,
    echo: std::net::SocketAddr,
    /// The same echo with dcr's transport under it (answers that finish together share
    /// a write), as a second baseline.
    coalesced_echo: std::net::SocketAddr,
    check: pb::CheckRequest,
    issue: tpb::IssueTokenRequest,
    replies: ReplySizes,
}

async fn start() -> Bench {
    let stack = dcr_testkit::authz::authz_stack(&[]).await;
    let (_, client_id, secret) = stack.registered_app("bench", "bench app").await;
    let audience = "https://api.example.com";
    let jwt = stack.idp_token(&client_id, &secret, audience).await;
    let check = pb::CheckRequest {
        product_id: stack.base.product_id.clone(),
        headers: [("authorization".to_owned(), format!("Bearer {jwt}"))].into(),
        required_scopes: vec!["read".into()],
        source_address: String::new(),
    };
    let issue = tpb::IssueTokenRequest {
        client_id: client_id.clone(),
        client_secret: secret.clone(),
        scopes: vec!["read".into()],
        audience: audience.into(),
    };
    stack
        .base
        .issue(&client_id, &secret, audience)
        .await
        .expect("warm token-svc's cache");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let echo = listener.local_addr().expect("addr");
    tokio::spawn(serve_bytes_echo(listener));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let coalesced_echo = listener.local_addr().expect("addr");
    tokio::spawn(serve_coalesced_bytes_echo(listener));
    let mut bench = Bench {
        stack,
        echo,
        coalesced_echo,
        check,
        issue,
        replies: ReplySizes { check: 0, issue: 0 },
    };
    // Warm, and prove the requests pass: the first Check verifies the JWT.
    bench.replies = bench
        .verify(&bench.check.encode_to_vec(), &bench.issue.encode_to_vec())
        .await;
    bench
}

impl Bench {
    fn url(addr: std::net::SocketAddr) -> String {
        format!("http://{addr}")
    }

    async fn check_call(&self, connections: usize) -> RawCall {
        RawCall::new(
            &Self::url(self.stack.addr),
            connections,
            CHECK,
            &self.check,
            Some(GATEWAY_TOKEN),
        )
        .await
    }

    /// The echo sent `request`'s bytes, answering with `reply_size` bytes.
    async fn echo_call(
        &self,
        request: &impl prost::Message,
        reply_size: usize,
        connections: usize,
    ) -> RawCall {
        let wrapped = EchoMessage::sized(&request.encode_to_vec(), reply_size);
        RawCall::new(&Self::url(self.echo), connections, ECHO, &wrapped, None).await
    }

    /// Sends `check` and `issue` (message bytes, as h2load will send them) through a Rust
    /// gRPC client and fails unless Check allows and IssueToken answers a token: the
    /// gRPC status h2load cannot see. The size of each answer, for the echo to match.
    async fn verify(&self, check: &[u8], issue: &[u8]) -> ReplySizes {
        let answer = raw_call(
            &Self::url(self.stack.addr),
            CHECK,
            check,
            Some(GATEWAY_TOKEN),
        )
        .await
        .expect("Check");
        let check_reply = answer.len();
        let answer = pb::CheckResponse::decode(answer).expect("CheckResponse");
        assert_eq!(answer.decision, pb::Decision::Allow as i32, "{answer:?}");
        let answer = raw_call(&Self::url(self.stack.base.grpc_addr), ISSUE, issue, None)
            .await
            .expect("IssueToken");
        let issue_reply = answer.len();
        let answer = tpb::IssueTokenResponse::decode(answer).expect("IssueTokenResponse");
        assert!(!answer.access_token.is_empty(), "no token");
        ReplySizes {
            check: check_reply,
            issue: issue_reply,
        }
    }
}

/// The encoded size of the services' answers (the echo answers as many bytes).
#[derive(Clone, Copy)]
struct ReplySizes {
    check: usize,
    issue: usize,
}

/// One unary call of `path` with `message` (already encoded) on a fresh connection.
async fn raw_call(
    url: &str,
    path: &'static str,
    message: &[u8],
    bearer: Option<&str>,
) -> Result<Bytes, tonic::Status> {
    let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
        .expect("url")
        .connect()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut request = tonic::Request::new(Bytes::copy_from_slice(message));
    if let Some(token) = bearer {
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("metadata"),
        );
    }
    grpc.unary(
        request,
        tonic::codegen::http::uri::PathAndQuery::from_static(path),
        dcr_testkit::load::RawCodec,
    )
    .await
    .map(tonic::Response::into_inner)
}

/// A gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length.
fn framed(message: &[u8]) -> Vec<u8> {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(u32::try_from(message.len()).expect("small message"));
    out.put_slice(message);
    out.to_vec()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("write");
}

async fn serve(dir: PathBuf) {
    std::fs::create_dir_all(&dir).expect("mkdir");
    let bench = start().await;
    let check = bench.check.encode_to_vec();
    let issue = bench.issue.encode_to_vec();
    let wrap = |m: &[u8], reply_size| EchoMessage::sized(m, reply_size).encode_to_vec();
    write(&dir, "check.grpc", &framed(&check));
    write(&dir, "issue.grpc", &framed(&issue));
    write(
        &dir,
        "echo-check.grpc",
        &framed(&wrap(&check, bench.replies.check)),
    );
    write(
        &dir,
        "echo-issue.grpc",
        &framed(&wrap(&issue, bench.replies.issue)),
    );
    // The files' own bytes, read back, through the Rust client.
    let unframe = |name: &str| std::fs::read(dir.join(name)).expect("read")[5..].to_vec();
    bench
        .verify(&unframe("check.grpc"), &unframe("issue.grpc"))
        .await;
    let env = format!(
        "AUTHZ=127.0.0.1:{}\nTOKEN=127.0.0.1:{}\nECHO=127.0.0.1:{}\nECHO_DCR=127.0.0.1:{}\nGATEWAY_TOKEN={GATEWAY_TOKEN}\nCHECK_BYTES={}\nISSUE_BYTES={}\nCHECK_REPLY_BYTES={}\nISSUE_REPLY_BYTES={}\n",
        bench.stack.addr.port(),
        bench.stack.base.grpc_addr.port(),
        bench.echo.port(),
        bench.coalesced_echo.port(),
        check.len(),
        issue.len(),
        bench.replies.check,
        bench.replies.issue,
    );
    write(&dir, "env", env.as_bytes());
    let idp_calls = bench.stack.base.token_requests().await;
    write(&dir, "ready", b"");
    eprintln!("external bench stack ready: {}", env.replace('\n', " "));
    tokio::signal::ctrl_c().await.expect("SIGINT");
    // Every IssueToken of the run was a cache hit: no token request reached the IdP.
    let after = bench.stack.base.token_requests().await;
    eprintln!("IdP token requests during the run: {}", after - idp_calls);
    bench.stack.stop().await;
}

/// `n` sequential calls of `call`; its own symbol so that callgrind counts only this.
#[inline(never)]
fn measured_echo(rt: &tokio::runtime::Runtime, call: &RawCall, n: usize) {
    rt.block_on(calls(call, n));
}

/// `n` sequential Check calls; its own symbol so that callgrind counts only this.
#[inline(never)]
fn measured_check(rt: &tokio::runtime::Runtime, call: &RawCall, n: usize) {
    rt.block_on(calls(call, n));
}

/// `n` echo calls of the IssueToken request's bytes; its own symbol, as above.
#[inline(never)]
fn measured_issue_echo(rt: &tokio::runtime::Runtime, call: &RawCall, n: usize) {
    rt.block_on(calls(call, n));
}

/// `n` sequential IssueToken calls answered from token-svc's cache; its own symbol.
#[inline(never)]
fn measured_issue(rt: &tokio::runtime::Runtime, call: &RawCall, n: usize) {
    rt.block_on(calls(call, n));
}

async fn calls(call: &RawCall, n: usize) {
    for _ in 0..n {
        std::hint::black_box(call.call(0).await.expect("call"));
    }
}

fn callgrind(n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (bench, echo, check, issue_echo, issue) = rt.block_on(async {
        let bench = start().await;
        let echo = bench.echo_call(&bench.check, bench.replies.check, 1).await;
        let check = bench.check_call(1).await;
        let issue_echo = bench.echo_call(&bench.issue, bench.replies.issue, 1).await;
        let issue = RawCall::new(
            &Bench::url(bench.stack.base.grpc_addr),
            1,
            ISSUE,
            &bench.issue,
            None,
        )
        .await;
        // Warm the connections and every lazily built part.
        for call in [&echo, &check, &issue_echo, &issue] {
            calls(call, 100).await;
        }
        (bench, echo, check, issue_echo, issue)
    });
    let idp_calls = rt.block_on(bench.stack.base.token_requests());
    measured_echo(&rt, &echo, n);
    measured_check(&rt, &check, n);
    measured_issue_echo(&rt, &issue_echo, n);
    measured_issue(&rt, &issue, n);
    // Every measured IssueToken was a cache hit.
    assert_eq!(rt.block_on(bench.stack.base.token_requests()), idp_calls);
    println!(
        "callgrind: {n} echo calls, then {n} Check calls, {n} echo calls, {n} IssueToken calls"
    );
    rt.block_on(bench.stack.stop());
}

fn main() {
    // As the service binaries run: logs as DCR_LOG says (default `info`; to stderr, the
    // stack's log file) and the Prometheus recorder installed, so each call pays for its
    // spans and metrics as it does in production. (DCR_LOG=warn shows what the `info`
    // request span costs.)
    dcr_common::telemetry::init(
        &dcr_common::telemetry::LogConfig::from_env().expect("DCR_LOG and DCR_LOG_FORMAT"),
    );
    let _ = dcr_common::metrics::install();
    // cargo bench appends `--bench`; ignore flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", dir] => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime")
            .block_on(serve(PathBuf::from(dir))),
        ["callgrind", n] => callgrind(n.parse().expect("a number of calls")),
        _ => eprintln!(
            "usage: external serve DIR | external callgrind N (run by scripts/bench; nothing to do alone)"
        ),
    }
}
