//! Invariant 1: a crash between the IdP call and the commit leaves, after reconcile,
//! IdP state == database state. The crash is injected at that exact point; time is
//! moved with the manual clock so the request's lease on its operation runs out.

use std::sync::atomic::Ordering;

use dcr_proto::registry::v1 as pb;
use serde_json::json;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app};
use crate::http_bridge::bridge_provider;
use crate::peers::{self, INITIAL_ACCESS_TOKEN};
use crate::rfc7591::rfc7591_provider;

/// Creates app "doomed" with a crash injected right after the IdP made its client.
async fn create_and_crash_after_the_idp(app: &TestApp, strategy_id: String) -> tonic::Status {
    app.registry
        .faults
        .crash_after_idp_create
        .store(1, Ordering::SeqCst);
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "doomed".into(),
            strategy_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    error
}

const PAST_THE_LEASE: chrono::Duration = chrono::Duration::minutes(5);

#[tokio::test]
async fn a_crash_after_the_idp_create_is_undone_at_the_bridge() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;
    let error = create_and_crash_after_the_idp(&app, strategy.id).await;
    assert!(
        !error.message().contains("injected"),
        "internal details stay in the logs: {}",
        error.message()
    );
    let clients = bridge.get_json("/__test/clients").await;
    assert_eq!(
        clients.as_array().map(Vec::len),
        Some(1),
        "the IdP did create the client"
    );
    let listed = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.applications[0].state,
        pb::ApplicationState::Provisioning as i32
    );

    // While the request's lease holds, the reconciler leaves the operation alone.
    assert_eq!(
        app.registry
            .reconcile_once()
            .await
            .expect("pass")
            .undone_creates,
        0
    );
    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(pass.undone_creates, 1);

    assert_eq!(
        bridge.get_json("/__test/clients").await,
        json!([]),
        "no orphan at the IdP"
    );
    let listed = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    let failed = &listed.applications[0];
    assert_eq!(failed.state, pb::ApplicationState::Failed as i32);
    assert!(failed.client_id.is_empty(), "FAILED without a client");
    assert!(!failed.failure_reason.is_empty());
    assert!(
        app.registry
            .store
            .pending_operations()
            .await
            .expect("ops")
            .is_empty()
    );

    // The developer can retry under the same name, and delete the failed one.
    app.create_app("dev-1", &failed.strategy_id, "doomed").await;
    app.portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: failed.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("delete the failed app");
}

#[tokio::test]
async fn a_crash_after_the_idp_create_is_undone_at_an_rfc7591_idp() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            rfc7591_provider("oidc", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;
    create_and_crash_after_the_idp(&app, strategy.id).await;

    // The journal holds what the IdP answered: the client and its management token.
    let pending = app.registry.store.pending_operations().await.expect("ops");
    let journal = pending[0]
        .journal
        .clone()
        .expect("journaled before the crash");
    let uri = journal.idp_state.0["registration_client_uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    let rat = journal.idp_state.0["registration_access_token"]
        .as_str()
        .expect("rat")
        .to_owned();
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(&uri)
            .bearer_auth(&rat)
            .send()
            .await
            .expect("read")
            .status(),
        200,
        "the client exists"
    );

    app.clock.advance(PAST_THE_LEASE);
    assert_eq!(
        app.registry
            .reconcile_once()
            .await
            .expect("pass")
            .undone_creates,
        1
    );
    assert_eq!(
        http.get(&uri)
            .bearer_auth(&rat)
            .send()
            .await
            .expect("read")
            .status(),
        401,
        "the client is gone"
    );
    let listed = app
        .portal("dev-1")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.applications[0].state,
        pb::ApplicationState::Failed as i32
    );
}

#[tokio::test]
async fn a_crash_after_the_idp_delete_is_finished() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;
    let application = app
        .create_app("dev-1", &strategy.id, "short-lived")
        .await
        .application
        .expect("app");

    // The IdP is down: the delete stays pending, the app is DELETING.
    bridge
        .post_json(
            "/__test/fail",
            json!({"path_prefix": "/", "method": "DELETE", "status": 503, "count": 1}),
        )
        .await;
    let error = app
        .portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            allow_missing: false,
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    let got = app
        .portal("dev-1")
        .get_application(pb::GetApplicationRequest {
            id: application.id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(got.state, pb::ApplicationState::Deleting as i32);

    // Then a crash after the IdP answered: the reconciler finishes the job.
    app.registry
        .faults
        .crash_after_idp_delete
        .store(1, Ordering::SeqCst);
    let error = app
        .portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            allow_missing: false,
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert_eq!(bridge.get_json("/__test/clients").await, json!([]));
    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(pass.finished_deletes, 1);
    let gone = app
        .portal("dev-1")
        .get_application(pb::GetApplicationRequest { id: application.id })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    assert!(
        app.registry
            .store
            .pending_operations()
            .await
            .expect("ops")
            .is_empty()
    );
}
