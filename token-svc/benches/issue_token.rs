//! Cache-hit IssueToken throughput, as a ratio to a trivial tonic echo server sent the
//! same request bytes (and, for reference, the gRPC health Check with empty messages),
//! measured in the same run with the same load generator, plus p50/p99 at half the echo
//! server's rate. docs/design.md's target: ratio >= 0.8.
//! Run with `scripts/bench inprocess` (it starts Postgres and the IdP peer).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The allocator the service binary uses (see its main.rs), for baseline and service alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use dcr_proto::token::v1 as pb;
use dcr_testkit::load::{CONNECTIONS, RawCall, against_echo};

fn main() {
    dcr_testkit::load::bench(async {
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
        against_echo("token-svc IssueToken (cache hit)", &request, call).await;
        assert_eq!(
            stack.token_requests().await,
            idp_calls,
            "every call was a cache hit"
        );
    });
}
