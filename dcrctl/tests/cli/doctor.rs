//! `dcrctl doctor` against registry-svc and the emulated Okta: a clean report exits 0;
//! drift made behind dcr's back (a client deleted at the IdP, a leftover client of a
//! deleted app) is printed and exits 3; `--repair` deletes the leftover and says so; once
//! a person fixed the rest, the report is clean again.

use dcr_idp_emulator::seed::OKTA_API_TOKEN;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{Emulator, emulator, fault, idp_client, provider};
use dcr_testkit::registry::{ADMIN_TOKEN, spawn_app};
use serde_json::json;

use crate::Dcrctl;

/// The IdP's own API, behind dcr's back.
async fn okta(
    emu: &Emulator,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", emu.urls.okta_clients()))
        .header("authorization", format!("SSWS {OKTA_API_TOKEN}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("okta call");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap_or_default()
}

#[tokio::test]
async fn doctor_reports_drift_exits_3_and_repairs_what_is_safe() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let cli = Dcrctl::default()
        .env("DCR_REGISTRY_URL", &app.url)
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN);
    let keep = app.create_app("dev-1", &strategy.id, "keep").await;
    assert!(keep.application.is_some());

    let clean = cli.run(&["doctor"]).await;
    assert_eq!(
        clean.ok(),
        "provider okta (okta): 1 app, 1 marked client at the IdP\n  no drift\n\
         summary: 1 provider checked, no drift\n"
    );

    // A client deleted at the IdP; a copy of another app's client left there after the
    // app was deleted (say, by a retry that reached Okta twice).
    let lost = app
        .create_app("dev-1", &strategy.id, "lost")
        .await
        .application
        .expect("app");
    okta(
        &emu,
        reqwest::Method::DELETE,
        &format!("/{}", lost.client_id),
        None,
    )
    .await;
    let old = app
        .create_app("dev-1", &strategy.id, "old")
        .await
        .application
        .expect("app");
    let copy = okta(
        &emu,
        reqwest::Method::POST,
        "",
        Some(
            json!({"client_name": format!("old [dcr:{}]", old.id), "application_type": "service"}),
        ),
    )
    .await["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();
    app.portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: old.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("delete old");

    let drift = cli.run(&["doctor"]).await;
    assert_eq!(drift.code, 3, "{drift:?}");
    let out = &drift.stdout;
    assert!(
        out.contains(&format!(
            "  orphan client {copy} (application {}): its app was deleted; --repair deletes the client",
            old.id
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "  missing client {} of app lost ({}, developer dev-1)",
            lost.client_id, lost.id
        )),
        "{out}"
    );
    assert!(
        out.ends_with(
            "summary: drift in 1 of 1 provider: 1 orphan client, 1 missing client, \
             0 stuck operations, 0 possible orphans, 0 apps needing attention, \
             0 secrets out of step, 0 errors\n"
        ),
        "{out}"
    );
    assert!(
        idp_client(&emu, "okta", &copy).await.is_some(),
        "no repair without --repair"
    );

    let repaired = cli.run(&["doctor", "--repair", "--output", "json"]).await;
    assert_eq!(
        repaired.code, 3,
        "the missing client needs a person: {repaired:?}"
    );
    let report: serde_json::Value = serde_json::from_str(&repaired.stdout).expect("json");
    assert_eq!(report["clean"], false);
    let action = &report["actions"][0];
    assert_eq!(action["ok"], true, "{report:#}");
    assert!(
        action["description"]
            .as_str()
            .is_some_and(|d| d.contains(&format!("deleted orphan client {copy}"))),
        "{report:#}"
    );
    assert!(idp_client(&emu, "okta", &copy).await.is_none());

    // The developer deletes the app whose client is gone; then all is well.
    app.portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: lost.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("delete lost");
    let again = cli.run(&["doctor"]).await;
    assert!(again.ok().ends_with("no drift\n"), "{again:?}");
    app.stop().await;
}

/// An app whose delete the IdP refuses with 401 stays DELETING, marked for attention,
/// and the report says so; `dcrctl apps forget` (admin) then removes it from dcr, and
/// refuses an app that is not stuck.
#[tokio::test]
async fn an_app_stuck_in_deleting_is_reported_and_forgotten() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let cli = Dcrctl::default()
        .env("DCR_REGISTRY_URL", &app.url)
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN);
    let healthy = app
        .create_app("dev-1", &strategy.id, "healthy")
        .await
        .application
        .expect("app");
    let stuck = app
        .create_app("dev-1", &strategy.id, "stuck")
        .await
        .application
        .expect("app");
    fault(
        &emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients/", "method": "DELETE", "status": 401, "times": 10}),
    )
    .await;
    let refused = app
        .portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: stuck.id.clone(),
            allow_missing: false,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable);

    let report = cli.run(&["doctor"]).await;
    assert_eq!(report.code, 3, "{report:?}");
    assert!(
        report.stdout.contains(&stuck.id) && report.stdout.contains("apps forget"),
        "{report:?}"
    );

    let not_stuck = cli.run(&["apps", "forget", &healthy.id]).await;
    assert_eq!(not_stuck.code, 1, "{not_stuck:?}");
    assert!(
        not_stuck
            .stderr
            .contains("only an application stuck in DELETING"),
        "{not_stuck:?}"
    );
    let forgotten = cli.run(&["apps", "forget", &stuck.id]).await;
    assert_eq!(
        forgotten.ok(),
        format!(
            "forgot app {}; dcr no longer manages IdP client {}: delete it at the IdP if it still exists\n",
            stuck.id, stuck.client_id
        )
    );
    let gone = app
        .portal("dev-1")
        .get_application(pb::GetApplicationRequest { id: stuck.id })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    app.stop().await;
}
