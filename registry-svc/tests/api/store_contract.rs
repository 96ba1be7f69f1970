//! The store contract: one suite, written against the `Store` trait, that every backend
//! must pass. Today it runs against Postgres; a second backend adds one #[tokio::test].

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use dcr_common::seal::Sealer;
use registry_svc::domain::{
    ApiProduct, AppState, Application, AuthMethod, AuthStrategy, Credential, IdpClientState,
    Provider, ProviderConfig, ProviderSecrets, Registration, RegistrationStatus,
};
use registry_svc::store::{
    Journal, Operation, OperationKind, PageRequest, PgStore, Store, StoreError,
};
use uuid::Uuid;

use crate::helpers::fresh_database;

fn provider(name: &str) -> Provider {
    let mut secrets = ProviderSecrets::default();
    secrets.set("api_key", "key-123".into());
    Provider {
        id: Uuid::now_v7(),
        name: name.into(),
        display_name: name.into(),
        issuer: "https://idp.example.com".into(),
        config: ProviderConfig::HttpBridge {
            dcr_base_url: "https://bridge.example.com".parse().expect("url"),
            disable_event_hooks: false,
            disable_refresh_secret: false,
            allow_multiple_credentials: true,
        },
        secrets,
        labels: BTreeMap::from([("team".into(), "a".into())]),
        active: true,
        create_time: Utc::now(),
        update_time: Utc::now(),
    }
}

fn strategy(provider_id: Uuid, name: &str) -> AuthStrategy {
    AuthStrategy {
        id: Uuid::now_v7(),
        name: name.into(),
        provider_id,
        credential_claims: vec!["client_id".into()],
        scopes: vec!["read".into()],
        audience: "https://api.example.com".into(),
        auth_methods: vec![AuthMethod::ClientCredentials, AuthMethod::Bearer],
        session_cookie_name: "dcr_session".into(),
        session_ttl: std::time::Duration::from_secs(3600),
        auto_approve: false,
        create_time: Utc::now(),
        update_time: Utc::now(),
    }
}

fn application(strategy_id: Uuid, developer: &str, name: &str) -> Application {
    Application {
        id: Uuid::now_v7(),
        developer_id: developer.into(),
        name: name.into(),
        description: String::new(),
        strategy_id,
        client_id: None,
        redirect_uris: Vec::new(),
        state: AppState::Provisioning,
        failure_reason: String::new(),
        request_id: None,
        create_time: Utc::now(),
        update_time: Utc::now(),
    }
}

fn operation(app: &Application, provider_id: Uuid, kind: OperationKind) -> Operation {
    Operation {
        id: Uuid::now_v7(),
        application_id: app.id,
        provider_id,
        kind,
        journal: None,
        attempts: 0,
        lease_until: Utc::now() + chrono::Duration::seconds(60),
    }
}

