//! `apps_page serve DIR`: the portal test stack (the IdP emulator, registry-svc on the
//! test Postgres, portal-svc) with developer `dana` signed in and owning 200 apps, for
//! scripts/bench portal to measure "My apps" from another process (h2load). Writes
//! `DIR/env` (PORTAL, COOKIE, APPS, and REGISTRY, PORTAL_TOKEN with `DIR/list.grpc`, the
//! ListApplications request the page makes, so the registry's part can be measured alone)
//! and then `DIR/ready`; serves until interrupted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

#[path = "../tests/api/helpers.rs"]
mod helpers;

use dcr_common::telemetry::{LogConfig, LogFormat};
use dcr_proto::registry::v1 as pb;
use prost::Message as _;

const APPS: usize = 200;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(mode), Some(dir)) = (args.next(), args.next()) else {
        eprintln!("usage: apps_page serve DIR");
        std::process::exit(2);
    };
    assert_eq!(mode, "serve", "usage: apps_page serve DIR");
    let dir = std::path::PathBuf::from(dir);
    // Warnings only: the tests' trace-level log would be most of what is measured.
    let log = LogConfig {
        filter: "warn".into(),
        format: LogFormat::Pretty,
    };
    let _telemetry = dcr_common::telemetry::start(&log, None).unwrap();
    let s = helpers::stack().await;
    let mut browser = helpers::Browser::new(&s);
    browser.sign_in("dana").await;
    let mut apps = s.registry.clients.portal("dana");
    for i in 0..APPS {
        apps.create_application(pb::CreateApplicationRequest {
            name: format!("bench app {i:03}"),
            description: "one of many".into(),
            strategy_id: s.product.strategy_id.clone(),
            ..Default::default()
        })
        .await
        .expect("create an app");
    }
    let cookie: Vec<String> = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let portal = s.portal.trim_start_matches("http://");
    // The request the page makes, as gRPC framing: no compression flag, length, message.
    let list = pb::ListApplicationsRequest {
        page_size: 200,
        page_token: String::new(),
    }
    .encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(list.len()).unwrap().to_be_bytes());
    framed.extend_from_slice(&list);
    std::fs::write(dir.join("list.grpc"), framed).unwrap();
    std::fs::write(
        dir.join("env"),
        format!(
            "PORTAL={portal}\nCOOKIE='{}'\nAPPS={APPS}\nREGISTRY={}\nPORTAL_TOKEN={}\n",
            cookie.join("; "),
            s.registry.addr,
            dcr_testkit::registry::PORTAL_TOKEN,
        ),
    )
    .unwrap();
    std::fs::write(dir.join("ready"), "").unwrap();
    eprintln!("apps_page: ready at {} with {APPS} apps", s.portal);
    tokio::signal::ctrl_c().await.unwrap();
}
