//! Listing a crowded tenant (issue 14): more clients than one page of each vendor's list,
//! dcr's own at the end. The drift report and the reconciler's search by marker read every
//! page: Auth0 `page`/`per_page` (dcr asks 100, Auth0's maximum), Okta's `Link: rel="next"`
//! (`limit` 200, its maximum), Graph's `@odata.nextLink` (`$top` 999, its maximum, on the
//! applications tagged `dcr`).

use std::sync::atomic::Ordering;

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{Emulator, control, emulator, idp_clients, provider};
use serde_json::{Value, json};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};

/// Clients other tools made at the vendor before dcr's: one page of dcr's listing and
/// some (Graph's listing only shows the applications tagged `dcr`, so those are tagged).
fn crowd(vendor: &str) -> Value {
    match vendor {
        "auth0" => json!({"vendor": "auth0", "name": "foreign", "count": 250}),
        "okta" => json!({"vendor": "okta", "name": "foreign", "count": 250}),
        _ => json!({"vendor": "azure_ad", "name": "foreign", "tags": ["dcr"], "count": 1_050}),
    }
}

/// A client carrying the marker of an application this registry never had, made at the
/// vendor directly: an orphan dcr must report (and not delete). Its client id.
async fn stranger(emu: &Emulator, vendor: &str) -> String {
    let marker = Uuid::new_v4();
    let spec = match vendor {
        "auth0" => json!({"vendor": "auth0", "name": "stranger",
                          "client_metadata": {"dcr_application_id": marker.to_string()}}),
        "okta" => json!({"vendor": "okta", "name": format!("stranger [dcr:{marker}]")}),
        _ => json!({"vendor": "azure_ad", "name": "stranger",
                     "tags": ["dcr", format!("dcr:application:{marker}")]}),
    };
    let made = control(emu, "clients", spec).await;
    made["client_id"].as_str().expect("client_id").to_owned()
}

async fn crowded(vendor: &str) -> (Emulator, TestApp, pb::AuthStrategy) {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, vendor), true).await;
    let made = control(&emu, "clients", crowd(vendor)).await;
    assert!(
        made["client_ids"]
            .as_array()
            .is_some_and(|ids| ids.len() >= 250)
    );
    (emu, app, strategy)
}

async fn drift_finds_dcrs_clients_and_orphans_on_the_last_page(vendor: &str) {
    let (emu, app, strategy) = crowded(vendor).await;
    let keep = app
        .create_app("dev-1", &strategy.id, "keep")
        .await
        .application
        .expect("app");
    let orphan = stranger(&emu, vendor).await;

    let report = app
        .providers()
        .get_drift_report(pb::GetDriftReportRequest { repair: false })
        .await
        .expect("drift report")
        .into_inner();
    let p = &report.providers[0];
    assert!(p.errors.is_empty(), "{vendor}: {:?}", p.errors);
    let counts = p.counts.expect("counts");
    assert_eq!(
        counts.clients_listed, 2,
        "{vendor}: dcr's client and the stranger"
    );
    assert!(
        p.missing_clients.is_empty(),
        "{vendor}: {keep:?} is there: {p:?}"
    );
    let orphans: Vec<_> = p
        .orphan_clients
        .iter()
        .map(|o| (o.client_id.as_str(), o.reason(), o.repairable))
        .collect();
    assert_eq!(
        orphans,
        [(orphan.as_str(), pb::OrphanReason::NotMadeHere, false)],
        "{vendor}"
    );
}

#[tokio::test]
async fn auth0_drift_report_reads_every_page() {
    drift_finds_dcrs_clients_and_orphans_on_the_last_page("auth0").await;
}

#[tokio::test]
async fn okta_drift_report_reads_every_page() {
    drift_finds_dcrs_clients_and_orphans_on_the_last_page("okta").await;
}

#[tokio::test]
async fn azure_ad_drift_report_reads_every_page() {
    drift_finds_dcrs_clients_and_orphans_on_the_last_page("azure_ad").await;
}

/// A crash right after the IdP made the client, in a crowded tenant: the reconciler finds
/// it by dcr's marker past the first page and deletes it.
async fn reconciler_finds_a_crash_orphan_on_a_later_page(vendor: &str) {
    let (emu, app, strategy) = crowded(vendor).await;
    app.registry
        .faults
        .crash_after_idp_create
        .store(1, Ordering::SeqCst);
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "doomed".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("crash");
    assert_eq!(error.code(), Code::Internal, "{vendor}");
    let before = idp_clients(&emu, vendor).await.len();

    app.clock.advance(chrono::Duration::minutes(5));
    let pass = app.registry.reconcile_once().await.expect("reconcile");
    assert_eq!(pass.undone_creates, 1, "{vendor}");
    let after = idp_clients(&emu, vendor).await;
    assert_eq!(
        after.len(),
        before - 1,
        "{vendor}: the crash's client is deleted"
    );
    let named = |c: &Value| {
        ["name", "client_name", "displayName"]
            .iter()
            .any(|f| c[*f].as_str().is_some_and(|n| n.starts_with("doomed")))
    };
    assert!(!after.iter().any(named), "{vendor}");
}

#[tokio::test]
async fn auth0_reconciler_reads_every_page() {
    reconciler_finds_a_crash_orphan_on_a_later_page("auth0").await;
}

#[tokio::test]
async fn okta_reconciler_reads_every_page() {
    reconciler_finds_a_crash_orphan_on_a_later_page("okta").await;
}

#[tokio::test]
async fn azure_ad_reconciler_reads_every_page() {
    reconciler_finds_a_crash_orphan_on_a_later_page("azure_ad").await;
}
