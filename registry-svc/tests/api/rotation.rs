//! Changes to a live client go through intent -> IdP -> journal -> commit like a create:
//! a crash after the IdP answered loses neither the new credential's record nor a
//! rotated RFC 7592 registration access token; an unclear answer marks the application
//! for attention instead of guessing; and a 401 is never taken as proof of deletion.

use std::sync::atomic::Ordering;

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{clear_faults, emulator, fault, idp_clients, provider, token_status};
use serde_json::json;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::peers::{self, INITIAL_ACCESS_TOKEN};
use crate::rfc7591::rfc7591_provider;

const PAST_THE_LEASE: chrono::Duration = chrono::Duration::minutes(5);

async fn get(app: &TestApp, id: &str) -> pb::Application {
    app.portal("dev-1")
        .get_application(pb::GetApplicationRequest { id: id.into() })
        .await
        .expect("get")
        .into_inner()
}

async fn active_credentials(app: &TestApp, id: &str) -> Vec<pb::Credential> {
    app.portal("dev-1")
        .list_credentials(pb::ListCredentialsRequest {
            application_id: id.into(),
        })
        .await
        .expect("list credentials")
        .into_inner()
        .credentials
        .into_iter()
        .filter(|c| c.revoke_time.is_none())
        .collect()
}

fn crash_after_the_next_idp_change(app: &TestApp) {
    app.registry
        .faults
        .crash_after_idp_change
        .store(1, Ordering::SeqCst);
}

