//! `CreateApplication` latency with the IdP's own time taken out: creates through
//! registry-svc (Postgres intent, the Auth0 Management API call at the IdP emulator,
//! journal, commit), then the same IdP call made directly, in the same run. dcr's own
//! time is the difference of the medians. docs/design.md's target: under 5 ms at p50.
//! Run with `scripts/bench inprocess create_application`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use dcr_idp_emulator::seed;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{emulator, provider};
use dcr_testkit::registry::spawn_app;

/// The allocator the service binary uses (see its main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const WARMUP: usize = 20;
const CALLS: usize = 300;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    dcr_testkit::load::bench(async {
        let emu = emulator().await;
        let app = spawn_app().await;
        let (_, strategy, _) = app.setup(provider(&emu, "auth0"), true).await;
        let mut portal = app.portal("bench");
        let mut creates = Vec::with_capacity(CALLS);
        for i in 0..WARMUP + CALLS {
            let began = Instant::now();
            portal
                .create_application(pb::CreateApplicationRequest {
                    name: format!("app-{i}"),
                    strategy_id: strategy.id.clone(),
                    ..Default::default()
                })
                .await
                .expect("create");
            if i >= WARMUP {
                creates.push(began.elapsed());
            }
        }

        // The IdP call alone: a management token, then the same POST /api/v2/clients.
        let http = reqwest::Client::new();
        let token: serde_json::Value = http
            .post(emu.urls.auth0_token())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", seed::AUTH0_MGMT_CLIENT_ID),
                ("client_secret", seed::AUTH0_MGMT_CLIENT_SECRET),
                ("audience", &emu.urls.auth0_management_audience()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = token["access_token"].as_str().unwrap().to_owned();
        let url = format!("{}clients", emu.urls.auth0_management_audience());
        let mut idp = Vec::with_capacity(CALLS);
        for i in 0..WARMUP + CALLS {
            let body = serde_json::json!({
                "name": format!("direct-{i}"), "description": "",
                "app_type": "non_interactive", "grant_types": ["client_credentials"],
                "token_endpoint_auth_method": "client_secret_basic",
                "client_metadata": {"dcr_application_id": format!("{i}"), "dcr_developer_id": "bench"},
            });
            let began = Instant::now();
            let status = http
                .post(&url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, 201);
            if i >= WARMUP {
                idp.push(began.elapsed());
            }
        }
        let (total, idp) = (median(creates), median(idp));
        println!("CreateApplication, {CALLS} sequential calls, auth0 adapter at the IdP emulator:");
        println!(
            "  CreateApplication through registry-svc   p50 {:>7.3} ms",
            ms(total)
        );
        println!(
            "  the IdP call alone (POST /api/v2/clients) p50 {:>7.3} ms",
            ms(idp)
        );
        println!(
            "  dcr's own time (difference)               p50 {:>7.3} ms   (target < 5 ms)",
            ms(total.saturating_sub(idp))
        );
    });
}
