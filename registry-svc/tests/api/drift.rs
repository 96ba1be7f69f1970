//! The drift report (ProviderService.GetDriftReport): against the emulated Okta, whose
//! API lists clients, and node oidc-provider (RFC 7591), whose API cannot. Drift is
//! made the way it happens: through the IdP's own API behind dcr's back, and through an
//! IdP outage during a create and a revocation.

use dcr_idp_emulator::seed;
use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{
    Emulator, VENDORS, auth0_api, clear_faults, emulator, fault, idp_client, provider,
};
use serde_json::{Value, json};
use tonic::Code;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app};
use crate::peers::{self, INITIAL_ACCESS_TOKEN};
use crate::rfc7591::rfc7591_provider;

const PAST_THE_LEASE: chrono::Duration = chrono::Duration::minutes(5);

async fn drift(app: &TestApp, repair: bool) -> pb::DriftReport {
    app.providers()
        .get_drift_report(pb::GetDriftReportRequest { repair })
        .await
        .expect("drift report")
        .into_inner()
}

/// A client made at the emulated Okta through its own API (as an admin or another tool
/// would), named `name`; its client id.
async fn okta_create(emu: &Emulator, name: &str) -> String {
    let answer: Value = reqwest::Client::new()
        .post(emu.urls.okta_clients())
        .header("authorization", format!("SSWS {}", seed::OKTA_API_TOKEN))
        .json(&json!({"client_name": name, "application_type": "service"}))
        .send()
        .await
        .expect("okta create")
        .json()
        .await
        .expect("json");
    answer["client_id"].as_str().expect("client_id").to_owned()
}

/// Deletes a client at the emulated Okta through its own API, behind dcr's back.
async fn okta_delete(emu: &Emulator, client_id: &str) {
    let status = reqwest::Client::new()
        .delete(format!("{}/{client_id}", emu.urls.okta_clients()))
        .header("authorization", format!("SSWS {}", seed::OKTA_API_TOKEN))
        .send()
        .await
        .expect("okta delete")
        .status();
    assert!(status.is_success(), "okta delete: {status}");
}

/// An app whose create the IdP left unclear (503), undone by the reconciler: FAILED.
async fn failed_app(app: &TestApp, emu: &Emulator, strategy_id: &str, name: &str) -> String {
    fault(
        emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients", "method": "POST", "status": 503}),
    )
    .await;
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: name.into(),
            strategy_id: strategy_id.into(),
            ..Default::default()
        })
        .await
        .expect_err("the IdP's outage");
    assert_eq!(error.code(), Code::Unavailable);
    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("reconcile");
    assert_eq!(pass.undone_creates, 1);
    let apps = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .applications;
    let failed = apps.iter().find(|a| a.name == name).expect("the app");
    assert_eq!(failed.state, pb::ApplicationState::Failed as i32);
    failed.id.clone()
}

fn orphans(p: &pb::ProviderDrift) -> Vec<(String, pb::OrphanReason, bool)> {
    let mut found: Vec<_> = p
        .orphan_clients
        .iter()
        .map(|o| (o.client_id.clone(), o.reason(), o.repairable))
        .collect();
    found.sort();
    found
}

