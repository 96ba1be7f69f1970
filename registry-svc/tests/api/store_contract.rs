//! The store contract: one suite, written against the `Store` trait, that every backend
//! must pass. Each behaviour is an async fn taking a fresh, empty store; the
//! `on_both_backends!` list at the end makes it a test on Postgres (`postgres::name`)
//! and on SQLite (`sqlite::name`).

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use dcr_common::directory::IssueRecords;
use dcr_common::fingerprint::SecretFingerprint;
use dcr_common::seal::Sealer;
use registry_svc::domain::{
    ApiProduct, AppState, Application, AuthMethod, AuthStrategy, Credential, IdpClientState,
    ListedRegistration, Owner, Provider, ProviderConfig, ProviderSecrets, Registration,
    RegistrationStatus,
};
use registry_svc::store::{
    ApprovedClient, AuditEvent, AuditFilter, ClientChange, Journal, Operation, OperationKind,
    PageRequest, PgStore, RegistrationFilter, SqliteStore, Store, StoreError,
};
use uuid::Uuid;

use crate::helpers::fresh_database;

pub(crate) fn provider(name: &str) -> Provider {
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

pub(crate) fn strategy(provider_id: Uuid, name: &str) -> AuthStrategy {
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

pub(crate) fn application(strategy_id: Uuid, developer: &str, name: &str) -> Application {
    Application {
        id: Uuid::now_v7(),
        owner: Owner::Developer(developer.into()),
        name: name.into(),
        description: String::new(),
        strategy_id,
        client_id: None,
        redirect_uris: Vec::new(),
        state: AppState::Provisioning,
        failure_reason: String::new(),
        attention: String::new(),
        request_id: None,
        create_time: Utc::now(),
        update_time: Utc::now(),
    }
}

pub(crate) fn operation(app: &Application, provider_id: Uuid, kind: OperationKind) -> Operation {
    Operation {
        id: Uuid::now_v7(),
        application_id: app.id,
        provider_id,
        kind,
        journal: None,
        attempts: 0,
        lease_until: Utc::now() + chrono::Duration::seconds(60),
        credential_id: None,
        product_id: None,
    }
}

/// What most behaviours start from: a provider, a strategy using it, a product on it.
struct Fixture {
    provider: Provider,
    strategy: AuthStrategy,
    product: ApiProduct,
}

async fn fixture(store: &Arc<dyn Store>) -> Fixture {
    fixture_with(store, provider("p1")).await
}

async fn fixture_with(store: &Arc<dyn Store>, provider: Provider) -> Fixture {
    store
        .insert_provider(&provider)
        .await
        .expect("insert provider");
    let strategy = strategy(provider.id, "s1");
    store
        .insert_strategy(&strategy)
        .await
        .expect("insert strategy");
    let product = ApiProduct {
        id: Uuid::now_v7(),
        name: "prod".into(),
        description: String::new(),
        strategy_id: strategy.id,
        audience: String::new(),
        create_time: Utc::now(),
        update_time: Utc::now(),
    };
    store
        .insert_product(&product)
        .await
        .expect("insert product");
    Fixture {
        provider,
        strategy,
        product,
    }
}

fn first_credential(app: &Application) -> Credential {
    Credential {
        id: Uuid::now_v7(),
        application_id: app.id,
        secret_hint: "abcd".into(),
        idp_ref: String::new(),
        create_time: Utc::now(),
        expire_time: None,
        revoke_time: None,
        fingerprint: Some(SecretFingerprint::of("client-1", "the-secret-abcd")),
    }
}

/// An ACTIVE application whose IdP client is `client_id`, and its first credential.
async fn active_app(
    store: &Arc<dyn Store>,
    fx: &Fixture,
    name: &str,
    client_id: &str,
) -> (Application, Credential) {
    let app = application(fx.strategy.id, "dev", name);
    let op = operation(&app, fx.provider.id, OperationKind::Create);
    store
        .insert_application_intent(&app, &op)
        .await
        .expect("intent");
    let journal = Journal {
        client_id: client_id.into(),
        idp_state: IdpClientState(serde_json::json!({"token": "t"})),
        ..Journal::default()
    };
    let credential = first_credential(&app);
    store
        .complete_create(op.id, 0, app.id, &journal, &credential, Utc::now())
        .await
        .expect("complete");
    let app = store
        .get_application(app.id)
        .await
        .expect("get")
        .expect("found");
    (app, credential)
}

/// A PROVISIONING application whose create operation's lease has already run out, so
/// the reconciler may claim it.
async fn stale_intent(
    store: &Arc<dyn Store>,
    fx: &Fixture,
    name: &str,
) -> (Application, Operation) {
    let app = application(fx.strategy.id, "dev", name);
    let op = Operation {
        lease_until: Utc::now() - chrono::Duration::seconds(1),
        ..operation(&app, fx.provider.id, OperationKind::Create)
    };
    store
        .insert_application_intent(&app, &op)
        .await
        .expect("intent");
    (app, op)
}

/// Config rows: read back (secrets included), unique names, paging, references.
async fn config_rows_round_trip_are_unique_and_page(store: Arc<dyn Store>) {
    let p = provider("p1");
    store.insert_provider(&p).await.expect("insert provider");
    let read = store.get_provider(p.id).await.expect("get").expect("found");
    assert_eq!(
        (read.name.as_str(), read.secrets.get("api_key")),
        ("p1", Some("key-123"))
    );
    assert_eq!(read.config, p.config);
    assert_eq!(read.labels, p.labels);
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
}

/// Intent, journal, completion: the operation completes once, the app is ACTIVE with its
/// client and sealed IdP state.
async fn an_application_is_created_once(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let app = application(fx.strategy.id, "dev", "a1");
    let op = operation(&app, fx.provider.id, OperationKind::Create);
    store
        .insert_application_intent(&app, &op)
        .await
        .expect("intent");
    assert!(matches!(
        store
            .insert_application_intent(
                &application(fx.strategy.id, "dev", "a1"),
                &operation(&app, fx.provider.id, OperationKind::Create)
            )
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    let journal = Journal {
        client_id: "client-1".into(),
        idp_state: IdpClientState(serde_json::json!({"token": "t"})),
        ..Journal::default()
    };
    store
        .record_journal(op.id, 0, &journal)
        .await
        .expect("journal");
    let pending = store.pending_operations().await.expect("pending");
    assert_eq!(pending[0].journal.as_ref(), Some(&journal));
    let credential = first_credential(&app);
    store
        .complete_create(op.id, 0, app.id, &journal, &credential, Utc::now())
        .await
        .expect("complete");
    assert!(matches!(
        store
            .complete_create(op.id, 0, app.id, &journal, &credential, Utc::now())
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
    assert!(
        store
            .pending_operations()
            .await
            .expect("pending")
            .is_empty()
    );
}

/// A confirmed new credential, committed through its client-change operation.
async fn add_credential(
    store: &Arc<dyn Store>,
    fx: &Fixture,
    credential: &Credential,
    replaces: bool,
) {
    let app = store
        .get_application(credential.application_id)
        .await
        .expect("get")
        .expect("the app");
    let kind = if replaces {
        OperationKind::RegenerateSecret
    } else {
        OperationKind::AddSecret
    };
    let op = Operation {
        credential_id: Some(credential.id),
        ..operation(&app, fx.provider.id, kind)
    };
    store
        .begin_client_change(&op, Utc::now())
        .await
        .expect("intent");
    let change = ClientChange {
        credential: Some(credential.clone()),
        replaces,
        ..ClientChange::default()
    };
    store
        .complete_client_change(op.id, op.attempts, app.id, &change, Utc::now())
        .await
        .expect("commit");
}

/// Rotation revokes the active credential in the same unit of work.
async fn rotation_revokes_the_active_credential_at_once(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (app, credential) = active_app(&store, &fx, "a1", "client-1").await;
    let rotated = Credential {
        id: Uuid::now_v7(),
        ..credential.clone()
    };
    add_credential(&store, &fx, &rotated, true).await;
    let active: Vec<Uuid> = store
        .list_credentials(app.id)
        .await
        .expect("list")
        .iter()
        .filter(|c| c.revoke_time.is_none())
        .map(|c| c.id)
        .collect();
    assert_eq!(active, [rotated.id]);
    let resolved = store
        .resolve_client("client-1", Utc::now())
        .await
        .expect("resolve")
        .expect("found");
    assert_eq!(resolved.active_credential_ids, [rotated.id]);
    assert!(resolved.revoked_before.is_some());
}

/// Registrations are unique per app and product and keep their scopes; the directory
/// sees the approved ones; a product with registrations cannot go.
async fn registrations_are_unique_and_resolve(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (app, credential) = active_app(&store, &fx, "a1", "client-1").await;
    let registration = Registration {
        id: Uuid::now_v7(),
        application_id: app.id,
        product_id: fx.product.id,
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
    let pending = store
        .resolve_client("client-1", Utc::now())
        .await
        .expect("resolve")
        .expect("found");
    assert_eq!(
        (
            pending.approved_product_ids.len(),
            pending.pending_product_ids.as_slice()
        ),
        (0, [fx.product.id].as_slice())
    );
    store
        .set_registration_status(
            registration.id,
            RegistrationStatus::Approved,
            None,
            Utc::now(),
        )
        .await
        .expect("approve");
    let resolved = store
        .resolve_client("client-1", Utc::now())
        .await
        .expect("resolve")
        .expect("found");
    assert_eq!(resolved.approved_product_ids, [fx.product.id]);
    assert_eq!(resolved.active_credential_ids, [credential.id]);
    assert_eq!(
        (resolved.provider_id, resolved.issuer.as_str()),
        (fx.provider.id, fx.provider.issuer.as_str())
    );
    assert!(matches!(
        store.delete_product(fx.product.id).await,
        Err(StoreError::InUse(_))
    ));
    store
        .delete_registration(registration.id, None, Utc::now())
        .await
        .expect("delete registration");
    assert!(
        store
            .get_registration(registration.id)
            .await
            .expect("get")
            .is_none()
    );
}

/// A revocation and the intent to push it to the IdP are one write; completing the
/// intent finishes it once.
async fn a_revocation_records_its_idp_intent_with_it(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (app, first) = active_app(&store, &fx, "a1", "client-1").await;
    let second = Credential {
        id: Uuid::now_v7(),
        fingerprint: Some(SecretFingerprint::of("client-1", "the-second-secret")),
        ..first_credential(&app)
    };
    add_credential(&store, &fx, &second, false).await;
    let intent = Operation {
        kind: OperationKind::RevokeSecret,
        credential_id: Some(second.id),
        ..operation(&app, fx.provider.id, OperationKind::RevokeSecret)
    };
    let revoked = store
        .revoke_credential(app.id, second.id, Some(&intent), Utc::now())
        .await
        .expect("revoke");
    assert!(revoked.revoke_time.is_some());
    let pending = store.pending_operations().await.expect("pending");
    assert_eq!(
        pending
            .iter()
            .map(|o| (o.id, o.kind, o.credential_id))
            .collect::<Vec<_>>(),
        [(intent.id, OperationKind::RevokeSecret, Some(second.id))]
    );
    let resolved = store
        .resolve_client("client-1", Utc::now())
        .await
        .expect("resolve")
        .expect("found");
    assert_eq!(resolved.active_credential_ids, [first.id]);
    assert!(
        resolved
            .revoked_fingerprints
            .iter()
            .any(|print| print.matches("client-1", "the-second-secret")),
        "the revoked secret's fingerprint is kept and served"
    );
    assert!(
        !resolved
            .revoked_fingerprints
            .iter()
            .any(|print| print.matches("client-1", "the-secret-abcd")),
        "an active secret's is not"
    );
    assert_eq!(
        resolved.issue_records,
        IssueRecords {
            always: true,
            before: None
        },
        "until the IdP confirms, gateways take only tokens token-svc recorded"
    );
    store
        .complete_operation(intent.id, 0, Utc::now())
        .await
        .expect("complete");
    let resolved = store
        .resolve_client("client-1", Utc::now())
        .await
        .expect("resolve")
        .expect("found");
    assert_eq!(
        resolved.issue_records,
        IssueRecords {
            always: true,
            before: None
        },
        "a bridge cannot revoke one secret of several: done, the secret still works there"
    );
    assert!(
        store
            .pending_operations()
            .await
            .expect("pending")
            .is_empty()
    );
    assert!(matches!(
        store.complete_operation(intent.id, 0, Utc::now()).await,
        Err(StoreError::Conflict(_))
    ));
}

/// Elsewhere the IdP's confirmation ends the need for records, for tokens issued after
/// it; one issued before it may still come from the revoked secret.
async fn a_confirmed_revocation_needs_records_only_for_tokens_until_then(store: Arc<dyn Store>) {
    let rfc7591 = Provider {
        config: ProviderConfig::Rfc7591 {
            registration_endpoint: None,
            introspection_client_id: None,
        },
        ..provider("p1")
    };
    let fx = fixture_with(&store, rfc7591).await;
    let (app, _) = active_app(&store, &fx, "a1", "client-1").await;
    let second = Credential {
        id: Uuid::now_v7(),
        ..first_credential(&app)
    };
    add_credential(&store, &fx, &second, false).await;
    let intent = Operation {
        credential_id: Some(second.id),
        ..operation(&app, fx.provider.id, OperationKind::RevokeSecret)
    };
    store
        .revoke_credential(app.id, second.id, Some(&intent), Utc::now())
        .await
        .expect("revoke");
    let records = || async {
        store
            .resolve_client("client-1", Utc::now())
            .await
            .expect("resolve")
            .expect("found")
            .issue_records
    };
    assert!(records().await.always, "the IdP has not confirmed yet");
    let confirmed_at = Utc::now();
    store
        .complete_operation(intent.id, 0, confirmed_at)
        .await
        .expect("complete");
    let records = records().await;
    assert!(!records.always);
    let before = records.before.expect("the confirmation's time");
    assert!(
        (before - confirmed_at).num_milliseconds().abs() <= 1,
        "{before} vs {confirmed_at}"
    );
    let changes = store.changes_after(0, 100).await.expect("changes");
    assert_eq!(
        changes
            .last()
            .map(|c| (c.kind, c.action.as_str(), c.client_id.as_str())),
        Some(("credential", "revocation_confirmed", "client-1")),
        "gateways hear of the confirmation"
    );
}

/// token-svc's issue records: found for their client until they expire, then forgotten.
async fn issued_tokens_are_found_until_they_expire(store: Arc<dyn Store>) {
    let now = Utc::now();
    let (one, two) = ([1u8; 32], [2u8; 32]);
    store
        .record_issued_token("client-1", &one, now + chrono::Duration::minutes(5))
        .await
        .expect("record");
    store
        .record_issued_token("client-1", &one, now + chrono::Duration::minutes(5))
        .await
        .expect("the same record again changes nothing");
    store
        .record_issued_token("client-1", &two, now + chrono::Duration::seconds(1))
        .await
        .expect("record");
    let found = |client: &'static str, digest: [u8; 32], at| {
        let store = store.clone();
        async move {
            store
                .issued_token_found(client, &digest, at)
                .await
                .expect("find")
        }
    };
    assert!(found("client-1", one, now).await);
    assert!(!found("client-2", one, now).await, "another client's");
    assert!(!found("client-1", [3; 32], now).await, "never recorded");
    let later = now + chrono::Duration::seconds(2);
    assert!(!found("client-1", two, later).await, "expired");
    assert!(found("client-1", one, later).await);
    assert_eq!(store.forget_expired_tokens(later).await.expect("forget"), 1);
    assert!(found("client-1", one, later).await);
}

/// Fencing: once the reconciler has claimed an operation, the request that made it (fence
/// 0) can neither journal nor complete it, so a request that ran past its lease cannot
/// commit an app whose IdP client the reconciler is removing, nor journal a client the
/// reconciler will never see; the claimant (fence 1) can.
async fn a_claimed_operation_fences_out_its_first_holder(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (app, op) = stale_intent(&store, &fx, "slow").await;
    let claimed = store
        .claim_stale_operations(Utc::now(), Utc::now() + chrono::Duration::seconds(60), 10)
        .await
        .expect("claim");
    let fence = claimed[0].attempts;
    assert_eq!(fence, 1);
    let journal = Journal {
        client_id: "late-client".into(),
        idp_state: IdpClientState::default(),
        ..Journal::default()
    };
    assert!(matches!(
        store.record_journal(op.id, 0, &journal).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(
        store.pending_operations().await.expect("pending")[0]
            .journal
            .is_none(),
        "the refused journal write changed nothing"
    );
    assert!(matches!(
        store
            .complete_create(
                op.id,
                0,
                app.id,
                &journal,
                &first_credential(&app),
                Utc::now()
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .get_application(app.id)
            .await
            .expect("get")
            .map(|a| a.state),
        Some(AppState::Provisioning)
    );
    store
        .fail_application(op.id, fence, app.id, "lease ran out", Utc::now())
        .await
        .expect("the claimant finishes it");
}

/// Changes to one application's IdP client run one at a time; a journaled one is
/// committed whole by whoever holds it, with the new credential and state.
async fn client_changes_run_one_at_a_time_and_commit_from_the_journal(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (app, first) = active_app(&store, &fx, "a1", "client-1").await;
    let new_id = Uuid::now_v7();
    let op = Operation {
        credential_id: Some(new_id),
        lease_until: Utc::now() - chrono::Duration::seconds(1),
        ..operation(&app, fx.provider.id, OperationKind::RegenerateSecret)
    };
    store
        .begin_client_change(&op, Utc::now())
        .await
        .expect("intent");
    assert!(matches!(
        store
            .begin_client_change(
                &operation(&app, fx.provider.id, OperationKind::UpdateClient),
                Utc::now()
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    let rotated = IdpClientState(serde_json::json!({"token": "rotated"}));
    let credential = Credential {
        id: new_id,
        fingerprint: Some(SecretFingerprint::of("client-1", "the-new-secret")),
        ..first_credential(&app)
    };
    let journal = Journal {
        client_id: "client-1".into(),
        idp_state: rotated.clone(),
        credential: Some(credential.clone()),
        deleted: false,
        auth_method: None,
    };
    store
        .record_journal(op.id, 0, &journal)
        .await
        .expect("journal");
    let claimed = store
        .claim_stale_operations(Utc::now(), Utc::now() + chrono::Duration::seconds(60), 10)
        .await
        .expect("claim");
    let read_back = claimed[0].journal.clone().expect("journaled");
    assert_eq!(read_back.idp_state, rotated);
    let credential_back = read_back.credential.expect("the credential");
    assert!(
        credential_back
            .fingerprint
            .as_ref()
            .is_some_and(|f| f.matches("client-1", "the-new-secret")),
        "the fingerprint survives the journal"
    );
    let change = ClientChange {
        credential: Some(credential_back),
        replaces: true,
        idp_state: Some(read_back.idp_state),
        metadata: None,
    };
    assert!(matches!(
        store
            .complete_client_change(op.id, 0, app.id, &change, Utc::now())
            .await,
        Err(StoreError::Conflict(_))
    ));
    store
        .set_attention(app.id, "look here", Utc::now())
        .await
        .expect("attention");
    store
        .complete_client_change(op.id, claimed[0].attempts, app.id, &change, Utc::now())
        .await
        .expect("the claimant commits it");
    let now = Utc::now();
    let credentials = store.list_credentials(app.id).await.expect("list");
    let active: Vec<Uuid> = credentials
        .iter()
        .filter(|c| c.is_active(now))
        .map(|c| c.id)
        .collect();
    assert_eq!(
        active,
        [new_id],
        "the first credential {} is revoked",
        first.id
    );
    assert_eq!(
        store.get_idp_state(app.id).await.expect("state"),
        Some(rotated)
    );
    let app = store
        .get_application(app.id)
        .await
        .expect("get")
        .expect("app");
    assert_eq!(app.attention, "", "a confirmed regeneration settles it");
    store
        .begin_client_change(
            &operation(&app, fx.provider.id, OperationKind::UpdateClient),
            Utc::now(),
        )
        .await
        .expect("the next change may start");
}

/// A delete adopts the state a journaled but uncommitted change left: it is the one
/// the IdP accepts now.
async fn a_delete_takes_the_state_of_a_journaled_change(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (app, _) = active_app(&store, &fx, "a1", "client-1").await;
    let op = operation(&app, fx.provider.id, OperationKind::UpdateClient);
    store
        .begin_client_change(&op, Utc::now())
        .await
        .expect("intent");
    let rotated = IdpClientState(serde_json::json!({"token": "rotated"}));
    let journal = Journal {
        client_id: "client-1".into(),
        idp_state: rotated.clone(),
        ..Journal::default()
    };
    store
        .record_journal(op.id, 0, &journal)
        .await
        .expect("journal");
    store
        .begin_delete(
            app.id,
            &operation(&app, fx.provider.id, OperationKind::Delete),
            Utc::now(),
        )
        .await
        .expect("delete");
    assert_eq!(
        store.get_idp_state(app.id).await.expect("state"),
        Some(rotated)
    );
}

/// A stale operation is claimed once, by one claimant; failing it fails the app.
async fn stale_operations_are_claimed_once(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (other, stale) = stale_intent(&store, &fx, "a2").await;
    let claimed = store
        .claim_stale_operations(Utc::now(), Utc::now() + chrono::Duration::seconds(60), 10)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|o| o.id).collect::<Vec<_>>(), [stale.id]);
    assert_eq!(claimed[0].attempts, 1);
    assert!(
        store
            .claim_stale_operations(Utc::now(), Utc::now(), 10)
            .await
            .expect("claim")
            .is_empty()
    );
    store
        .fail_application(
            stale.id,
            claimed[0].attempts,
            other.id,
            "interrupted",
            Utc::now(),
        )
        .await
        .expect("fail");
    let failed = store
        .get_application(other.id)
        .await
        .expect("get")
        .expect("kept");
    assert_eq!(
        (failed.state, failed.failure_reason.as_str()),
        (AppState::Failed, "interrupted")
    );
}

/// Deletion is logged, and the change log is ordered and complete.
async fn deletion_and_the_change_log(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (app, _) = active_app(&store, &fx, "a1", "client-1").await;
    let delete = operation(&app, fx.provider.id, OperationKind::Delete);
    store
        .begin_delete(app.id, &delete, Utc::now())
        .await
        .expect("begin delete");
    assert_eq!(
        store
            .get_application(app.id)
            .await
            .expect("get")
            .map(|a| a.state),
        Some(AppState::Deleting)
    );
    store
        .complete_delete(delete.id, 0, app.id, Utc::now())
        .await
        .expect("delete");
    assert!(store.get_application(app.id).await.expect("get").is_none());
    let changes = store.changes_after(0, 1000).await.expect("changes");
    assert!(changes.windows(2).all(|w| w[0].seq < w[1].seq));
    let kinds: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| (c.kind, c.action.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("provider", "created"),
            ("strategy", "created"),
            ("product", "created"),
            ("application", "created"),
            ("application", "deleting"),
            ("application", "deleted"),
        ]
    );
    let last = changes.last().expect("some");
    assert_eq!(
        (last.client_id.as_str(), last.application_id.clone()),
        ("client-1", app.id.to_string())
    );
    assert_eq!(
        store.changes_after(last.seq, 10).await.expect("none").len(),
        0
    );
    assert_eq!(store.latest_seq().await.expect("latest"), last.seq);
}

/// A registration of `app` to `product` in `status`.
async fn register(
    store: &Arc<dyn Store>,
    app: &Application,
    product: Uuid,
    status: RegistrationStatus,
) {
    store
        .insert_registration(&Registration {
            id: Uuid::now_v7(),
            application_id: app.id,
            product_id: product,
            status,
            scopes: Vec::new(),
            create_time: Utc::now(),
            update_time: Utc::now(),
        })
        .await
        .expect("register");
}

/// Every page of `list_approved_clients`, `size` at a time.
async fn all_approved_clients(store: &Arc<dyn Store>, size: usize) -> Vec<ApprovedClient> {
    let mut clients = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .list_approved_clients(&PageRequest { size, after })
            .await
            .expect("page");
        assert!(page.items.len() <= size);
        clients.extend(page.items);
        if page.next.is_none() {
            return clients;
        }
        after = page.next;
    }
}

/// The approved clients gateways snapshot: only ACTIVE applications' APPROVED
/// registrations, in (product, client) order across pages, each with its newest
/// revocation.
async fn approved_clients_page_in_product_and_client_order(store: Arc<dyn Store>) {
    use RegistrationStatus::{Approved, Pending, Rejected};
    let fx = fixture(&store).await;
    let second = ApiProduct {
        id: Uuid::now_v7(),
        name: "prod-2".into(),
        ..fx.product.clone()
    };
    store.insert_product(&second).await.expect("product");
    let (both, first_credential) = active_app(&store, &fx, "a1", "client-b").await;
    register(&store, &both, fx.product.id, Approved).await;
    register(&store, &both, second.id, Approved).await;
    let other = Credential {
        id: Uuid::now_v7(),
        ..first_credential.clone()
    };
    add_credential(&store, &fx, &other, false).await;
    let newest = store_time(Utc::now());
    for (credential, at) in [
        (&other, newest),
        (&first_credential, newest - chrono::Duration::hours(1)),
    ] {
        store
            .revoke_credential(both.id, credential.id, None, at)
            .await
            .expect("revoke");
    }
    let (one, _) = active_app(&store, &fx, "a2", "client-a").await;
    register(&store, &one, fx.product.id, Approved).await;
    register(&store, &one, second.id, Pending).await;
    let (rejected, _) = active_app(&store, &fx, "a3", "client-c").await;
    register(&store, &rejected, fx.product.id, Rejected).await;
    let provisioning = application(fx.strategy.id, "dev", "a4");
    let create = operation(&provisioning, fx.provider.id, OperationKind::Create);
    store
        .insert_application_intent(&provisioning, &create)
        .await
        .expect("intent");
    register(&store, &provisioning, fx.product.id, Approved).await;
    let (deleting, _) = active_app(&store, &fx, "a5", "client-d").await;
    register(&store, &deleting, fx.product.id, Approved).await;
    let delete = operation(&deleting, fx.provider.id, OperationKind::Delete);
    store
        .begin_delete(deleting.id, &delete, Utc::now())
        .await
        .expect("begin delete");

    let approved = |product_id, app: &Application, revoked_before| ApprovedClient {
        product_id,
        client_id: app.client_id.clone().expect("client"),
        application_id: app.id,
        revoked_before,
        issue_records: Default::default(),
    };
    // Ids made later sort later (UUIDv7): the first product's clients come first.
    let expected = [
        approved(fx.product.id, &one, None),
        approved(fx.product.id, &both, Some(newest)),
        approved(second.id, &both, Some(newest)),
    ];
    assert_eq!(all_approved_clients(&store, 1).await, expected);
    assert_eq!(all_approved_clients(&store, 2).await, expected);
    assert_eq!(all_approved_clients(&store, 100).await, expected);
    for cursor in ["nonsense", "not-an-id client-a"] {
        let page = PageRequest {
            size: 1,
            after: Some(cursor.into()),
        };
        assert!(matches!(
            store.list_approved_clients(&page).await,
            Err(StoreError::Corrupt(_))
        ));
    }
}

/// What the API layer calls besides the happy paths: lookups by name and request id,
/// refused writes that change nothing, microsecond times, registration filters.
async fn lookups_the_services_rely_on(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (provider_id, strategy_id, product) = (fx.provider.id, fx.strategy.id, &fx.product);
    let failed = application(strategy_id, "dev", "a2");
    let op = operation(&failed, provider_id, OperationKind::Create);
    store
        .insert_application_intent(&failed, &op)
        .await
        .expect("intent");
    store
        .fail_application(op.id, 0, failed.id, "refused", Utc::now())
        .await
        .expect("fail");
    assert_eq!(
        store
            .get_product_by_name("prod")
            .await
            .expect("by name")
            .map(|p| p.id),
        Some(product.id)
    );
    assert!(
        store
            .get_product_by_name("nope")
            .await
            .expect("by name")
            .is_none()
    );

    // A FAILED app gives its name back; request ids are unique
    // per developer, and find the app they created.
    let again = Application {
        request_id: Some("req-1".into()),
        ..application(strategy_id, "dev", "a2")
    };
    store
        .insert_application_intent(
            &again,
            &operation(&again, provider_id, OperationKind::Create),
        )
        .await
        .expect("the name of a FAILED app is free again");
    // Writes that need another state are refused and change nothing.
    let delete = operation(&again, provider_id, OperationKind::Delete);
    assert!(matches!(
        store.begin_delete(again.id, &delete, Utc::now()).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .begin_delete(Uuid::now_v7(), &delete, Utc::now())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .begin_client_change(
                &operation(&again, provider_id, OperationKind::UpdateClient),
                Utc::now()
            )
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.delete_strategy(strategy_id).await,
        Err(StoreError::InUse(_))
    ));
    assert_eq!(
        store
            .get_application(again.id)
            .await
            .expect("get")
            .map(|a| a.state),
        Some(AppState::Provisioning)
    );
    let retried = Application {
        request_id: Some("req-1".into()),
        ..application(strategy_id, "dev", "a3")
    };
    assert!(matches!(
        store
            .insert_application_intent(
                &retried,
                &operation(&retried, provider_id, OperationKind::Create)
            )
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(
        store
            .find_application_by_request(&Owner::Developer("dev".into()), "req-1")
            .await
            .expect("find")
            .map(|a| a.id),
        Some(again.id)
    );
    assert!(
        store
            .find_application_by_request(&Owner::Developer("someone-else".into()), "req-1")
            .await
            .expect("find")
            .is_none()
    );
    // A team's application (no API makes one yet) keeps its owner, and is not the apps
    // of a developer whose id happens to be the team's.
    let team_app = Application {
        owner: Owner::Team("dev".into()),
        request_id: Some("req-1".into()),
        ..application(strategy_id, "unused", "team-app")
    };
    store
        .insert_application_intent(
            &team_app,
            &operation(&team_app, provider_id, OperationKind::Create),
        )
        .await
        .expect("a team's app");
    assert_eq!(
        store
            .get_application(team_app.id)
            .await
            .expect("get")
            .map(|a| a.owner),
        Some(Owner::Team("dev".into()))
    );
    let devs = store
        .list_applications(
            "dev",
            &PageRequest {
                size: 50,
                after: None,
            },
        )
        .await
        .expect("list");
    assert!(devs.items.iter().all(|a| a.id != team_app.id));
    assert_eq!(
        store
            .find_application_by_request(&Owner::Team("dev".into()), "req-1")
            .await
            .expect("find")
            .map(|a| a.id),
        Some(team_app.id)
    );

    // Times keep microseconds, whatever the backend stores them as.
    let (active, _) = active_app(&store, &fx, "a3", "client-3").await;
    let expiring = Credential {
        id: Uuid::now_v7(),
        application_id: active.id,
        secret_hint: "wxyz".into(),
        idp_ref: "key-1".into(),
        create_time: Utc::now(),
        expire_time: Some(Utc::now() + chrono::Duration::nanoseconds(86_400_000_000_123)),
        revoke_time: None,
        fingerprint: None,
    };
    add_credential(&store, &fx, &expiring, false).await;
    let stored = store.list_credentials(active.id).await.expect("list");
    assert_eq!(
        stored.iter().find(|c| c.id == expiring.id),
        Some(&Credential {
            create_time: store_time(expiring.create_time),
            expire_time: expiring.expire_time.map(store_time),
            ..expiring.clone()
        })
    );
    assert!(matches!(
        store
            .revoke_credential(again.id, Uuid::now_v7(), None, Utc::now())
            .await,
        Err(StoreError::NotFound(_))
    ));

    // Registrations filter by application, product and status.
    let registration = Registration {
        id: Uuid::now_v7(),
        application_id: again.id,
        product_id: product.id,
        status: RegistrationStatus::Pending,
        scopes: Vec::new(),
        create_time: Utc::now(),
        update_time: Utc::now(),
    };
    store
        .insert_registration(&registration)
        .await
        .expect("register");
    let page = PageRequest {
        size: 10,
        after: None,
    };
    let ids = |found: registry_svc::store::Page<ListedRegistration>| {
        found
            .items
            .iter()
            .map(|r| r.registration.id)
            .collect::<Vec<_>>()
    };
    let list = |filter: RegistrationFilter<'static>| {
        let store = &store;
        let page = &page;
        async move { store.list_registrations(&filter, page).await.expect("list") }
    };
    let again_ids = [again.id];
    let mine = store
        .list_registrations(
            &RegistrationFilter {
                application_ids: Some(&again_ids),
                ..Default::default()
            },
            &page,
        )
        .await
        .expect("list");
    // Each one names its application and owner, read in the same query.
    assert_eq!(
        mine.items,
        [ListedRegistration {
            registration: Registration {
                // Inserted with update_time = create_time.
                create_time: store_time(registration.create_time),
                update_time: store_time(registration.create_time),
                ..registration.clone()
            },
            application_name: "a2".into(),
            owner: Owner::Developer("dev".into()),
        }]
    );
    let pending = list(RegistrationFilter {
        product_id: Some(product.id),
        status: Some(RegistrationStatus::Pending),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(pending), [registration.id]);
    let approved = list(RegistrationFilter {
        status: Some(RegistrationStatus::Approved),
        ..Default::default()
    })
    .await;
    assert!(approved.items.is_empty());
    let by_developer = list(RegistrationFilter {
        developer_id: Some("dev"),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(by_developer), [registration.id]);
    let someone_else = list(RegistrationFilter {
        developer_id: Some("someone-else"),
        ..Default::default()
    })
    .await;
    assert!(someone_else.items.is_empty());
    let nobody = list(RegistrationFilter {
        application_ids: Some(&[]),
        ..Default::default()
    })
    .await;
    assert!(nobody.items.is_empty());
    assert!(
        store
            .application_ids_of("dev")
            .await
            .expect("ids")
            .contains(&again.id)
    );
}

/// Newest first, filtered, paged by id.
async fn audit_log(store: Arc<dyn Store>) {
    for (actor, role, action) in [
        ("admin", "token:admin", "create"),
        ("person:https://idp#dev-1", "developer", "create"),
        ("admin", "token:admin", "delete"),
    ] {
        let person = actor.starts_with("person:");
        store
            .record_audit(&AuditEvent {
                id: 0,
                time: Utc::now(),
                actor: actor.into(),
                role: role.into(),
                actor_name: person.then(|| "Dev One".into()),
                actor_email: person.then(|| "dev-1@example.com".into()),
                action: action.into(),
                resource_type: "provider".into(),
                resource_id: "p".into(),
                outcome: "ok".into(),
            })
            .await
            .expect("audit");
    }
    let admin = AuditFilter {
        actor: Some("admin".into()),
        ..Default::default()
    };
    let first = store
        .list_audit(
            &admin,
            &PageRequest {
                size: 1,
                after: None,
            },
        )
        .await
        .expect("page 1");
    let second = store
        .list_audit(
            &admin,
            &PageRequest {
                size: 1,
                after: first.next.clone(),
            },
        )
        .await
        .expect("page 2");
    let actions: Vec<&str> = first
        .items
        .iter()
        .chain(&second.items)
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(actions, ["delete", "create"]);
    assert!(second.next.is_none());
    // By role, and the person's name and email come back as written.
    let developers = store
        .list_audit(
            &AuditFilter {
                role: Some("developer".into()),
                ..Default::default()
            },
            &PageRequest {
                size: 10,
                after: None,
            },
        )
        .await
        .expect("by role");
    let found: Vec<_> = developers
        .items
        .iter()
        .map(|e| {
            (
                e.actor.as_str(),
                e.actor_name.as_deref(),
                e.actor_email.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        found,
        [(
            "person:https://idp#dev-1",
            Some("Dev One"),
            Some("dev-1@example.com")
        )]
    );
}

/// Writers racing each other: a reader following the change log meets every committed
/// change once, in seq order, with no gaps (WatchChanges resumes after a seq). Claimants
/// racing each other: every stale operation is claimed by exactly one of them.
async fn racing_writers_and_claimants(store: Arc<dyn Store>) {
    let fx = fixture(&store).await;
    let (provider_id, strategy_id) = (fx.provider.id, fx.strategy.id);
    const WRITERS: usize = 8;
    const EACH: usize = 5;
    let start = store.latest_seq().await.expect("latest");
    let follower = tokio::spawn({
        let store = store.clone();
        async move {
            let mut signal = store.change_signal();
            let mut seen = Vec::new();
            while seen.len() < WRITERS * EACH {
                signal.borrow_and_update();
                let after = seen.last().copied().unwrap_or(start);
                let batch = store.changes_after(after, 7).await.expect("changes");
                seen.extend(batch.iter().map(|c| c.seq));
                if batch.is_empty() {
                    // A bound, not a sleep: the signal ticks as soon as a writer commits.
                    tokio::time::timeout(std::time::Duration::from_secs(10), signal.changed())
                        .await
                        .expect("the change signal ticks after a commit")
                        .expect("store alive");
                }
            }
            seen
        }
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    store
                        .insert_product(&ApiProduct {
                            id: Uuid::now_v7(),
                            name: format!("race-{w}-{i}"),
                            description: String::new(),
                            strategy_id,
                            audience: String::new(),
                            create_time: Utc::now(),
                            update_time: Utc::now(),
                        })
                        .await
                        .expect("insert");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer");
    }
    let seen = follower.await.expect("follower");
    let expected: Vec<i64> = (1..=i64::try_from(WRITERS * EACH).expect("small"))
        .map(|n| start + n)
        .collect();
    assert_eq!(seen, expected, "every change once, in order, no gaps");

    let mut stale = Vec::new();
    for i in 0..12 {
        let app = application(strategy_id, "racer", &format!("race-app-{i}"));
        let op = Operation {
            lease_until: Utc::now() - chrono::Duration::seconds(1),
            ..operation(&app, provider_id, OperationKind::Create)
        };
        store
            .insert_application_intent(&app, &op)
            .await
            .expect("intent");
        stale.push(op.id);
    }
    let claimants: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let now = Utc::now();
                    let claimed = store
                        .claim_stale_operations(now, now + chrono::Duration::seconds(60), 2)
                        .await
                        .expect("claim");
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.iter().map(|o| o.id));
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for claimant in claimants {
        claimed.extend(claimant.await.expect("claimant"));
    }
    claimed.sort();
    stale.sort();
    assert_eq!(claimed, stale, "each stale operation claimed exactly once");
}

/// Both backends keep microseconds.
fn store_time(t: chrono::DateTime<Utc>) -> chrono::DateTime<Utc> {
    chrono::DateTime::from_timestamp_micros(t.timestamp_micros()).expect("time")
}

/// A delete refused because other rows use the row names them, and what to do, the same
/// on every backend (the API returns it as FAILED_PRECONDITION).
async fn refused_deletes_name_the_users(store: Arc<dyn Store>) {
    let p = provider("okta");
    store.insert_provider(&p).await.expect("provider");
    let s = strategy(p.id, "partners");
    store.insert_strategy(&s).await.expect("strategy");
    let product = ApiProduct {
        id: Uuid::now_v7(),
        name: "orders-api".into(),
        description: String::new(),
        strategy_id: s.id,
        audience: String::new(),
        create_time: Utc::now(),
        update_time: Utc::now(),
    };
    store.insert_product(&product).await.expect("product");
    let app = application(s.id, "dev", "shop");
    store
        .insert_application_intent(&app, &operation(&app, p.id, OperationKind::Create))
        .await
        .expect("application");
    store
        .insert_registration(&Registration {
            id: Uuid::now_v7(),
            application_id: app.id,
            product_id: product.id,
            status: RegistrationStatus::Pending,
            scopes: Vec::new(),
            create_time: Utc::now(),
            update_time: Utc::now(),
        })
        .await
        .expect("registration");

    let in_use = |result: Result<(), StoreError>| match result {
        Err(StoreError::InUse(message)) => message,
        other => panic!("not InUse: {other:?}"),
    };
    assert_eq!(
        in_use(store.delete_provider(p.id).await),
        "provider \"okta\" is used by strategy \"partners\": delete those strategies first \
         (DeleteStrategy)"
    );
    assert_eq!(
        in_use(store.delete_strategy(s.id).await),
        "strategy \"partners\" is used by product \"orders-api\" and application \"shop\": \
         point those products at another strategy (UpdateProduct) or delete them \
         (DeleteProduct); those applications must be deleted first (DeleteApplication)"
    );
    assert_eq!(
        in_use(store.delete_product(product.id).await),
        "product \"orders-api\" is used by the registration of application \"shop\": those \
         registrations must be deleted first (DeleteRegistration)"
    );
    // Still there, and the store still takes writes (the refused delete left no lock).
    assert!(store.get_provider(p.id).await.expect("get").is_some());
    store
        .insert_strategy(&strategy(p.id, "second"))
        .await
        .expect("a write after the refused deletes");
}

async fn postgres_store() -> Arc<dyn Store> {
    let url = fresh_database().await;
    let store = PgStore::connect(&url, Arc::new(Sealer::new(&[9; 32], &[])))
        .await
        .expect("connect");
    Arc::new(store)
}

/// The store and the folder holding its file (deleted when dropped).
async fn sqlite_store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(
        &format!("sqlite://{}", dir.path().join("dcr.db").display()),
        Arc::new(Sealer::new(&[9; 32], &[])),
    )
    .await
    .expect("open");
    (Arc::new(store), dir)
}

/// One test per behaviour and backend, each on a fresh store. Several worker threads,
/// so racing writers and claimants really run at once.
macro_rules! on_both_backends {
    ($($behaviour:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $behaviour() {
                    super::$behaviour(super::postgres_store().await).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $behaviour() {
                    let (store, _dir) = super::sqlite_store().await;
                    super::$behaviour(store).await;
                }
            )*
        }
    };
}

on_both_backends!(
    config_rows_round_trip_are_unique_and_page,
    an_application_is_created_once,
    rotation_revokes_the_active_credential_at_once,
    a_revocation_records_its_idp_intent_with_it,
    issued_tokens_are_found_until_they_expire,
    a_confirmed_revocation_needs_records_only_for_tokens_until_then,
    registrations_are_unique_and_resolve,
    approved_clients_page_in_product_and_client_order,
    stale_operations_are_claimed_once,
    a_claimed_operation_fences_out_its_first_holder,
    client_changes_run_one_at_a_time_and_commit_from_the_journal,
    a_delete_takes_the_state_of_a_journaled_change,
    deletion_and_the_change_log,
    lookups_the_services_rely_on,
    audit_log,
    racing_writers_and_claimants,
    refused_deletes_name_the_users,
);
