//! Microsoft Entra's eventual consistency (issue 14): right after `POST /applications`,
//! Graph may answer the calls that follow (the service principal, `addPassword`) as if
//! the new application did not exist. dcr waits for it a few seconds at most, then gives
//! up cleanly: the half-made application is deleted, nothing is kept.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{
    Emulator, calls, emulator, fault, idp_clients, provider, token_status,
};
use serde_json::json;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app};

const SERVICE_PRINCIPALS: &str = "POST /graph/v1.0/servicePrincipals";

/// An Entra provider whose next application create takes `requests` requests naming the
/// new application to replicate.
async fn lagging(requests: u32) -> (Emulator, TestApp, pb::AuthStrategy) {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "azure_ad"), true).await;
    fault(
        &emu,
        json!({"vendor": "azure_ad", "method": "POST", "path_prefix": "/graph/v1.0/applications",
               "lag_requests": requests}),
    )
    .await;
    (emu, app, strategy)
}

#[tokio::test]
async fn entra_create_waits_for_the_new_application_to_replicate() {
    let (emu, app, strategy) = lagging(3).await;
    let created = app.create_app("dev-1", &strategy.id, "patient").await;
    let application = created.application.expect("application");
    assert_eq!(application.state, pb::ApplicationState::Active as i32);
    // Three service principal creates refused as "no backing application", the fourth made.
    assert_eq!(calls(&emu, SERVICE_PRINCIPALS).await, 4);
    let secret = created.credential.expect("credential").client_secret;
    assert_eq!(
        token_status(&emu, "azure_ad", &application.client_id, &secret, "").await,
        200,
        "the application has its service principal and its password"
    );
}

#[tokio::test]
async fn entra_create_gives_up_after_a_few_seconds_and_leaves_nothing() {
    // Longer than dcr waits for the service principal (five tries over three seconds).
    let (emu, app, strategy) = lagging(8).await;
    let before = idp_clients(&emu, "azure_ad").await.len();
    let started = std::time::Instant::now();
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "unlucky".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("the application never showed up in time");
    assert_eq!(
        error.code(),
        Code::FailedPrecondition,
        "{}",
        error.message()
    );
    assert!(
        error.message().contains("replication"),
        "{}",
        error.message()
    );
    assert_eq!(calls(&emu, SERVICE_PRINCIPALS).await, 5, "bounded tries");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(15),
        "bounded time: {:?}",
        started.elapsed()
    );
    // The half-made application is deleted (its delete waited out the lag too).
    assert_eq!(idp_clients(&emu, "azure_ad").await.len(), before);
    let listed = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.applications.is_empty(), "{listed:?}");
}

/// A 404 at any other time means gone: a regeneration whose application Graph does not
/// find fails at once, asked once.
#[tokio::test]
async fn entra_404_later_is_gone_without_waiting() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "azure_ad"), true).await;
    let application = app
        .create_app("dev-1", &strategy.id, "lost")
        .await
        .application
        .expect("app");
    let route = "GET /graph/v1.0/applications(appId='{id}')";
    fault(
        &emu,
        json!({"vendor": "azure_ad", "method": "GET", "path_prefix": "/graph/v1.0/applications(",
               "status": 404, "times": 10}),
    )
    .await;
    let before = calls(&emu, route).await;
    let error = app
        .portal("dev-1")
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect_err("gone");
    assert_eq!(
        error.code(),
        Code::FailedPrecondition,
        "{}",
        error.message()
    );
    assert_eq!(
        calls(&emu, route).await - before,
        1,
        "asked once, not waited for"
    );
}