#[tokio::test]
async fn the_report_finds_orphans_and_missing_clients_and_repair_deletes_only_dcrs_own() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let keep = app
        .create_app("dev-1", &strategy.id, "keep")
        .await
        .application
        .expect("app");
    let lost = app
        .create_app("dev-1", &strategy.id, "lost")
        .await
        .application
        .expect("app");
    okta_delete(&emu, &lost.client_id).await;
    // The 503'd create did reach Okta after all (its listing lagged when the reconciler
    // looked): a client carrying the FAILED app's marker.
    let cut = failed_app(&app, &emu, &strategy.id, "cut").await;
    let leftover = okta_create(&emu, &format!("cut [dcr:{cut}]")).await;
    // And one whose marker names an app this registry never had.
    let stranger = okta_create(&emu, &format!("other [dcr:{}]", Uuid::new_v4())).await;

    let report = drift(&app, false).await;
    assert!(!report.clean);
    assert!(report.actions.is_empty(), "a report alone repairs nothing");
    let okta = &report.providers[0];
    assert!(okta.listing_supported, "{}", okta.cannot_list_reason);
    let mut expected = vec![
        (leftover.clone(), pb::OrphanReason::ApplicationFailed, true),
        (stranger.clone(), pb::OrphanReason::NotMadeHere, false),
    ];
    expected.sort();
    assert_eq!(orphans(okta), expected);
    let missing: Vec<&str> = okta
        .missing_clients
        .iter()
        .map(|m| m.client_id.as_str())
        .collect();
    assert_eq!(missing, [lost.client_id.as_str()]);
    assert_eq!(okta.missing_clients[0].application_id, lost.id);
    assert!(okta.stuck_operations.is_empty(), "{okta:?}");
    let counts = okta.counts.expect("counts");
    assert_eq!(counts.clients_listed, 3, "keep, leftover, stranger");
    assert_eq!(counts.applications_checked, 2, "keep and lost");
    assert!(
        !format!("{okta:?}").contains(&keep.client_id),
        "the healthy app is not reported"
    );
    assert!(idp_client(&emu, "okta", &leftover).await.is_some());

    let repaired = drift(&app, true).await;
    let descriptions: Vec<&str> = repaired
        .actions
        .iter()
        .map(|a| a.description.as_str())
        .collect();
    assert!(
        descriptions
            .iter()
            .any(|d| d.contains(&format!("deleted orphan client {leftover}"))),
        "{descriptions:?}"
    );
    assert!(repaired.actions.iter().all(|a| a.ok), "{descriptions:?}");
    assert!(
        idp_client(&emu, "okta", &leftover).await.is_none(),
        "repair deleted the FAILED app's client"
    );
    assert!(
        idp_client(&emu, "okta", &stranger).await.is_some(),
        "a client this registry did not make is left alone"
    );
    assert!(idp_client(&emu, "okta", &keep.client_id).await.is_some());
    let okta = &repaired.providers[0];
    assert_eq!(
        orphans(okta),
        [(stranger.clone(), pb::OrphanReason::NotMadeHere, false)]
    );
    assert_eq!(
        okta.missing_clients.len(),
        1,
        "a missing client needs a person"
    );
    assert!(!repaired.clean);

    // What needs people: the developer deletes the app whose client is gone (gone
    // counts as deleted), the operator deletes the stranger at the IdP.
    app.portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: lost.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("delete the app whose client is gone");
    okta_delete(&emu, &stranger).await;
    let after = drift(&app, false).await;
    assert!(after.clean, "{after:?}");
    assert!(orphans(&after.providers[0]).is_empty());
}

#[tokio::test]
async fn an_unconfirmed_revocation_is_stuck_until_repair_pushes_it_then_the_report_is_clean() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let shop = app
        .create_app("dev-1", &strategy.id, "shop")
        .await
        .application
        .expect("app");
    let extra = app
        .portal("dev-1")
        .add_credential(pb::AddCredentialRequest {
            application_id: shop.id.clone(),
            expire_time: None,
        })
        .await
        .expect("add")
        .into_inner();
    // A leftover of a FAILED app, for repair to delete.
    let cut = failed_app(&app, &emu, &strategy.id, "cut").await;
    let leftover = okta_create(&emu, &format!("cut [dcr:{cut}]")).await;
    // Okta's secrets API is down while the secret is revoked.
    fault(
        &emu,
        json!({"path_prefix": "/okta/api/v1/apps/", "method": "POST", "status": 503, "times": 50}),
    )
    .await;
    let revoked = app
        .portal("dev-1")
        .revoke_credential(pb::RevokeCredentialRequest {
            application_id: shop.id.clone(),
            credential_id: extra.id.clone(),
        })
        .await
        .expect("revoke")
        .into_inner();
    assert!(revoked.idp_pending);

    // Reported at once, with the IdP's error; the reconciler's turn comes after the
    // request's lease.
    let report = drift(&app, false).await;
    let stuck = &report.providers[0].stuck_operations;
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(stuck[0].kind, "revoke_secret");
    assert_eq!(stuck[0].application_id, shop.id);
    assert!(stuck[0].hint.contains("not confirmed"), "{}", stuck[0].hint);
    assert!(
        stuck[0].hint.contains("retries it after"),
        "{}",
        stuck[0].hint
    );
    assert!(!stuck[0].last_error.is_empty());
    assert!(!report.clean);
    app.clock.advance(PAST_THE_LEASE);
    let report = drift(&app, false).await;
    let hint = &report.providers[0].stuck_operations[0].hint;
    assert!(hint.contains("next pass"), "{hint}");

    // Repair while Okta is still down: the orphan goes, the revocation stays stuck, now
    // with the IdP's error.
    let repaired = drift(&app, true).await;
    assert!(idp_client(&emu, "okta", &leftover).await.is_none());
    assert!(
        repaired
            .actions
            .iter()
            .any(|a| !a.ok && a.description.contains("1 still failing")),
        "{:?}",
        repaired.actions
    );
    let stuck = &repaired.providers[0].stuck_operations;
    assert_eq!(stuck.len(), 1);
    assert!(!stuck[0].last_error.is_empty(), "{stuck:?}");
    assert!(!repaired.clean);

    // Okta is back; once the lease runs out again, repair pushes the revocation.
    clear_faults(&emu).await;
    app.clock.advance(PAST_THE_LEASE);
    let repaired = drift(&app, true).await;
    assert!(
        repaired
            .actions
            .iter()
            .any(|a| a.ok && a.description.contains("1 revocations pushed")),
        "{:?}",
        repaired.actions
    );
    assert!(repaired.clean, "{repaired:?}");
    let again = drift(&app, false).await;
    assert!(again.clean, "{again:?}");
    assert!(again.actions.is_empty());
}

