//! DirectoryService: ResolveClient, WatchChanges ordered, resumable and live, and the
//! snapshots of every product and approved client (ListDirectoryProducts,
//! ListApprovedClients), also through dcr_common's `Directory`.

use std::future::Future;
use std::time::Duration;

use dcr_common::auth::ServiceCredentials;
use dcr_common::directory::{ApprovedClientEntry, Directory};
use dcr_proto::registry::v1 as pb;
use serde_json::json;
use tokio_stream::StreamExt as _;
use tonic::Code;

use crate::helpers::{ADMIN_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN, TestApp, spawn_app};
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

/// Every page of a listing, one `Vec` per page: `page(token)` answers a page's items and
/// the next token ("" after the last).
async fn pages<T, Fut>(mut page: impl FnMut(String) -> Fut) -> Vec<Vec<T>>
where
    Fut: Future<Output = (Vec<T>, String)>,
{
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = page(token).await;
        pages.push(items);
        if next.is_empty() {
            return pages;
        }
        token = next;
    }
}

async fn approved_client_pages(app: &TestApp, page_size: i32) -> Vec<Vec<pb::ApprovedClient>> {
    pages(|page_token| {
        let mut directory = app.directory();
        async move {
            let page = directory
                .list_approved_clients(pb::ListApprovedClientsRequest {
                    page_size,
                    page_token,
                })
                .await
                .expect("list approved clients")
                .into_inner();
            (page.clients, page.next_page_token)
        }
    })
    .await
}

/// `developer` registers `application` to `product`; the registration's id.
async fn register(app: &TestApp, developer: &str, application: &str, product: &str) -> String {
    app.portal(developer)
        .create_registration(pb::CreateRegistrationRequest {
            application_id: application.into(),
            product_id: product.into(),
            scopes: Vec::new(),
        })
        .await
        .expect("register")
        .into_inner()
        .id
}

async fn approve(app: &TestApp, registration: String) {
    app.products()
        .approve_registration(pb::ApproveRegistrationRequest { id: registration })
        .await
        .expect("approve");
}

/// The newest revocation among the application's credentials.
async fn newest_revocation(
    app: &TestApp,
    developer: &str,
    application: &str,
) -> Option<prost_types::Timestamp> {
    let credentials = app
        .portal(developer)
        .list_credentials(pb::ListCredentialsRequest {
            application_id: application.into(),
        })
        .await
        .expect("credentials")
        .into_inner()
        .credentials;
    credentials
        .into_iter()
        .filter_map(|c| c.revoke_time)
        .max_by_key(|t| (t.seconds, t.nanos))
}

async fn new_app(app: &TestApp, developer: &str, strategy: &str, name: &str) -> pb::Application {
    let created = app.create_app(developer, strategy, name).await;
    created.application.expect("app")
}