/// oidc-provider rotates the registration access token on every RFC 7592 update: a
/// regeneration and an update that "crash" after the IdP answered are committed by the
/// reconciler from their journals, so dcr still holds the token the IdP accepts, and the
/// delete that follows reaches the IdP (a lost token would answer 401).
#[tokio::test]
async fn crashes_after_an_rfc7592_rotation_keep_the_new_registration_token() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            rfc7591_provider("oidc", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;
    let created = app.create_app("dev-1", &strategy.id, "rotating").await;
    let application = created.application.expect("app");
    let first = created.credential.expect("credential");
    let state_before = app
        .registry
        .store
        .get_idp_state(application.id.parse().expect("uuid"))
        .await
        .expect("state")
        .expect("rfc 7592 state");

    crash_after_the_next_idp_change(&app);
    let error = app
        .portal("dev-1")
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(pass.committed_changes, 1, "{pass:?}");
    let active = active_credentials(&app, &application.id).await;
    assert_eq!(active.len(), 1);
    assert_ne!(
        active[0].id, first.id,
        "the regenerated credential replaced the first"
    );

    crash_after_the_next_idp_change(&app);
    let error = app
        .portal("dev-1")
        .update_application(pb::UpdateApplicationRequest {
            application: Some(pb::Application {
                id: application.id.clone(),
                description: "renamed at the IdP".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["description".into()],
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    app.clock.advance(PAST_THE_LEASE);
    assert_eq!(
        app.registry
            .reconcile_once()
            .await
            .expect("pass")
            .committed_changes,
        1
    );
    let state_after = app
        .registry
        .store
        .get_idp_state(application.id.parse().expect("uuid"))
        .await
        .expect("state")
        .expect("rfc 7592 state");
    assert_ne!(
        state_after.0["registration_access_token"], state_before.0["registration_access_token"],
        "the IdP rotated the token and dcr kept the new one"
    );

    app.portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("the delete reaches the IdP with the current token");
    let uri = state_after.0["registration_client_uri"]
        .as_str()
        .expect("uri");
    let token = state_after.0["registration_access_token"]
        .as_str()
        .expect("token");
    let read = reqwest::Client::new()
        .get(uri)
        .bearer_auth(token)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), 401, "the client is gone at the IdP");
}

/// A regeneration the IdP never answers clearly: the API says so, a second one waits
/// for the first to settle, the reconciler marks the application for attention (the
/// secret may have changed), and the next confirmed regeneration clears it.
#[tokio::test]
async fn an_unclear_regeneration_marks_the_application_for_attention() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let application = app
        .create_app("dev-1", &strategy.id, "unclear")
        .await
        .application
        .expect("app");
    fault(
        &emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients/", "status": 503, "times": 50}),
    )
    .await;
    let regenerate = || async {
        app.portal("dev-1")
            .regenerate_secret(pb::RegenerateSecretRequest {
                application_id: application.id.clone(),
            })
            .await
    };
    let error = regenerate().await.unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{}", error.message());
    assert!(error.message().contains("attention"), "{}", error.message());
    let waiting = regenerate().await.unwrap_err();
    assert_eq!(waiting.code(), Code::FailedPrecondition);
    assert!(
        waiting.message().contains("still under way"),
        "{}",
        waiting.message()
    );

    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(pass.unclear_changes, 1, "{pass:?}");
    let marked = get(&app, &application.id).await;
    assert!(
        marked.attention.contains("secret there may have changed"),
        "{}",
        marked.attention
    );

    clear_faults(&emu).await;
    let fresh = regenerate().await.expect("regenerate").into_inner();
    assert!(!fresh.client_secret.is_empty());
    assert_eq!(get(&app, &application.id).await.attention, "");
}

/// A 401 to a delete does not prove the client is gone (the token may have been lost):
/// the application stays DELETING, marked for attention, and the delete is retried.
#[tokio::test]
async fn a_delete_refused_with_401_is_not_taken_for_a_deletion() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            rfc7591_provider("oidc", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;
    let application = app
        .create_app("dev-1", &strategy.id, "refused")
        .await
        .application
        .expect("app");
    // Someone rotates the token behind dcr's back: an RFC 7592 update with it.
    let state = app
        .registry
        .store
        .get_idp_state(application.id.parse().expect("uuid"))
        .await
        .expect("state")
        .expect("rfc 7592 state");
    let uri = state.0["registration_client_uri"].as_str().expect("uri");
    let token = state.0["registration_access_token"]
        .as_str()
        .expect("token");
    let http = reqwest::Client::new();
    let mut metadata: serde_json::Value = http
        .get(uri)
        .bearer_auth(token)
        .send()
        .await
        .expect("read")
        .json()
        .await
        .expect("json");
    for field in [
        "registration_access_token",
        "registration_client_uri",
        "client_secret_expires_at",
        "client_id_issued_at",
    ] {
        metadata.as_object_mut().expect("object").remove(field);
    }
    let put = http
        .put(uri)
        .bearer_auth(token)
        .json(&metadata)
        .send()
        .await
        .expect("put");
    assert!(put.status().is_success(), "{}", put.status());

    let error = app
        .portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            allow_missing: false,
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{}", error.message());
    let stuck = get(&app, &application.id).await;
    assert_eq!(stuck.state, pb::ApplicationState::Deleting as i32);
    assert!(
        stuck.attention.contains("deleted outside dcr"),
        "{}",
        stuck.attention
    );
    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(
        (pass.finished_deletes, pass.retry_later),
        (0, 1),
        "{pass:?}"
    );
    assert_eq!(
        get(&app, &application.id).await.state,
        pb::ApplicationState::Deleting as i32
    );

    // A person checked the IdP: the admin forgets the application, audited. Only such an
    // application can be forgotten.
    let healthy = app
        .create_app("dev-1", &strategy.id, "healthy")
        .await
        .application
        .expect("app");
    let refused = app
        .providers()
        .forget_application(pb::ForgetApplicationRequest {
            application_id: healthy.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    let forgotten = app
        .providers()
        .forget_application(pb::ForgetApplicationRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("forget")
        .into_inner();
    assert_eq!(forgotten.client_id, application.client_id);
    let gone = app
        .portal("dev-1")
        .get_application(pb::GetApplicationRequest {
            id: application.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
    let audited = app
        .audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            action: "ForgetApplication".into(),
            resource_id: application.id.clone(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner();
    assert_eq!(
        audited
            .events
            .iter()
            .map(|e| (e.actor.as_str(), e.outcome.as_str()))
            .collect::<Vec<_>>(),
        [("token:admin", "ok")]
    );
}

/// No IdP call outlives the request's lease: a create the IdP sits on is cut off at the
/// workflow deadline (3/4 of the lease), answered as unclear, and left to the reconciler,
/// which removes whatever the IdP made once the lease has run out.
#[tokio::test]
async fn an_idp_call_is_cut_off_before_the_lease_runs_out() {
    let emu = emulator().await;
    let app = spawn_app_with(|config| {
        config.operation_lease = std::time::Duration::from_secs(2);
    })
    .await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    fault(
        &emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients", "method": "POST", "delay_ms": 4000, "times": 1}),
    )
    .await;
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "slow".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::Unavailable, "{}", error.message());
    assert!(
        error.message().contains("workflow deadline of 1.5 s"),
        "{}",
        error.message()
    );
    let pending = app.registry.store.pending_operations().await.expect("ops");
    assert_eq!(
        pending.len(),
        1,
        "the create stays pending for the reconciler"
    );

    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(pass.undone_creates, 1, "{pass:?}");
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

/// A rate-limited IdP during a regeneration: dcr waits as the 429's Retry-After asks and
/// sends the call again, and the developer gets a secret that works, the old one refused.
#[tokio::test]
async fn a_regeneration_rate_limited_by_the_idp_waits_and_succeeds() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let created = app.create_app("dev-1", &strategy.id, "busy").await;
    let application = created.application.expect("app");
    let old = created.credential.expect("credential").client_secret;
    fault(
        &emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients/", "method": "POST", "status": 429,
               "retry_after": 1, "times": 1}),
    )
    .await;
    let fresh = app
        .portal("dev-1")
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("regenerated after the wait")
        .into_inner();
    let works = |secret: String| {
        let (emu, client_id) = (&emu, application.client_id.clone());
        async move { token_status(emu, "okta", &client_id, &secret, "").await }
    };
    assert_eq!(works(fresh.client_secret).await, 200);
    assert_eq!(works(old).await, 401, "the old secret is gone");
    assert_eq!(get(&app, &application.id).await.attention, "");
}

/// An IdP (or a proxy before it) that answers garbage: the IdP may have acted, so dcr
/// takes the answer for neither success nor refusal. A regeneration whose answer cannot
/// be read marks the app for attention (the IdP's secret may have changed) and a later
/// regeneration recovers; a create whose answer cannot be read is settled by the
/// reconciler, which finds dcr's client by its marker and deletes it: no orphan.
#[tokio::test]
async fn garbage_from_the_idp_is_neither_success_nor_refusal() {
    let emu = emulator().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app.setup(provider(&emu, "okta"), true).await;
    let created = app.create_app("dev-1", &strategy.id, "garbled").await;
    let application = created.application.expect("app");
    let first_secret = created.credential.expect("credential").client_secret;

    fault(
        &emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients/", "method": "POST", "garble": true}),
    )
    .await;
    let regenerate = || async {
        app.portal("dev-1")
            .regenerate_secret(pb::RegenerateSecretRequest {
                application_id: application.id.clone(),
            })
            .await
    };
    let error = regenerate()
        .await
        .expect_err("an answer that cannot be read");
    assert_eq!(error.code(), Code::Unavailable, "{}", error.message());
    assert!(error.message().contains("attention"), "{}", error.message());
    // The secret the developer holds is still the one dcr lists (nothing was guessed).
    let listed = active_credentials(&app, &application.id).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(pass.unclear_changes, 1, "{pass:?}");
    assert!(
        get(&app, &application.id)
            .await
            .attention
            .contains("secret there may have changed")
    );
    // The IdP did rotate: the developer's secret no longer works there.
    assert_ne!(
        token_status(&emu, "okta", &application.client_id, &first_secret, "").await,
        200
    );
    let fresh = regenerate().await.expect("regenerate").into_inner();
    assert_eq!(
        token_status(
            &emu,
            "okta",
            &application.client_id,
            &fresh.client_secret,
            ""
        )
        .await,
        200
    );
    assert_eq!(get(&app, &application.id).await.attention, "");

    // A create answered with garbage: PROVISIONING, then the reconciler deletes the
    // client the IdP made (found by dcr's marker) and fails the app.
    fault(
        &emu,
        json!({"path_prefix": "/okta/oauth2/v1/clients", "method": "POST", "garble": true}),
    )
    .await;
    let error = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "garbled-create".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("an answer that cannot be read");
    assert_eq!(error.code(), Code::Unavailable, "{}", error.message());
    assert!(
        error.message().contains("PROVISIONING"),
        "{}",
        error.message()
    );
    let marked = |clients: Vec<serde_json::Value>| {
        clients
            .iter()
            .filter(|c| c.to_string().contains("garbled-create"))
            .count()
    };
    assert_eq!(
        marked(idp_clients(&emu, "okta").await),
        1,
        "the IdP made it"
    );
    app.clock.advance(PAST_THE_LEASE);
    let pass = app.registry.reconcile_once().await.expect("pass");
    assert_eq!(pass.undone_creates, 1, "{pass:?}");
    assert_eq!(
        marked(idp_clients(&emu, "okta").await),
        0,
        "the orphan was deleted"
    );
}