#[tokio::test]
async fn every_vendor_lists_dcrs_clients_or_says_it_cannot() {
    let emu = emulator().await;
    auth0_api(&emu, "https://api.example.com").await;
    for vendor in VENDORS {
        let app = spawn_app().await;
        let (_, strategy, _) = app.setup(provider(&emu, vendor), true).await;
        app.create_app("dev-1", &strategy.id, "shop").await;
        let report = drift(&app, false).await;
        let p = &report.providers[0];
        let counts = p.counts.expect("counts");
        if *vendor == "curity" {
            assert!(!p.listing_supported);
            assert!(p.cannot_list_reason.contains("Curity"), "{p:?}");
            assert_eq!(counts.applications_unchecked, 1);
            assert!(p.cannot_check_reason.contains("new client secret"), "{p:?}");
        } else {
            assert!(p.listing_supported, "{vendor}: {}", p.cannot_list_reason);
            assert_eq!(counts.applications_checked, 1, "{vendor}");
            assert_eq!(counts.clients_listed, 1, "{vendor}");
        }
        assert!(report.clean, "{vendor}: {report:?}");
    }
}

#[tokio::test]
async fn an_rfc7591_idp_cannot_list_but_a_gone_client_is_found() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            rfc7591_provider("oidc", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;
    let kept = app.create_app("dev-1", &strategy.id, "kept").await;
    let kept_app = kept.application.expect("app");
    let kept_secret = kept.credential.expect("credential").client_secret;
    let gone = app
        .create_app("dev-1", &strategy.id, "gone")
        .await
        .application
        .expect("app");
    // Someone holding the registration access token deletes the client (RFC 7592).
    let state = app
        .registry
        .store
        .get_idp_state(gone.id.parse().expect("uuid"))
        .await
        .expect("state")
        .expect("some");
    let status = reqwest::Client::new()
        .delete(state.0["registration_client_uri"].as_str().expect("uri"))
        .bearer_auth(state.0["registration_access_token"].as_str().expect("rat"))
        .send()
        .await
        .expect("delete")
        .status();
    assert_eq!(status.as_u16(), 204);

    let report = drift(&app, false).await;
    let p = &report.providers[0];
    assert!(!p.listing_supported);
    assert!(
        p.cannot_list_reason
            .contains("RFC 7591/7592 has no call that lists clients"),
        "{}",
        p.cannot_list_reason
    );
    let missing: Vec<&str> = p
        .missing_clients
        .iter()
        .map(|m| m.application_id.as_str())
        .collect();
    assert_eq!(missing, [gone.id.as_str()]);
    assert_eq!(p.counts.expect("counts").applications_checked, 2);
    assert!(!report.clean);
    // Asking changed nothing for the app that is fine: its secret still works.
    let (status, _) = idp
        .client_credentials(&kept_app.client_id, &kept_secret)
        .await;
    assert_eq!(status, 200);
    // And dcr can still manage it (its registration access token still works).
    app.portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: kept_app.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("delete");
    let (status, _) = idp
        .client_credentials(&kept_app.client_id, &kept_secret)
        .await;
    assert_ne!(status, 200, "deleted at the IdP too");
}

