//! Warm `Check` throughput (a bearer JWT already verified once: a hash lookup per call),
//! as a ratio to a trivial tonic echo server sent the same request bytes, measured in the
//! same run with the same load generator, and p50/p99 at half the echo server's rate. The
//! gRPC health Check (empty messages) is shown too: the gap between it and the echo is
//! what carrying a 1 KB token over gRPC costs, whatever the server does with it.
//! docs/design.md's targets: ratio >= 0.8, p99 < 2 ms at half load. Run with `scripts/bench inprocess`.
//! `DCR_BENCH_TLS=1` runs everything (the services' hops, the baselines, the load) over
//! TLS: the ratio then shows what TLS costs dcr beyond what it costs any tonic server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The allocator the service binary uses (see its main.rs), for baseline and service alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use dcr_proto::authz::v1 as pb;
use dcr_testkit::load::{CONNECTIONS, RawCall, against_echo};
use dcr_testkit::registry::GATEWAY_TOKEN;
use prost::Message as _;

fn main() {
    dcr_testkit::load::bench(async {
        let certs = dcr_testkit::tls::TestCerts::new();
        let tls = std::env::var("DCR_BENCH_TLS").is_ok_and(|v| v == "1");
        if tls {
            dcr_testkit::load::use_tls(certs.files.clone());
        }
        let s = dcr_testkit::authz::authz_stack_with(&[], tls.then_some(&certs.files)).await;
        let (_, client_id, secret) = s.registered_app("bench", "bench app").await;
        let token = s
            .idp_token(&client_id, &secret, "https://api.example.com")
            .await;
        let request = pb::CheckRequest {
            product_id: s.base.product_id.clone(),
            headers: [("authorization".to_owned(), format!("Bearer {token}"))].into(),
            required_scopes: vec!["read".into()],
            source_address: String::new(),
        };
        let warm = s
            .check(
                &request.product_id,
                &[("authorization", &format!("Bearer {token}"))],
                &["read"],
            )
            .await;
        assert_eq!(warm.decision, pb::Decision::Allow as i32, "{warm:?}");
        let check = RawCall::new(
            &dcr_testkit::tls::url(s.addr, tls.then_some(&certs.files)),
            CONNECTIONS,
            "/dcr.authz.v1.AuthzService/Check",
            &request,
            Some(GATEWAY_TOKEN),
        )
        .await;
        let call = move |w: usize| {
            let check = check.clone();
            async move {
                let bytes = check.call(w).await?;
                let response = pb::CheckResponse::decode(bytes)
                    .map_err(|e| tonic::Status::internal(e.to_string()))?;
                if response.decision == pb::Decision::Allow as i32 {
                    Ok(())
                } else {
                    Err(tonic::Status::internal(format!(
                        "denied: {} {}",
                        response.reason, response.www_authenticate
                    )))
                }
            }
        };
        let name = if tls {
            "authz-svc Check over TLS (warm, bearer JWT)"
        } else {
            "authz-svc Check (warm, bearer JWT)"
        };
        against_echo(name, &request, call).await;
    });
}
