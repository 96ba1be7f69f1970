//! A rate-limited IdP, per vendor, answering 429 the vendor's way (issue 14): Auth0 with
//! `x-ratelimit-*` and Okta with `x-rate-limit-*` (the reset in epoch seconds, no
//! `Retry-After`), Microsoft Graph with `Retry-After` in seconds. dcr waits as asked and
//! sends the create again; a wait longer than dcr keeps a request open fails at once,
//! saying until when, and leaves nothing behind.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{Emulator, calls, emulator, fault, idp_clients, provider};
use serde_json::json;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app};

/// The create call of each vendor's management API: (path prefix, stats route).
fn create_call(vendor: &str) -> (&'static str, &'static str) {
    match vendor {
        "auth0" => ("/auth0/api/v2/clients", "POST /auth0/api/v2/clients"),
        "okta" => ("/okta/oauth2/v1/clients", "POST /okta/oauth2/v1/clients"),
        _ => ("/graph/v1.0/applications", "POST /graph/v1.0/applications"),
    }
}

async fn limited(vendor: &str, wait_secs: u64) -> (Emulator, TestApp, pb::AuthStrategy) {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, vendor), true).await;
    let (path, _) = create_call(vendor);
    fault(
        &emu,
        json!({"vendor": vendor, "method": "POST", "path_prefix": path, "status": 429,
               "retry_after": wait_secs}),
    )
    .await;
    (emu, app, strategy)
}

async fn a_short_rate_limit_is_waited_out(vendor: &str) {
    let (emu, app, strategy) = limited(vendor, 1).await;
    let created = app.create_app("dev-1", &strategy.id, "patient").await;
    let application = created.application.expect("application");
    assert_eq!(application.state, pb::ApplicationState::Active as i32);
    assert!(
        !created
            .credential
            .expect("credential")
            .client_secret
            .is_empty()
    );
    let (_, route) = create_call(vendor);
    assert_eq!(
        calls(&emu, route).await,
        2,
        "{vendor}: refused once, then made"
    );
}

#[tokio::test]
async fn auth0_rate_limit_reset_is_waited_out() {
    a_short_rate_limit_is_waited_out("auth0").await;
}

#[tokio::test]
async fn okta_rate_limit_reset_is_waited_out() {
    a_short_rate_limit_is_waited_out("okta").await;
}

#[tokio::test]
async fn azure_ad_rate_limit_retry_after_is_waited_out() {
    a_short_rate_limit_is_waited_out("azure_ad").await;
}

async fn a_long_rate_limit_fails_saying_until_when(vendor: &str) {
    let (emu, app, strategy) = limited(vendor, 3_600).await;
    let before = idp_clients(&emu, vendor).await.len();
    let asked_at = chrono::Utc::now();
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "hasty".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("not waited for an hour");
    assert_eq!(error.code(), Code::Unavailable, "{vendor}");
    let message = error.message();
    assert!(message.contains("rate limiting"), "{vendor}: {message}");
    let until = message
        .split("until ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|at| chrono::DateTime::parse_from_rfc3339(at).ok())
        .unwrap_or_else(|| panic!("{vendor}: no time in {message}"));
    let ahead = (until.to_utc() - asked_at).num_seconds();
    assert!(
        (3_590..=3_610).contains(&ahead),
        "{vendor}: {ahead} s ahead"
    );

    let (_, route) = create_call(vendor);
    assert_eq!(calls(&emu, route).await, 1, "{vendor}: not sent again");
    assert_eq!(idp_clients(&emu, vendor).await.len(), before, "{vendor}");
    let listed = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(
        listed.applications.is_empty(),
        "{vendor}: the IdP did nothing, so dcr keeps nothing: {listed:?}"
    );
}

#[tokio::test]
async fn auth0_rate_limit_too_long_fails_saying_until_when() {
    a_long_rate_limit_fails_saying_until_when("auth0").await;
}

#[tokio::test]
async fn okta_rate_limit_too_long_fails_saying_until_when() {
    a_long_rate_limit_fails_saying_until_when("okta").await;
}

#[tokio::test]
async fn azure_ad_rate_limit_too_long_fails_saying_until_when() {
    a_long_rate_limit_fails_saying_until_when("azure_ad").await;
}