/// Two providers on one Okta org each list the other's clients too: those belong to an
/// app of this registry, so neither reports them.
#[tokio::test]
async fn two_providers_on_one_tenant_do_not_take_each_others_clients_for_orphans() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, first, _) = app.setup(provider(&emu, "okta"), true).await;
    let mut second = provider(&emu, "okta");
    second.name = "okta-2".into();
    let (_, second, _) = app.setup(second, true).await;
    app.create_app("dev-1", &first.id, "one").await;
    app.create_app("dev-1", &second.id, "two").await;
    let report = drift(&app, false).await;
    assert_eq!(report.providers.len(), 2);
    for p in &report.providers {
        assert_eq!(p.counts.expect("counts").clients_listed, 2, "{p:?}");
        assert!(p.orphan_clients.is_empty(), "{p:?}");
    }
    assert!(report.clean, "{report:?}");
}

/// A client's secrets at the emulated IdP, through the vendor's own API (as an admin
/// would use it, behind dcr's back): Okta's Client Secrets API, Graph's
/// `passwordCredentials`, `addPassword` and `removePassword`.
struct IdpSecrets<'a> {
    emu: &'a Emulator,
    vendor: &'a str,
    client_id: String,
}

impl IdpSecrets<'_> {
    async fn graph_token(&self) -> String {
        let answer: Value = reqwest::Client::new()
            .post(self.emu.urls.entra_v2_token())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", seed::ENTRA_INITIAL_CLIENT_ID),
                ("client_secret", seed::ENTRA_INITIAL_CLIENT_SECRET),
                (
                    "scope",
                    &format!("{}/.default", self.emu.urls.graph_resource()),
                ),
            ])
            .send()
            .await
            .expect("graph token")
            .json()
            .await
            .expect("json");
        answer["access_token"].as_str().expect("token").to_owned()
    }

    fn graph_app(&self) -> String {
        format!(
            "{}/applications(appId='{}')",
            self.emu.urls.graph_v1(),
            self.client_id
        )
    }

    async fn call(&self, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
        let request = reqwest::Client::new().request(method, url);
        let request = if self.vendor == "okta" {
            request.header("authorization", format!("SSWS {}", seed::OKTA_API_TOKEN))
        } else {
            request.bearer_auth(self.graph_token().await)
        };
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        let response = request.send().await.expect("idp call");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.json().await.unwrap_or_default()
    }

    /// (id, active) of each secret the IdP holds for the client.
    async fn list(&self) -> Vec<(String, bool)> {
        if self.vendor == "okta" {
            let url = self.emu.urls.okta_secrets(&self.client_id);
            let listed = self.call(reqwest::Method::GET, &url, None).await;
            listed
                .as_array()
                .expect("array")
                .iter()
                .map(|s| {
                    (
                        s["id"].as_str().expect("id").to_owned(),
                        s["status"] == "ACTIVE",
                    )
                })
                .collect()
        } else {
            let url = format!("{}?$select=id,appId,passwordCredentials", self.graph_app());
            let app = self.call(reqwest::Method::GET, &url, None).await;
            app["passwordCredentials"]
                .as_array()
                .expect("array")
                .iter()
                .map(|p| (p["keyId"].as_str().expect("keyId").to_owned(), true))
                .collect()
        }
    }

    /// A new active secret; its id.
    async fn add(&self) -> String {
        let added = if self.vendor == "okta" {
            let url = self.emu.urls.okta_secrets(&self.client_id);
            self.call(reqwest::Method::POST, &url, Some(json!({})))
                .await["id"]
                .clone()
        } else {
            let url = format!("{}/addPassword", self.graph_app());
            let body = json!({"passwordCredential": {"displayName": "by hand"}});
            self.call(reqwest::Method::POST, &url, Some(body)).await["keyId"].clone()
        };
        added.as_str().expect("id").to_owned()
    }

    /// Stops one secret working: Okta deactivates it, Graph removes it.
    async fn revoke(&self, id: &str) {
        if self.vendor == "okta" {
            let url = format!(
                "{}/{id}/lifecycle/deactivate",
                self.emu.urls.okta_secrets(&self.client_id)
            );
            self.call(reqwest::Method::POST, &url, None).await;
        } else {
            let url = format!("{}/removePassword", self.graph_app());
            self.call(reqwest::Method::POST, &url, Some(json!({"keyId": id})))
                .await;
        }
    }
}

fn secrets_out_of_step(p: &pb::ProviderDrift) -> Vec<(String, pb::SecretDriftKind, bool)> {
    let mut found: Vec<_> = p
        .secrets_out_of_step
        .iter()
        .map(|s| (s.secret_ref.clone(), s.kind(), s.repairable))
        .collect();
    found.sort();
    found
}

