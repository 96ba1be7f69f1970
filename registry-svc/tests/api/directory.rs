//! DirectoryService: ResolveClient, and WatchChanges ordered, resumable and live.

use std::time::Duration;

use dcr_proto::registry::v1 as pb;
use tokio_stream::StreamExt as _;

use crate::helpers::spawn_app;
use crate::http_bridge::bridge_provider;
use crate::peers;

async fn next_change(stream: &mut tonic::Streaming<pb::Change>) -> pb::Change {
    // A bound on waiting, not a sleep: the change normally arrives in milliseconds.
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a change arrives")
        .expect("stream open")
        .expect("change")
}

#[tokio::test]
async fn resolve_client_tells_gateways_what_they_need() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (provider, strategy, product) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            false,
        )
        .await;
    let created = app.create_app("dev-1", &strategy.id, "app").await;
    let application = created.application.expect("app");
    let registration = app
        .portal("dev-1")
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.id.clone(),
            product_id: product.id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register")
        .into_inner();
    assert_eq!(registration.status, pb::RegistrationStatus::Pending as i32);

    let resolved = app
        .directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: application.client_id.clone(),
        })
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(
        resolved.application.as_ref().map(|a| a.id.as_str()),
        Some(application.id.as_str())
    );
    assert_eq!(
        resolved.strategy.as_ref().map(|s| s.id.as_str()),
        Some(strategy.id.as_str())
    );
    assert_eq!(
        (
            resolved.provider_id.as_str(),
            resolved.provider_type.as_str()
        ),
        (provider.id.as_str(), "http_bridge")
    );
    assert_eq!(
        resolved.pending_product_ids,
        std::slice::from_ref(&product.id)
    );
    assert!(resolved.approved_product_ids.is_empty());
    assert_eq!(
        resolved.active_credential_ids,
        [created.credential.expect("credential").id]
    );

    // The admin approves: now the product is approved for this client.
    let pending = app
        .products()
        .list_registrations(pb::ListProductRegistrationsRequest {
            product_id: product.id.clone(),
            status: pb::RegistrationStatus::Pending as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(pending.registrations.len(), 1);
    app.products()
        .approve_registration(pb::ApproveRegistrationRequest {
            id: registration.id.clone(),
        })
        .await
        .expect("approve");
    let resolved = app
        .directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: application.client_id.clone(),
        })
        .await
        .expect("resolve")
        .into_inner();
    assert_eq!(
        resolved.approved_product_ids,
        std::slice::from_ref(&product.id)
    );
    let rejected = app
        .products()
        .reject_registration(pb::RejectRegistrationRequest {
            id: registration.id,
        })
        .await
        .expect("reject")
        .into_inner();
    assert_eq!(rejected.status, pb::RegistrationStatus::Rejected as i32);
    let resolved = app
        .directory()
        .resolve_client(pb::ResolveClientRequest {
            client_id: application.client_id,
        })
        .await
        .expect("resolve")
        .into_inner();
    assert!(resolved.approved_product_ids.is_empty() && resolved.pending_product_ids.is_empty());
    let events: Vec<String> = bridge
        .get_json("/__test/events")
        .await
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["event"]["event_type"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        events,
        ["add_registration", "remove_registration"],
        "the bridge hears of approval and rejection"
    );
}

#[tokio::test]
async fn watch_changes_is_ordered_resumable_and_live() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, _) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;
    let application = app
        .create_app("dev-1", &strategy.id, "watched")
        .await
        .application
        .expect("app");

    let mut stream = app
        .directory()
        .watch_changes(pb::WatchChangesRequest {
            after_seq: 0,
            start_at_end: false,
        })
        .await
        .expect("watch")
        .into_inner();
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next_change(&mut stream).await);
    }
    let kinds: Vec<i32> = seen.iter().map(|c| c.kind).collect();
    assert_eq!(
        kinds,
        [
            pb::ChangeKind::Provider as i32,
            pb::ChangeKind::Strategy as i32,
            pb::ChangeKind::Product as i32,
            pb::ChangeKind::Application as i32
        ]
    );
    assert!(
        seen.windows(2).all(|w| w[0].seq < w[1].seq),
        "ordered by seq"
    );
    assert_eq!(seen[3].client_id, application.client_id);

    // Live: a revocation committed now reaches the open stream.
    app.portal("dev-1")
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: application.id.clone(),
        })
        .await
        .expect("regenerate");
    let live = next_change(&mut stream).await;
    assert_eq!(
        (live.kind, live.action.as_str()),
        (pb::ChangeKind::Credential as i32, "rotated")
    );
    assert_eq!(live.application_id, application.id);
    drop(stream);

    // Resumable: reconnecting after the last seq seen gives exactly what came after.
    app.portal("dev-1")
        .delete_application(pb::DeleteApplicationRequest {
            id: application.id.clone(),
            allow_missing: false,
        })
        .await
        .expect("delete");
    let mut resumed = app
        .directory()
        .watch_changes(pb::WatchChangesRequest {
            after_seq: live.seq,
            start_at_end: false,
        })
        .await
        .expect("watch")
        .into_inner();
    let deleting = next_change(&mut resumed).await;
    let deleted = next_change(&mut resumed).await;
    assert_eq!(
        deleting.seq,
        live.seq + 1,
        "nothing missed, nothing repeated"
    );
    assert_eq!(
        (deleting.action.as_str(), deleted.action.as_str()),
        ("deleting", "deleted")
    );
    assert_eq!(deleted.client_id, application.client_id);

    // start_at_end: only what commits after the call.
    let mut fresh = app
        .directory()
        .watch_changes(pb::WatchChangesRequest {
            after_seq: 0,
            start_at_end: true,
        })
        .await
        .expect("watch")
        .into_inner();
    let again = app
        .create_app("dev-1", &strategy.id, "second")
        .await
        .application
        .expect("app");
    let first_new = next_change(&mut fresh).await;
    assert_eq!(first_new.seq, deleted.seq + 1);
    assert_eq!(first_new.application_id, again.id);
}