/// The suite. Every backend gets a fresh, empty store.
async fn contract(store: Arc<dyn Store>) {
    // Config: create, read back (secrets included), uniqueness, paging, references.
    let p = provider("p1");
    store.insert_provider(&p).await.expect("insert provider");
    let read = store.get_provider(p.id).await.expect("get").expect("found");
    assert_eq!(
        (read.name.as_str(), read.secrets.get("api_key")),
        ("p1", Some("key-123"))
    );
    assert_eq!(read.config, p.config);
    assert!(matches!(
        store.insert_provider(&provider("p1")).await,
        Err(StoreError::AlreadyExists(_))
    ));
    for i in 2..=5 {
        store
            .insert_provider(&provider(&format!("p{i}")))
            .await
            .expect("insert");
    }
    let first = store
        .list_providers(&PageRequest {
            size: 3,
            after: None,
        })
        .await
        .expect("page 1");
    assert_eq!(first.items.len(), 3);
    let second = store
        .list_providers(&PageRequest {
            size: 3,
            after: first.next.clone(),
        })
        .await
        .expect("page 2");
    assert_eq!(second.items.len(), 2);
    assert!(second.next.is_none());

    let s = strategy(p.id, "s1");
    store.insert_strategy(&s).await.expect("insert strategy");
    assert_eq!(
        store.get_strategy(s.id).await.expect("get"),
        Some(s.clone()).map(|mut s| {
            s.create_time = store_time(s.create_time);
            s.update_time = store_time(s.update_time);
            s
        })
    );
    assert!(matches!(
        store.delete_provider(p.id).await,
        Err(StoreError::InUse(_))
    ));
    let product = ApiProduct {
        id: Uuid::now_v7(),
        name: "prod".into(),
        description: String::new(),
        strategy_id: s.id,
        audience: String::new(),
        create_time: Utc::now(),
        update_time: Utc::now(),
    };
    store
        .insert_product(&product)
        .await
        .expect("insert product");

    // Applications: intent, journal, completion; the op can be completed only once.
    let app = application(s.id, "dev", "a1");
    let op = operation(&app, p.id, OperationKind::Create);
    store
        .insert_application_intent(&app, &op)
        .await
        .expect("intent");
    assert!(matches!(
        store
            .insert_application_intent(
                &application(s.id, "dev", "a1"),
                &operation(&app, p.id, OperationKind::Create)
            )
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    let journal = Journal {
        client_id: "client-1".into(),
        idp_state: IdpClientState(serde_json::json!({"token": "t"})),
    };
    store
        .record_journal(op.id, &journal)
        .await
        .expect("journal");
    let pending = store.pending_operations().await.expect("pending");
    assert_eq!(pending[0].journal.as_ref(), Some(&journal));
    let credential = Credential {
        id: Uuid::now_v7(),
        application_id: app.id,
        secret_hint: "abcd".into(),
        idp_ref: String::new(),
        create_time: Utc::now(),
        expire_time: None,
        revoke_time: None,
    };
    store
        .complete_create(op.id, app.id, &journal, &credential, Utc::now())
        .await
        .expect("complete");
    assert!(matches!(
        store
            .complete_create(op.id, app.id, &journal, &credential, Utc::now())
            .await,
        Err(StoreError::Conflict(_))
    ));
    let active = store
        .get_application(app.id)
        .await
        .expect("get")
        .expect("found");
    assert_eq!(
        (active.state, active.client_id.as_deref()),
        (AppState::Active, Some("client-1"))
    );
    assert_eq!(
        store.get_idp_state(app.id).await.expect("state"),
        Some(journal.idp_state.clone())
    );

    // Rotation revokes the active credential in the same unit of work.
    let rotated = Credential {
        id: Uuid::now_v7(),
        ..credential.clone()
    };
    store
        .add_credential(&rotated, true, None, Utc::now())
        .await
        .expect("rotate");
    let credentials = store.list_credentials(app.id).await.expect("list");
    assert_eq!(
        credentials
            .iter()
            .filter(|c| c.revoke_time.is_none())
            .count(),
        1
    );

    // Registrations: unique per app and product; directory sees the approved ones.
    let registration = Registration {
        id: Uuid::now_v7(),
        application_id: app.id,
        product_id: product.id,
        status: RegistrationStatus::Pending,
        scopes: vec!["read".into()],
        create_time: Utc::now(),
        update_time: Utc::now(),
    };
    store
        .insert_registration(&registration)
        .await
        .expect("register");
    assert_eq!(
        store
            .get_registration(registration.id)
            .await
            .expect("get")
            .expect("stored")
            .scopes,
        ["read"],
        "the developer's scopes are kept"
    );
    assert!(matches!(
        store
            .insert_registration(&Registration {
                id: Uuid::now_v7(),
                ..registration.clone()
            })
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    store
        .set_registration_status(registration.id, RegistrationStatus::Approved, Utc::now())
        .await
        .expect("approve");
    let resolved = store
        .resolve_client("client-1", Utc::now())
        .await
        .expect("resolve")
        .expect("found");
    assert_eq!(resolved.approved_product_ids, [product.id]);
    assert_eq!(resolved.active_credential_ids, [rotated.id]);
    assert!(matches!(
        store.delete_product(product.id).await,
        Err(StoreError::InUse(_))
    ));

    // Stale operations are claimed once, by one claimant.
    let other = application(s.id, "dev", "a2");
    let stale = Operation {
        lease_until: Utc::now() - chrono::Duration::seconds(1),
        ..operation(&other, p.id, OperationKind::Create)
    };
    store
        .insert_application_intent(&other, &stale)
        .await
        .expect("intent");
    let claimed = store
        .claim_stale_operations(Utc::now(), Utc::now() + chrono::Duration::seconds(60), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [stale.id]);
    assert!(
        store
            .claim_stale_operations(Utc::now(), Utc::now(), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    store
        .fail_application(stale.id, other.id, "interrupted", Utc::now())
        .await
        .expect("fail");
    assert_eq!(
        store
            .get_application(other.id)
            .await
            .expect("get")
            .map(|a| a.state),
        Some(AppState::Failed)
    );

    // Deletion, and the change log: ordered, complete.
    let delete = operation(&active, p.id, OperationKind::Delete);
    store
        .begin_delete(app.id, &delete, Utc::now())
        .await
        .expect("begin delete");
    store
        .complete_delete(delete.id, app.id, Utc::now())
        .await
        .expect("delete");
    assert!(store.get_application(app.id).await.expect("get").is_none());
    let changes = store.changes_after(0, 1000).await.expect("changes");
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    let last = changes.last().expect("some");
    assert_eq!(
        (last.kind, last.action.as_str(), last.client_id.as_str()),
        ("application", "deleted", "client-1")
    );
    assert_eq!(
        store.changes_after(last.seq, 10).await.expect("none").len(),
        0
    );
}

/// Postgres keeps microseconds.
fn store_time(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).expect("time")
}

#[tokio::test]
async fn postgres_store_passes_the_contract() {
    let url = fresh_database().await;
    let store = PgStore::connect(&url, Arc::new(Sealer::new(&[9; 32], &[])))
        .await
        .expect("connect");
    contract(Arc::new(store)).await;
}