/// What a gateway programmed ahead of its calls snapshots: every client whose application
/// is ACTIVE and whose registration is APPROVED, per product, in (product, client) order
/// across pages, with the newest revocation; and every product as ResolveProduct answers
/// it. The service token's alone.
#[tokio::test]
async fn directory_lists_every_approved_client_and_product() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, first) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            false,
        )
        .await;
    let second = app
        .products()
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "second".into(),
                strategy_id: strategy.id.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("second product")
        .into_inner();
    // Approved for both products; its secret rotated, so tokens before that no longer count.
    let rotated = new_app(&app, "dev-1", &strategy.id, "rotated").await;
    for product in [&first.id, &second.id] {
        approve(&app, register(&app, "dev-1", &rotated.id, product).await).await;
    }
    app.portal("dev-1")
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: rotated.id.clone(),
        })
        .await
        .expect("rotate");
    // Approved for the first, still PENDING for the second.
    let plain = new_app(&app, "dev-1", &strategy.id, "plain").await;
    approve(&app, register(&app, "dev-1", &plain.id, &first.id).await).await;
    register(&app, "dev-1", &plain.id, &second.id).await;
    // Approved, then its delete stays pending at the IdP: DELETING, so no longer listed.
    let leaving = new_app(&app, "dev-2", &strategy.id, "leaving").await;
    approve(&app, register(&app, "dev-2", &leaving.id, &first.id).await).await;
    bridge
        .post_json(
            "/__test/fail",
            json!({"path_prefix": "/", "method": "DELETE", "status": 503, "count": 1}),
        )
        .await;
    let pending_delete = app
        .portal("dev-2")
        .delete_application(pb::DeleteApplicationRequest {
            id: leaving.id.clone(),
            allow_missing: false,
        })
        .await
        .unwrap_err();
    assert_eq!(pending_delete.code(), Code::Unavailable);

    let revoked = newest_revocation(&app, "dev-1", &rotated.id).await;
    assert!(revoked.is_some(), "the rotation revoked a secret");
    let approved =
        |product: &pb::ApiProduct, application: &pb::Application, revoked| pb::ApprovedClient {
            product_id: product.id.clone(),
            client_id: application.client_id.clone(),
            application_id: application.id.clone(),
            revoked_before: revoked,
            ..Default::default()
        };
    let mut expected = vec![
        approved(&first, &rotated, revoked),
        approved(&second, &rotated, revoked),
        approved(&first, &plain, None),
    ];
    expected.sort_by(|a, b| (&a.product_id, &a.client_id).cmp(&(&b.product_id, &b.client_id)));
    let by_two = approved_client_pages(&app, 2).await;
    assert_eq!(
        by_two.iter().map(Vec::len).collect::<Vec<_>>(),
        [2, 1],
        "{by_two:?}"
    );
    assert_eq!(by_two.concat(), expected);
    assert_eq!(approved_client_pages(&app, 0).await, [expected.clone()]);

    let products = pages(|page_token| {
        let mut directory = app.directory();
        async move {
            let page = directory
                .list_directory_products(pb::ListDirectoryProductsRequest {
                    page_size: 1,
                    page_token,
                })
                .await
                .expect("list products")
                .into_inner();
            (page.products, page.next_page_token)
        }
    })
    .await;
    assert_eq!(products.len(), 2, "one product a page");
    let mut resolved = Vec::new();
    for product in [&first, &second] {
        let answer = app
            .directory()
            .resolve_product(pb::ResolveProductRequest {
                product_id: product.id.clone(),
                name: String::new(),
            })
            .await
            .expect("resolve")
            .into_inner();
        assert_eq!(
            answer.strategy.as_ref().map(|s| s.id.as_str()),
            Some(strategy.id.as_str())
        );
        resolved.push(answer);
    }
    resolved.sort_by(|a, b| {
        a.product
            .as_ref()
            .map(|p| &p.id)
            .cmp(&b.product.as_ref().map(|p| &p.id))
    });
    assert_eq!(
        products.concat(),
        resolved,
        "as ResolveProduct answers each"
    );

    // The same through dcr_common's Directory, which reads every page.
    let directory = Directory::new(
        app.channel.clone(),
        ServiceCredentials::new(&SERVICE_TOKEN.to_owned().into()).expect("token"),
    );
    let entries = directory.list_approved_clients().await.expect("snapshot");
    assert_eq!(
        entries
            .iter()
            .map(|e| e.client_id.as_str())
            .collect::<Vec<_>>(),
        expected
            .iter()
            .map(|e| e.client_id.as_str())
            .collect::<Vec<_>>()
    );
    assert!(entries.iter().any(|e| e.revoked_before.is_some()));
    let names: Vec<String> = (directory.list_products().await.expect("products"))
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"second".to_owned()) && names.contains(&first.name));

    // Bad paging is the caller's error; other roles may not list.
    for (page_size, page_token) in [(0, "garbage!"), (-1, "")] {
        let refused = app
            .directory()
            .list_approved_clients(pb::ListApprovedClientsRequest {
                page_size,
                page_token: page_token.into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            Code::InvalidArgument,
            "{page_size} {page_token:?}"
        );
    }
    for token in [ADMIN_TOKEN, PORTAL_TOKEN] {
        let mut other = pb::directory_service_client::DirectoryServiceClient::new(
            app.raw(token, Some("dev-1")),
        );
        let clients = other
            .list_approved_clients(pb::ListApprovedClientsRequest::default())
            .await
            .unwrap_err();
        let products = other
            .list_directory_products(pb::ListDirectoryProductsRequest::default())
            .await
            .unwrap_err();
        assert_eq!(
            (clients.code(), products.code()),
            (Code::PermissionDenied, Code::PermissionDenied)
        );
    }
}

async fn tick(changes: &mut tokio::sync::watch::Receiver<u64>) {
    // A bound on waiting, not a sleep: the tick normally comes in milliseconds.
    tokio::time::timeout(Duration::from_secs(10), changes.changed())
        .await
        .expect("a tick arrives")
        .expect("directory alive");
}

/// A consumer holding a snapshot hears when to rebuild it: once the follower connects,
/// and after each change it applies.
#[tokio::test]
async fn a_directory_snapshot_is_rebuilt_on_each_change() {
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (_, strategy, product) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            false,
        )
        .await;
    let application = app
        .create_app("dev-1", &strategy.id, "app")
        .await
        .application
        .expect("app");
    let registration = register(&app, "dev-1", &application.id, &product.id).await;

    let directory = Directory::new(
        app.channel.clone(),
        ServiceCredentials::new(&SERVICE_TOKEN.to_owned().into()).expect("token"),
    );
    let mut changes = directory.subscribe_changes();
    tokio::spawn(directory.clone().follow_changes());
    tick(&mut changes).await;
    assert!(directory.is_following(), "the connect ticked");
    assert!(
        directory
            .list_approved_clients()
            .await
            .expect("snapshot")
            .is_empty()
    );

    approve(&app, registration).await;
    tick(&mut changes).await;
    assert_eq!(
        directory.list_approved_clients().await.expect("snapshot"),
        [ApprovedClientEntry {
            product_id: product.id,
            client_id: application.client_id,
            application_id: application.id,
            revoked_before: None,
            issue_records: Default::default(),
        }]
    );
}
