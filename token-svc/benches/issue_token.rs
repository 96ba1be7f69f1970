//! Cache-hit IssueToken throughput, as a ratio to a trivial tonic server (the gRPC
//! health Check, which answers a constant) measured in the same run with the same load
//! generator, plus p50/p99 at half the baseline's rate. DESIGN.md's target: ratio >= 0.8.
//! Run with `scripts/bench` (it starts Postgres and the IdP peer).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use dcr_proto::token::v1 as pb;
use dcr_testkit::load::{RawCall, baseline, drive, drive_at_rate};

const CONNECTIONS: usize = 4;
const WORKERS: usize = 64;
const WARMUP: Duration = Duration::from_secs(1);
const DURATION: Duration = Duration::from_secs(4);

fn main() {
    // No log capture here (the testkit's is for tests): measure the service, not logging.
    tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
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
        let hit = drive(WORKERS, WARMUP, DURATION, call.clone()).await;
        assert_eq!(
            stack.token_requests().await,
            idp_calls,
            "every call was a cache hit"
        );
        let hit_half = drive_at_rate(base.rps / 2.0, DURATION, call).await;

        println!("closed loop, {WORKERS} workers on {CONNECTIONS} connections, {DURATION:?} each:");
        println!("  baseline  tonic health Check        {base}");
        println!("  token-svc IssueToken (cache hit)    {hit}");
        println!(
            "  ratio                               {:.2} (target >= 0.80)",
            hit.rps / base.rps
        );
        println!(
            "open loop at half the baseline's rate ({:.0} rps):",
            base.rps / 2.0
        );
        println!("  baseline  tonic health Check        {base_half}");
        println!("  token-svc IssueToken (cache hit)    {hit_half}");
    });
}