/// A secret added at the IdP behind dcr's back (as an AddCredential whose answer was
/// lost leaves one) and dcr's own secret revoked there: both reported; repair revokes
/// only the one dcr never returned to anyone.
async fn secrets_out_of_step_are_reported_and_repair_revokes_only_the_unknown(vendor: &str) {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, vendor), true).await;
    let shop = app.create_app("dev-1", &strategy.id, "shop").await;
    let credential = shop.credential.expect("credential");
    let shop = shop.application.expect("app");
    let idp = IdpSecrets {
        emu: &emu,
        vendor,
        client_id: shop.client_id.clone(),
    };

    let report = drift(&app, false).await;
    let p = &report.providers[0];
    assert_eq!(p.cannot_list_secrets_reason, "", "{vendor}");
    assert_eq!(
        p.counts.expect("counts").applications_secrets_checked,
        1,
        "{vendor}"
    );
    assert!(report.clean, "{vendor}: {report:?}");

    let held = idp.list().await;
    assert_eq!(held.len(), 1, "{vendor}: {held:?}");
    let held = held[0].0.clone();
    let stray = idp.add().await;
    idp.revoke(&held).await;

    let report = drift(&app, false).await;
    assert!(!report.clean, "{vendor}");
    assert!(report.actions.is_empty());
    let p = &report.providers[0];
    let mut expected = vec![
        (stray.clone(), pb::SecretDriftKind::UnknownToDcr, true),
        (held.clone(), pb::SecretDriftKind::NotActiveAtIdp, false),
    ];
    expected.sort();
    assert_eq!(secrets_out_of_step(p), expected, "{vendor}");
    let mine = p
        .secrets_out_of_step
        .iter()
        .find(|s| s.secret_ref == held)
        .expect("dcr's secret");
    assert_eq!(mine.credential_id, credential.id, "{vendor}");
    assert_eq!(mine.application_id, shop.id);
    assert_eq!(p.counts.expect("counts").secrets_out_of_step, 2);
    assert!(
        idp.list().await.contains(&(stray.clone(), true)),
        "{vendor}: no repair without repair"
    );

    let repaired = drift(&app, true).await;
    let descriptions: Vec<&str> = repaired
        .actions
        .iter()
        .map(|a| a.description.as_str())
        .collect();
    assert_eq!(
        descriptions,
        [format!(
            "revoked secret {stray} of client {} (application {}) at the IdP: dcr never \
             recorded it",
            shop.client_id, shop.id
        )],
        "{vendor}"
    );
    assert!(repaired.actions[0].ok);
    assert!(
        !idp.list()
            .await
            .iter()
            .any(|(id, active)| *id == stray && *active),
        "{vendor}: the unknown secret no longer works"
    );
    // dcr's own credential, which the IdP dropped, needs a person.
    assert_eq!(
        secrets_out_of_step(&repaired.providers[0]),
        [(held.clone(), pb::SecretDriftKind::NotActiveAtIdp, false)],
        "{vendor}"
    );
    assert!(!repaired.clean);
}

#[tokio::test]
async fn okta_secrets_out_of_step_are_reported_and_repair_revokes_only_the_unknown() {
    secrets_out_of_step_are_reported_and_repair_revokes_only_the_unknown("okta").await;
}

#[tokio::test]
async fn entra_secrets_out_of_step_are_reported_and_repair_revokes_only_the_unknown() {
    secrets_out_of_step_are_reported_and_repair_revokes_only_the_unknown("azure_ad").await;
}

#[tokio::test]
async fn vendors_that_cannot_list_secrets_say_so_and_stay_clean() {
    let emu = emulator().await;
    auth0_api(&emu, "https://api.example.com").await;
    for (vendor, says) in [("auth0", "Auth0"), ("curity", "Curity")] {
        let app = spawn_app().await;
        let (_, strategy, _) = app.setup(provider(&emu, vendor), true).await;
        app.create_app("dev-1", &strategy.id, "shop").await;
        let report = drift(&app, false).await;
        let p = &report.providers[0];
        assert!(
            p.cannot_list_secrets_reason.contains(says),
            "{vendor}: {p:?}"
        );
        let counts = p.counts.expect("counts");
        assert_eq!(counts.applications_secrets_checked, 0, "{vendor}");
        assert!(p.secrets_out_of_step.is_empty(), "{vendor}");
        assert!(report.clean, "{vendor}: {report:?}");
    }
}
