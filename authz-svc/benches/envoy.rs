//! The Envoy benchmark's setup (`scripts/bench envoy` drives it with h2load from another
//! process): four Envoys (one worker each) in front of the same upstream, for the same
//! bearer JWT: no auth filter (the reference), Envoy's own `jwt_authn` (local JWKS, its
//! verified-token cache), dcr's ext_authz (an authz-svc Check per request), and dcr's
//! fast path (jwt_authn and RBAC programmed by authz-svc over ECDS, ext_authz only for
//! what the fast path does not allow). Not a benchmark by itself.
//!
//! `envoy serve DIR [APPS]`: starts the authz stack and the Envoys, proves each answers
//! the token with 200 and junk with 401 (and the fast path without calling authz-svc),
//! writes `env` (the Envoys' addresses and admin addresses, the token) and `ready` into
//! DIR, and serves until SIGINT. With APPS, that many more applications are APPROVED for
//! the product first (rows written straight into the registry's database: the IdP plays
//! no part in a gateway's decision), so the fast path's config carries them all.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

/// The allocator the service binary uses (see its main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use dcr_proto::registry::v1 as reg;
use dcr_testkit::envoy::{self, Envoy};
use dcr_testkit::registry::GATEWAY_TOKEN;

const AUDIENCE: &str = "https://api.example.com";
const FAST_ALLOWED: &str = "http.ingress.rbac.dcr_fast_.shadow_allowed";

/// The upstream every Envoy routes to: 200 and two bytes.
async fn upstream() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = axum::Router::new().fallback(|| async { "ok" });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn status(proxy: &Envoy, authorization: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/orders", proxy.base))
        .header("authorization", authorization)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn address(proxy: &Envoy) -> &str {
    proxy.base.trim_start_matches("http://")
}

/// The fast path's four filter configs as authz-svc serves them, encoded.
async fn fast_config_bytes(authz: &std::net::SocketAddr) -> usize {
    use envoy_types::pb::envoy::service::discovery::v3::DiscoveryRequest;
    use envoy_types::pb::envoy::service::extension::v3::extension_config_discovery_service_client::ExtensionConfigDiscoveryServiceClient;
    let mut client = ExtensionConfigDiscoveryServiceClient::connect(format!("http://{authz}"))
        .await
        .unwrap();
    let mut request = tonic::Request::new(DiscoveryRequest {
        resource_names: authz_svc::xds::filters::NAMES.map(str::to_owned).to_vec(),
        ..Default::default()
    });
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {GATEWAY_TOKEN}").parse().unwrap(),
    );
    let answer = client
        .fetch_extension_configs(request)
        .await
        .unwrap()
        .into_inner();
    prost::Message::encoded_len(&answer)
}

/// How many times Envoy applied a new `dcr.fast` config.
async fn reloads(proxy: &Envoy) -> u64 {
    proxy
        .counter("extension_config_discovery.http_filter.dcr.fast.config_reload")
        .await
}

/// Milliseconds until Envoy applied a `dcr.fast` newer than the `before`th.
async fn pushed(proxy: &Envoy, before: u64) -> u128 {
    let started = Instant::now();
    while reloads(proxy).await == before {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no push reached Envoy"
        );
    }
    started.elapsed().as_millis()
}

/// Bytes Envoy's allocator holds (admin /memory).
async fn allocated(proxy: &Envoy) -> String {
    let memory: serde_json::Value = reqwest::get(format!("{}/memory", proxy.admin))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    memory["allocated"].as_str().unwrap_or("?").to_owned()
}

