//! Through a real Envoy: dcr's ext_authz (an authz-svc `Check` per request, warm cache)
//! versus Envoy's own `jwt_authn` filter (local JWKS, its verified-token cache) on the
//! same upstream with the same bearer JWT and the same load generator, in the same run.
//! A plain Envoy proxy (no auth filter) is the reference for what any filter costs.
//! Everything shares this machine's cores: Envoy (one worker each), authz-svc, the
//! upstream and the generator. Run with `scripts/bench inprocess envoy`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The allocator the service binary uses (see its main.rs), for baseline and service alike.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Duration;

use dcr_testkit::envoy;
use dcr_testkit::load::{Report, drive};
use dcr_testkit::registry::GATEWAY_TOKEN;

const AUDIENCE: &str = "https://api.example.com";
const WORKERS: usize = 32;
const WARMUP: Duration = Duration::from_secs(1);
const DURATION: Duration = Duration::from_secs(4);

/// The upstream every Envoy routes to: 200 and two bytes.
async fn upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// `WORKERS` closed-loop clients sending `GET {base}/orders` with `authorization`.
async fn load(base: &str, authorization: &str) -> Report {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(WORKERS)
        .build()
        .unwrap();
    let url = format!("{base}/orders");
    let authorization = authorization.to_owned();
    drive(WORKERS, WARMUP, DURATION, move |_| {
        let request = http
            .get(&url)
            .header("authorization", &authorization)
            .send();
        async move {
            let response = request.await.map_err(|e| e.to_string())?;
            if response.status() == 200 {
                Ok(())
            } else {
                Err(format!("HTTP {}", response.status()))
            }
        }
    })
    .await
}

/// The status Envoy answers for `authorization` (a sanity check that the filter filters).
async fn status(base: &str, authorization: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/orders"))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn main() {
    dcr_testkit::load::bench(async {
        let s = dcr_testkit::authz::authz_stack(&[]).await;
        let (_, client_id, secret) = s.registered_app("bench", "bench app").await;
        let token = format!(
            "Bearer {}",
            s.idp_token(&client_id, &secret, AUDIENCE).await
        );
        let issuer = s.base.idp.base_url.clone();
        let jwks = reqwest::get(format!("{issuer}/jwks"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let jwks_file =
            std::env::temp_dir().join(format!("dcr-bench-jwks-{}.json", std::process::id()));
        std::fs::write(&jwks_file, jwks).unwrap();

        let upstream = upstream().await;
        let authz = s.addr.to_string();
        let plain = envoy::start(&["--mode", "none", "--upstream", &upstream]).await;
        let ext_authz = envoy::start(&[
            "--authz",
            &authz,
            "--authz-token",
            GATEWAY_TOKEN,
            "--product-id",
            &s.base.product_id,
            "--upstream",
            &upstream,
        ])
        .await;
        let jwt_authn = envoy::start(&[
            "--mode",
            "jwt_authn",
            "--jwt-issuer",
            &issuer,
            "--jwt-audience",
            AUDIENCE,
            "--jwt-jwks-file",
            jwks_file.to_str().unwrap(),
            "--upstream",
            &upstream,
        ])
        .await;
        std::fs::remove_file(&jwks_file).ok();
        for (name, proxy) in [("ext_authz", &ext_authz), ("jwt_authn", &jwt_authn)] {
            assert_eq!(
                status(&proxy.base, &token).await,
                200,
                "{name} allows the token"
            );
            assert_eq!(
                status(&proxy.base, "Bearer a.b.c").await,
                401,
                "{name} denies junk"
            );
        }

        let plain = load(&plain.base, &token).await;
        let ext = load(&ext_authz.base, &token).await;
        let jwt = load(&jwt_authn.base, &token).await;
        println!("through Envoy 1.40 (1 worker), {WORKERS} HTTP/1.1 clients, {DURATION:?} each:");
        println!("  Envoy, no auth filter (reference)    {plain}");
        println!("  Envoy + jwt_authn (its own filter)   {jwt}");
        println!("  Envoy + dcr ext_authz (authz-svc)    {ext}");
        println!(
            "  ext_authz / jwt_authn                {:.2}   (ext_authz / no filter {:.2}, jwt_authn / no filter {:.2})",
            ext.rps / jwt.rps,
            ext.rps / plain.rps,
            jwt.rps / plain.rps
        );
    });
}
