//! Listing a crowded tenant (issue 14): more clients than one page of each vendor's list,
//! dcr's own at the end. The drift report and the reconciler's search by marker read every
//! page (it looks for a marker when a create's answer was lost): Auth0 `page`/`per_page` (dcr asks 100, Auth0's maximum), Okta's `Link: rel="next"`
//! (`limit` 200, its maximum), Graph's `@odata.nextLink` (`$top` 999, its maximum, on the
//! applications tagged `dcr`).

use dcr_idp_emulator::seed;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{
    Emulator, control, emulator, fault, idp_client, idp_clients, provider,
};
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

/// The path of each vendor's create call.
fn create_path(vendor: &str) -> &'static str {
    match vendor {
        "auth0" => "/auth0/api/v2/clients",
        "okta" => "/okta/oauth2/v1/clients",
        _ => "/graph/v1.0/applications",
    }
}

/// A create whose answer dcr never got, in a crowded tenant: the IdP made the client (at
/// the end of its list) but dcr has no journal of it, so the reconciler looks for dcr's
/// marker, past the first page, and deletes what it finds.
async fn reconciler_finds_a_lost_create_on_a_later_page(vendor: &str) {
    let (emu, app, strategy) = crowded(vendor).await;
    fault(
        &emu,
        json!({"vendor": vendor, "method": "POST", "path_prefix": create_path(vendor),
               "status": 503}),
    )
    .await;
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "lost".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("the answer is lost");
    assert_eq!(error.code(), Code::Unavailable, "{vendor}");
    let application_id = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .applications[0]
        .id
        .clone();
    // What the IdP made for that request after all, marked as dcr marks its clients.
    let made = match vendor {
        "auth0" => json!({"vendor": "auth0", "name": "lost",
                          "client_metadata": {"dcr_application_id": application_id}}),
        "okta" => json!({"vendor": "okta", "name": format!("lost [dcr:{application_id}]")}),
        _ => json!({"vendor": "azure_ad", "name": "lost",
                     "tags": ["dcr", format!("dcr:application:{application_id}")],
                     "owner": seed::ENTRA_INITIAL_CLIENT_ID}),
    };
    let made = control(&emu, "clients", made).await["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();

    app.clock.advance(chrono::Duration::minutes(5));
    let pass = app.registry.reconcile_once().await.expect("reconcile");
    assert_eq!(pass.undone_creates, 1, "{vendor}");
    assert!(
        idp_client(&emu, vendor, &made).await.is_none(),
        "{vendor}: the lost create's client is deleted"
    );
    assert!(
        idp_clients(&emu, vendor).await.len() >= 250,
        "{vendor}: the others stay"
    );
}

#[tokio::test]
async fn auth0_reconciler_reads_every_page() {
    reconciler_finds_a_lost_create_on_a_later_page("auth0").await;
}

#[tokio::test]
async fn okta_reconciler_reads_every_page() {
    reconciler_finds_a_lost_create_on_a_later_page("okta").await;
}

#[tokio::test]
async fn azure_ad_reconciler_reads_every_page() {
    reconciler_finds_a_lost_create_on_a_later_page("azure_ad").await;
}