async fn serve(dir: PathBuf, apps: usize) {
    let s = dcr_testkit::authz::authz_stack(&[]).await;
    let (app_id, client_id, secret) = s.registered_app("bench", "bench app").await;
    if apps > 0 {
        let started = Instant::now();
        s.base
            .registry
            .approve_copies(&app_id, &s.base.product_id, apps)
            .await;
        // A change through the API, so authz-svc reads the registry again.
        s.registered_app("bench", "after the copies").await;
        eprintln!(
            "{apps} more approved applications in {:?}",
            started.elapsed()
        );
    }
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
    let jwks_file = dir.join("jwks.json");
    std::fs::write(&jwks_file, jwks).unwrap();

    let upstream = upstream().await;
    let authz = s.addr.to_string();
    let dcr = [
        "--authz",
        &authz,
        "--authz-token",
        GATEWAY_TOKEN,
        "--product-id",
        &s.base.product_id,
        "--upstream",
        &upstream,
    ];
    let plain = envoy::start(&["--mode", "none", "--upstream", &upstream]).await;
    let ext_authz = envoy::start(&dcr).await;
    let started = Instant::now();
    let fast = envoy::start(&[&["--mode", "fast"][..], &dcr].concat()).await;
    let fast_ready = started.elapsed();
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
    for (name, proxy) in [
        ("ext_authz", &ext_authz),
        ("jwt_authn", &jwt_authn),
        ("fast", &fast),
    ] {
        assert_eq!(status(proxy, &token).await, 200, "{name} allows the token");
        assert_eq!(
            status(proxy, "Bearer a.b.c").await,
            401,
            "{name} denies junk"
        );
    }
    // The token takes the fast path once its issue second is behind the config's.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = fast.counter(FAST_ALLOWED).await;
        assert_eq!(status(&fast, &token).await, 200);
        if fast.counter(FAST_ALLOWED).await > before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fast path never allowed the token"
        );
    }
    let config_bytes = fast_config_bytes(&s.addr).await;
    // Push time: from the registry's answer to a change until Envoy applied the new
    // config (an app of the product unregistered, then registered again).
    // Changes that cancel out while authz-svc reads the registry make no push, so each
    // one is waited for before the next.
    let before = reloads(&fast).await;
    let (pusher, _, _) = s.registered_app("bench", "pushed").await;
    pushed(&fast, before).await;
    let mut portal = s.base.registry.portal("bench");
    let mut pushes = Vec::new();
    for _ in 0..3 {
        let registration = portal
            .list_registrations(reg::ListRegistrationsRequest {
                application_id: pusher.clone(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .registrations
            .remove(0);
        let before = reloads(&fast).await;
        portal
            .delete_registration(reg::DeleteRegistrationRequest {
                id: registration.id,
            })
            .await
            .unwrap();
        pushes.push(pushed(&fast, before).await);
        let before = reloads(&fast).await;
        portal
            .create_registration(reg::CreateRegistrationRequest {
                application_id: pusher.clone(),
                product_id: s.base.product_id.clone(),
                scopes: Vec::new(),
            })
            .await
            .unwrap();
        pushes.push(pushed(&fast, before).await);
    }
    pushes.sort_unstable();
    let env = format!(
        "PLAIN={}\nJWT_AUTHN={}\nEXT_AUTHZ={}\nFAST={}\nFAST_ADMIN={}\nBEARER='{}'\nFAST_READY_MS={}\nCONFIG_BYTES={config_bytes}\nPUSH_MS='{}'\nFAST_MEMORY={}\nJWT_MEMORY={}\n",
        address(&plain),
        address(&jwt_authn),
        address(&ext_authz),
        address(&fast),
        fast.admin.trim_start_matches("http://"),
        token,
        fast_ready.as_millis(),
        pushes
            .iter()
            .map(u128::to_string)
            .collect::<Vec<_>>()
            .join(" "),
        allocated(&fast).await,
        allocated(&jwt_authn).await,
    );
    std::fs::write(dir.join("env"), &env).unwrap();
    std::fs::write(dir.join("ready"), b"").unwrap();
    eprintln!("envoy bench ready");
    tokio::signal::ctrl_c().await.expect("SIGINT");
    s.stop().await;
}

fn main() {
    // The services' logs (the fast path's pushes among them) go to the setup's log
    // (DCR_BENCH_LOG, e.g. "info"); none by default.
    match std::env::var("DCR_BENCH_LOG") {
        Ok(filter) => tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init(),
        Err(_) => {
            tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default())
                .expect("no other subscriber in a benchmark")
        }
    }
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", dir] => run(dir, 0),
        ["serve", dir, apps] => run(dir, apps.parse().expect("APPS is a number")),
        _ => eprintln!(
            "usage: envoy serve DIR [APPS] (run by scripts/bench envoy; nothing to do alone)"
        ),
    }
}

fn run(dir: &str, apps: usize) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(serve(PathBuf::from(dir), apps));
}
