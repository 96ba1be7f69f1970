//! Cache-hit IssueToken throughput, as a ratio to a trivial tonic echo server sent the
//! same request bytes (and, for reference, the gRPC health Check with empty messages),
//! measured in the same run with the same load generator, plus p50/p99 at half the echo
//! server's rate. DESIGN.md's target: ratio >= 0.8.
//! Run with `scripts/bench` (it starts Postgres and the IdP peer).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The allocator the service binary uses (see its main.rs), for baseline and service alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use dcr_proto::token::v1 as pb;
use dcr_testkit::load::{RawCall, baseline, compare, drive_at_rate, echo_call};

const CONNECTIONS: usize = 4;
const WORKERS: usize = 64;
const WARMUP: Duration = Duration::from_millis(500);
/// Each closed-loop round (service and echo alternate; see load::Comparison).
const ROUND: Duration = Duration::from_secs(2);
const ROUNDS: usize = 6;
/// Each open-loop run.
const DURATION: Duration = Duration::from_secs(4);

fn main() {
    dcr_testkit::load::bench(async {
        let (base, base_half) = baseline(CONNECTIONS, WORKERS, WARMUP, DURATION).await;

        let stack = dcr_testkit::token::stack(&[]).await;
        let (_, client_id, secret) = stack.app("bench", "bench app").await;
        stack
            .issue(&client_id, &secret, "https://api.example.com")
            .await
            .expect("warm the cache");
        let idp_calls = stack.token_requests().await;
        let request = pb::IssueTokenRequest {
            client_id,
            client_secret: secret,
            scopes: vec!["read".into()],
            audience: "https://api.example.com".into(),
        };
        let issue = RawCall::new(
            &format!("http://{}", stack.grpc_addr),
            CONNECTIONS,
            "/dcr.token.v1.TokenService/IssueToken",
            &request,
            None,
        )
        .await;
        let call = move |w: usize| {
            let issue = issue.clone();
            async move { issue.call(w).await }
        };
        let echo = echo_call(&request, CONNECTIONS).await;
        let echo = move |w: usize| {
            let echo = echo.clone();
            async move { echo.call(w).await }
        };
        let hit = compare(ROUNDS, WORKERS, WARMUP, ROUND, echo.clone(), call.clone()).await;
        assert_eq!(
            stack.token_requests().await,
            idp_calls,
            "every call was a cache hit"
        );
        let half = hit.baseline_rps() / 2.0;
        let echo_half = drive_at_rate(half, DURATION, echo).await;
        let hit_half = drive_at_rate(half, DURATION, call).await;

        println!("closed loop, {WORKERS} workers on {CONNECTIONS} connections:");
        println!("  tonic health Check (empty messages), {DURATION:?}, for reference: {base}");
        println!("  token-svc IssueToken (cache hit) over a tonic echo of the same request,");
        println!("    {ROUNDS} alternating rounds of {ROUND:?}: {hit}");
        println!("    (target >= 0.80)");
        println!(
            "open loop at half the echo server's median rate ({half:.0} rps), {DURATION:?} each:"
        );
        println!("  tonic health Check (at its own half) {base_half}");
        println!("  tonic echo of the same request       {echo_half}");
        println!("  token-svc IssueToken (cache hit)     {hit_half}   (target p99 < 2 ms)");
    });
}
