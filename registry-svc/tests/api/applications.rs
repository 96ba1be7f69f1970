//! Portal behaviours: idempotent create, pagination, and the audit trail.

use dcr_proto::registry::v1 as pb;
use tonic::Code;

use crate::helpers::spawn_app;
use crate::http_bridge::bridge_provider;
use crate::peers;

#[tokio::test]
async fn a_retried_create_with_the_same_request_id_returns_the_first_application() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;
    let request = pb::CreateApplicationRequest {
        name: "retry me".into(),
        strategy_id: strategy.id.clone(),
        request_id: "req-42".into(),
        ..Default::default()
    };
    let first = app
        .portal("dev-1")
        .create_application(request.clone())
        .await
        .expect("first")
        .into_inner();
    let second = app
        .portal("dev-1")
        .create_application(request)
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        first.application.as_ref().map(|a| &a.id),
        second.application.as_ref().map(|a| &a.id)
    );
    assert!(
        first
            .credential
            .is_some_and(|c| !c.client_secret.is_empty())
    );
    assert!(
        second.credential.is_none(),
        "the secret is never shown twice"
    );
    assert_eq!(bridge.bridge_requests().await.len(), 1, "one IdP client");
}

#[tokio::test]
async fn lists_page_through_everything_once() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;
    for i in 0..5 {
        app.create_app("dev-1", &strategy.id, &format!("app {i}"))
            .await;
    }
    let mut portal = app.portal("dev-1");
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = portal
            .list_applications(pb::ListApplicationsRequest {
                page_size: 2,
                page_token: token,
            })
            .await
            .expect("page")
            .into_inner();
        assert!(page.applications.len() <= 2);
        names.extend(page.applications.into_iter().map(|a| a.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, ["app 0", "app 1", "app 2", "app 3", "app 4"]);
    let bad = portal
        .list_applications(pb::ListApplicationsRequest {
            page_size: 2,
            page_token: "garbage!".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn every_change_is_audited_and_filterable() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (provider, strategy, _) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;
    let application = app
        .create_app("dev-7", &strategy.id, "audited")
        .await
        .application
        .expect("app");
    let _ = app
        .portal("dev-7")
        .create_application(pb::CreateApplicationRequest {
            name: "audited".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    let mut audit = app.audit();
    let all = audit
        .list_audit_events(pb::ListAuditEventsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .events;
    let actions: Vec<(&str, &str, &str)> = all
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        actions,
        [
            ("developer:dev-7", "CreateApplication", "AlreadyExists"),
            ("developer:dev-7", "CreateApplication", "ok"),
            ("token:admin", "CreateProduct", "ok"),
            ("token:admin", "CreateStrategy", "ok"),
            ("token:admin", "CreateProvider", "ok"),
        ],
        "newest first, failures included"
    );
    let filtered = audit
        .list_audit_events(pb::ListAuditEventsRequest {
            resource_id: provider.id.clone(),
            ..Default::default()
        })
        .await
        .expect("filter")
        .into_inner()
        .events;
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0].resource_type, "provider");
    let by_developer = audit
        .list_audit_events(pb::ListAuditEventsRequest {
            actor: "developer:dev-7".into(),
            action: "CreateApplication".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("filter")
        .into_inner();
    assert_eq!(by_developer.events.len(), 1);
    assert!(!by_developer.next_page_token.is_empty());
    let older = audit
        .list_audit_events(pb::ListAuditEventsRequest {
            actor: "developer:dev-7".into(),
            page_token: by_developer.next_page_token,
            ..Default::default()
        })
        .await
        .expect("page 2")
        .into_inner()
        .events;
    assert_eq!(older.len(), 1);
    assert_eq!(older[0].resource_id, application.id);
}
