//! `plan`, `apply` and `export` against an in-process registry (fresh Postgres database)
//! and, where a secret must be proven to reach the IdP, the node oidc-provider peer.
//! Run through `scripts/test`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dcr_proto::registry::v1 as pb;
use dcr_testkit::peers;
use dcr_testkit::registry::{self as helpers, TestApp};
use dcrctl::connection::ConnectionArgs;
use dcrctl::declarative::{self, Action, Options};
use secrecy::SecretString;

fn connection(app: &TestApp) -> ConnectionArgs {
    ConnectionArgs {
        registry_url: format!("http://{}", app.addr),
        token_url: "http://127.0.0.1:9".into(),
        authz_url: "http://127.0.0.1:9".into(),
        admin_token: Some(SecretString::from(helpers::ADMIN_TOKEN)),
        portal_token: None,
        developer: None,
        gateway_token: None,
        service_token: None,
        tls: None,
        identity_issuer: None,
        person: None,
    }
}

/// A directory of its own for the test's files (removed when the test ends).
struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "dcrctl-declarative-{}-{}",
            std::process::id(),
            uuid_like()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn uuid_like() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn vars(pairs: &[(&str, &str)]) -> Options {
    Options {
        variables: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        ..Options::default()
    }
}

/// The walkthrough's configuration against an IdP at `${T_IDP}`, its initial access token
/// from `{env: T_IAT}`.
const CONFIG: &str = r#"
version: 1
providers:
  - name: local-oidc
    display_name: Local OIDC
    issuer: ${T_IDP}
    labels: {env: test}
    rfc7591:
      initial_access_token: {env: T_IAT}
strategies:
  - name: partners
    provider: local-oidc
    scopes: [read]
    audience: https://api.example.com
    session_ttl: 2h
products:
  - name: orders-api
    description: Orders, for partners
    strategy: partners
    audience: https://api.example.com
"#;

async fn providers(app: &TestApp) -> Vec<pb::Provider> {
    app.providers()
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .providers
}

async fn strategies(app: &TestApp) -> Vec<pb::AuthStrategy> {
    app.strategies()
        .list_strategies(pb::ListStrategiesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .strategies
}

async fn products(app: &TestApp) -> Vec<pb::ApiProduct> {
    app.products()
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .products
}

/// Every admin write the registry recorded.
async fn audit_count(app: &TestApp) -> usize {
    app.audit()
        .list_audit_events(pb::ListAuditEventsRequest {
            page_size: 500,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events
        .len()
}

async fn verify(app: &TestApp, provider_id: &str) -> pb::VerifyProviderResponse {
    app.providers()
        .verify_provider(pb::VerifyProviderRequest {
            id: provider_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn apply_creates_everything_then_nothing_more() {
    let idp = peers::oidc_provider().await;
    let app = helpers::spawn_app().await;
    let dir = Dir::new();
    let file = dir.write("dcr.yaml", CONFIG);
    let options = vars(&[
        ("T_IDP", &idp.base_url),
        ("T_IAT", peers::INITIAL_ACCESS_TOKEN),
    ]);
    let conn = connection(&app);

    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(plan.count(Action::Create), 3, "{}", plan.render());
    assert!(providers(&app).await.is_empty(), "plan changed nothing");

    let done = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(done.applied);
    assert_eq!(done.count(Action::Create), 3, "{}", done.render());
    let rendered = done.render();
    assert!(
        rendered.contains("provider local-oidc: created"),
        "{rendered}"
    );
    assert!(
        rendered.contains("rfc7591.initial_access_token from env T_IAT (secret, sent)"),
        "{rendered}"
    );
    assert!(
        !rendered.contains(peers::INITIAL_ACCESS_TOKEN),
        "no secret in the output: {rendered}"
    );

    let provider = providers(&app).await.into_iter().next().unwrap();
    assert_eq!(provider.name, "local-oidc");
    assert_eq!(provider.display_name, "Local OIDC");
    assert_eq!(provider.issuer, idp.base_url);
    assert!(provider.active);
    assert_eq!(provider.labels.get("env").map(String::as_str), Some("test"));
    // The initial access token from the environment reached the registry: the IdP
    // accepts a registration made with it.
    let verified = verify(&app, &provider.id).await;
    assert!(verified.ok, "{}", verified.detail);
    let strategy = strategies(&app).await.into_iter().next().unwrap();
    assert_eq!(strategy.provider_id, provider.id);
    assert_eq!(strategy.scopes, ["read"]);
    assert_eq!(strategy.session_ttl.unwrap().seconds, 7200);
    let product = products(&app).await.into_iter().next().unwrap();
    assert_eq!(product.strategy_id, strategy.id);
    assert_eq!(product.description, "Orders, for partners");

    // Again: nothing to do, and no write reaches the registry.
    let writes = audit_count(&app).await;
    assert_eq!(
        writes, 4,
        "one audited write per created resource, and the test's VerifyProvider"
    );
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(plan.is_empty(), "{}", plan.render());
    assert_eq!(plan.count(Action::Unchanged), 3);
    let again = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(again.is_empty(), "{}", again.render());
    assert_eq!(
        audit_count(&app).await,
        writes,
        "a second apply made no calls that change anything"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_changed_field_is_an_update_with_old_and_new() {
    let app = helpers::spawn_app().await;
    let dir = Dir::new();
    let conn = connection(&app);
    let options = vars(&[("T_IDP", "http://127.0.0.1:3999"), ("T_IAT", "iat-1")]);
    let file = dir.write("dcr.yaml", CONFIG);
    declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();

    let changed = CONFIG
        .replace("scopes: [read]", "scopes: [read, write]")
        .replace("labels: {env: test}", "labels: {env: staging}")
        .replace("Orders, for partners", "Orders");
    let file = dir.write("dcr.yaml", &changed);
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(plan.count(Action::Update), 3, "{}", plan.render());
    let rendered = plan.render();
    assert!(
        rendered.contains(r#"scopes: ["read"] -> ["read","write"]"#),
        "{rendered}"
    );
    assert!(
        rendered.contains(r#"labels.env: "test" -> "staging""#),
        "{rendered}"
    );
    assert!(
        rendered.contains(r#"description: "Orders, for partners" -> "Orders""#),
        "{rendered}"
    );
    // A provider update re-sends its secrets (they cannot be compared).
    assert!(
        rendered.contains("initial_access_token from env T_IAT (secret, sent)"),
        "{rendered}"
    );

    declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(strategies(&app).await[0].scopes, ["read", "write"]);
    assert_eq!(products(&app).await[0].description, "Orders");
    assert_eq!(
        providers(&app).await[0]
            .labels
            .get("env")
            .map(String::as_str),
        Some("staging")
    );
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(plan.is_empty(), "{}", plan.render());

    // Leaving out a defaulted field means the default: the TTL goes back to 1 hour.
    let file = dir.write("dcr.yaml", &changed.replace("    session_ttl: 2h\n", ""));
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(
        plan.render().contains(r#"session_ttl: "2h" -> "1h""#),
        "{}",
        plan.render()
    );
    declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(strategies(&app).await[0].session_ttl.unwrap().seconds, 3600);
    app.stop().await;
}

/// A file that leaves the session cookie name out leaves it to the registry: its own
/// `__Host-` name on create, and whatever the strategy has afterwards (one made before
/// that default keeps `dcr_session`). Only a name written in the file changes it.
#[tokio::test]
async fn an_omitted_session_cookie_name_is_the_registrys_to_choose() {
    let app = helpers::spawn_app().await;
    let dir = Dir::new();
    let conn = connection(&app);
    let options = vars(&[("T_IDP", "http://127.0.0.1:3999"), ("T_IAT", "iat-1")]);
    let file = dir.write("dcr.yaml", CONFIG);
    declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    let strategy = strategies(&app).await.remove(0);
    assert_eq!(
        strategy.session_cookie_name,
        format!("__Host-dcr-session-{}", strategy.id.replace('-', ""))
    );

    // As stored before the per-strategy default.
    app.strategies()
        .update_strategy(pb::UpdateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                id: strategy.id.clone(),
                session_cookie_name: "dcr_session".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["session_cookie_name".into()],
            }),
        })
        .await
        .unwrap();
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(plan.is_empty(), "{}", plan.render());

    let named = CONFIG.replace(
        "    session_ttl: 2h\n",
        "    session_ttl: 2h\n    session_cookie_name: __Host-partners\n",
    );
    let file = dir.write("dcr.yaml", &named);
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(
        plan.render()
            .contains(r#"session_cookie_name: "dcr_session" -> "__Host-partners""#),
        "{}",
        plan.render()
    );
    declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(
        strategies(&app).await[0].session_cookie_name,
        "__Host-partners"
    );
    app.stop().await;
}

#[tokio::test]
async fn export_then_plan_is_empty() {
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    // Made through the API, with every type's fields and non-default values.
    let bridge = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(pb::Provider {
                name: "bridge".into(),
                issuer: "http://127.0.0.1:4001".into(),
                active: false,
                config: Some(pb::provider::Config::HttpBridge(pb::HttpBridgeConfig {
                    dcr_base_url: "http://127.0.0.1:4002".into(),
                    api_key: "bridge-key-value".into(),
                    disable_event_hooks: true,
                    disable_refresh_secret: false,
                    allow_multiple_credentials: true,
                })),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    app.providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(pb::Provider {
                name: "auth0.prod".into(),
                display_name: "Auth0 $prod".into(),
                issuer: "http://127.0.0.1:4003/".into(),
                active: true,
                config: Some(pb::provider::Config::Auth0(pb::Auth0Config {
                    initial_client_id: "m2m".into(),
                    initial_client_secret: "auth0-secret-value".into(),
                    initial_client_audience: String::new(),
                    use_developer_managed_scopes: true,
                    token_endpoint_auth_method: String::new(),
                })),
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let strategy = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "sessions".into(),
                provider_id: bridge.id.clone(),
                credential_claims: vec!["azp".into(), "client_id".into()],
                scopes: vec!["b".into(), "a".into()],
                auth_methods: vec![
                    pb::AuthMethod::Session as i32,
                    pb::AuthMethod::Bearer as i32,
                ],
                session_cookie_name: "sid".into(),
                session_ttl: Some(prost_types::Duration {
                    seconds: 90,
                    nanos: 0,
                }),
                auto_approve: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    app.products()
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "p".into(),
                strategy_id: strategy.id,
                ..Default::default()
            }),
        })
        .await
        .unwrap();

    let yaml = declarative::export(&conn).await.unwrap();
    assert!(
        yaml.contains("api_key:\n      env: DCR_BRIDGE_API_KEY"),
        "{yaml}"
    );
    assert!(
        yaml.contains("env: DCR_AUTH0_PROD_INITIAL_CLIENT_SECRET"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("bridge-key-value") && !yaml.contains("auth0-secret-value"),
        "{yaml}"
    );
    let dir = Dir::new();
    let file = dir.write("exported.yaml", &yaml);
    // No variables needed: nothing is sent, so no secret is read.
    let plan = declarative::plan(&conn, &file).await.unwrap();
    assert!(plan.is_empty(), "{}\n---\n{yaml}", plan.render());
    assert_eq!(plan.count(Action::Unchanged), 4);
    assert!(plan.not_managed.is_empty());

    // The exported file is a starting point: edit it and apply (an update re-sends the
    // provider's secrets, so their variables must be set then).
    let edited = yaml
        .replace("disable_event_hooks: true", "disable_event_hooks: false")
        .replace("Auth0 $$prod", "Auth0 production");
    let file = dir.write("exported.yaml", &edited);
    let message = format!("{:#}", declarative::apply(&conn, &file).await.unwrap_err());
    assert!(
        message.contains("DCR_BRIDGE_API_KEY is not set"),
        "{message}"
    );
    assert!(
        message.contains("DCR_AUTH0_PROD_INITIAL_CLIENT_SECRET is not set"),
        "{message}"
    );
    let options = vars(&[
        ("DCR_BRIDGE_API_KEY", "bridge-key-2"),
        ("DCR_AUTH0_PROD_INITIAL_CLIENT_SECRET", "auth0-secret-2"),
    ]);
    let done = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(done.count(Action::Update), 2, "{}", done.render());
    let now = providers(&app).await;
    let Some(pb::provider::Config::HttpBridge(bridge)) = &now[0].config else {
        panic!("{now:?}")
    };
    assert!(!bridge.disable_event_hooks && bridge.allow_multiple_credentials);
    assert_eq!(bridge.dcr_base_url, "http://127.0.0.1:4002/");
    assert_eq!(now[1].display_name, "Auth0 production");
    let plan = declarative::plan(&conn, &file).await.unwrap();
    assert!(plan.is_empty(), "{}", plan.render());
    app.stop().await;
}

#[tokio::test]
async fn a_missing_secret_fails_before_any_change() {
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    let dir = Dir::new();
    let config = format!(
        "{CONFIG}\n  - name: second\n    strategy: partners\n"
    )
    .replace(
        "providers:\n",
        "providers:\n  - name: bridge\n    issuer: http://127.0.0.1:4001\n    http_bridge:\n      dcr_base_url: http://127.0.0.1:4002\n      api_key: {file: missing-key.txt}\n",
    );
    let file = dir.write("dcr.yaml", &config);
    let options = vars(&[("T_IDP", "http://127.0.0.1:3999")]);
    let error = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("environment variable T_IAT is not set"),
        "{message}"
    );
    assert!(message.contains("missing-key.txt"), "{message}");
    assert!(
        message.contains("2 problems"),
        "both reported at once: {message}"
    );
    assert!(providers(&app).await.is_empty());
    assert!(strategies(&app).await.is_empty());
    assert_eq!(audit_count(&app).await, 0, "nothing was attempted");

    // With the variable set and the file there, the same file applies.
    dir.write("missing-key.txt", "bridge-key\n");
    let options = vars(&[("T_IDP", "http://127.0.0.1:3999"), ("T_IAT", "iat")]);
    let done = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(done.count(Action::Create), 5, "{}", done.render());
    app.stop().await;
}

#[tokio::test]
async fn file_problems_are_refused_with_what_to_write() {
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    let dir = Dir::new();

    let inline = dir.write(
        "inline.yaml",
        &CONFIG.replace("{env: T_IAT}", "the-token-itself"),
    );
    let error =
        declarative::apply_with_options(&conn, &inline, &vars(&[("T_IDP", "http://127.0.0.1:1")]))
            .await
            .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("providers[local-oidc].rfc7591.initial_access_token: secrets are not written in the file"),
        "{message}"
    );
    assert!(message.contains("{env: VARIABLE}"), "{message}");
    assert!(!message.contains("the-token-itself"), "{message}");

    let unknown = dir.write(
        "unknown.yaml",
        &CONFIG.replace(
            "    audience: https://api.example.com\n    session_ttl",
            "    audiences: https://api.example.com\n    session_ttl",
        ),
    );
    let message = format!(
        "{:#}",
        declarative::plan(&conn, &unknown).await.unwrap_err()
    );
    assert!(message.contains("unknown field `audiences`"), "{message}");
    assert!(message.contains("line 14"), "{message}");

    let unset = dir.write("unset.yaml", CONFIG);
    let message = format!(
        "{:#}",
        declarative::plan_with_options(&conn, &unset, &vars(&[("T_IAT", "x")]))
            .await
            .unwrap_err()
    );
    assert!(
        message.contains("providers[0].issuer: variable T_IDP is not set"),
        "{message}"
    );

    let dangling = dir.write(
        "dangling.yaml",
        "version: 1\nproducts:\n  - name: p\n    strategy: nowhere\n",
    );
    let message = format!(
        "{:#}",
        declarative::plan(&conn, &dangling).await.unwrap_err()
    );
    assert!(message.contains("no strategy \"nowhere\""), "{message}");

    assert!(providers(&app).await.is_empty());
    assert_eq!(audit_count(&app).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn apply_stops_at_the_first_error_saying_what_was_applied() {
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    let dir = Dir::new();
    // The registry refuses the scope (RFC 6749 scope tokens have no spaces).
    let file = dir.write(
        "dcr.yaml",
        &CONFIG.replace("scopes: [read]", "scopes: [\"not a scope\"]"),
    );
    let options = vars(&[("T_IDP", "http://127.0.0.1:3999"), ("T_IAT", "iat")]);
    let error = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains("creating strategy partners failed"),
        "{message}"
    );
    assert!(
        message.contains("already applied: created provider local-oidc"),
        "{message}"
    );
    assert!(
        error
            .chain()
            .any(|e| e.downcast_ref::<tonic::Status>().is_some())
    );
    assert_eq!(providers(&app).await.len(), 1);
    assert!(
        products(&app).await.is_empty(),
        "nothing after the failure was tried"
    );

    // Fixed, the apply continues from there.
    let file = dir.write("dcr.yaml", CONFIG);
    let done = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(done.count(Action::Unchanged), 1, "{}", done.render());
    assert_eq!(done.count(Action::Create), 2, "{}", done.render());
    app.stop().await;
}

#[tokio::test]
async fn secrets_are_sent_on_create_and_update_and_when_asked() {
    let idp = peers::oidc_provider().await;
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    let dir = Dir::new();
    let file = dir.write("dcr.yaml", CONFIG);
    let wrong = vars(&[("T_IDP", &idp.base_url), ("T_IAT", "not-the-token")]);
    declarative::apply_with_options(&conn, &file, &wrong)
        .await
        .unwrap();
    let id = providers(&app).await[0].id.clone();
    assert!(
        !verify(&app, &id).await.ok,
        "the IdP refuses the wrong token"
    );

    // Fixing only the secret: dcr cannot see the difference, so nothing is sent...
    let mut right = vars(&[
        ("T_IDP", &idp.base_url),
        ("T_IAT", peers::INITIAL_ACCESS_TOKEN),
    ]);
    let plan = declarative::apply_with_options(&conn, &file, &right)
        .await
        .unwrap();
    assert!(plan.is_empty(), "{}", plan.render());
    assert!(!verify(&app, &id).await.ok);

    // ...until asked: every provider's secrets are sent again.
    right.resend_secrets = true;
    let done = declarative::apply_with_options(&conn, &file, &right)
        .await
        .unwrap();
    assert_eq!(done.count(Action::Update), 1, "{}", done.render());
    let verified = verify(&app, &id).await;
    assert!(verified.ok, "{}", verified.detail);
    app.stop().await;
}

#[tokio::test]
async fn resources_not_in_the_file_are_listed_and_left_alone() {
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    let dir = Dir::new();
    let options = vars(&[("T_IDP", "http://127.0.0.1:3999"), ("T_IAT", "iat")]);
    let file = dir.write("dcr.yaml", CONFIG);
    declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();

    // A file with the provider only: the strategy and product stay, listed as unmanaged.
    let only_provider = CONFIG.split("strategies:").next().unwrap();
    let file = dir.write("provider.yaml", only_provider);
    let done = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(done.is_empty(), "{}", done.render());
    let rendered = done.render();
    assert!(
        rendered.contains(
            "not managed by this file (left alone; `apply --prune` would delete them):\n    \
             product orders-api\n    strategy partners"
        ),
        "{rendered}"
    );
    assert_eq!(strategies(&app).await.len(), 1);
    assert_eq!(products(&app).await.len(), 1);

    // A strategy may name a provider that only the registry has.
    let file = dir.write(
        "strategy.yaml",
        "version: 1\nstrategies:\n  - name: more\n    provider: local-oidc\n",
    );
    let done = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(done.count(Action::Create), 1, "{}", done.render());
    app.stop().await;
}

#[tokio::test]
async fn prune_deletes_what_the_file_does_not_have_dependents_first() {
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    let dir = Dir::new();
    let mut options = vars(&[("T_IDP", "http://127.0.0.1:3999"), ("T_IAT", "iat")]);
    let file = dir.write("dcr.yaml", CONFIG);
    declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    // A second file's provider, strategy and product, none of them in the first file.
    let other = CONFIG
        .replace("local-oidc", "other-oidc")
        .replace("partners", "others")
        .replace("orders-api", "other-api");
    let other = dir.write("other.yaml", &other);
    declarative::apply_with_options(&conn, &other, &options)
        .await
        .unwrap();

    options.prune = true;
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    let rendered = plan.render();
    assert!(
        rendered.contains(
            "product other-api: delete\nstrategy others: delete\nprovider other-oidc: delete"
        ),
        "dependents first: {rendered}"
    );
    assert!(plan.not_managed.is_empty());
    // In this order the registry's in-use checks pass.
    let done = declarative::apply_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert_eq!(done.count(Action::Delete), 3, "{}", done.render());
    assert_eq!(providers(&app).await.len(), 1);
    assert_eq!(strategies(&app).await.len(), 1);
    assert_eq!(products(&app).await.len(), 1);
    let plan = declarative::plan_with_options(&conn, &file, &options)
        .await
        .unwrap();
    assert!(plan.is_empty(), "{}", plan.render());

    // With prune, a reference to what only the registry has would dangle: refused.
    let strategy_only = dir.write(
        "strategy.yaml",
        "version: 1\nstrategies:\n  - name: more\n    provider: local-oidc\n",
    );
    let message = format!(
        "{:#}",
        declarative::apply_with_options(&conn, &strategy_only, &options)
            .await
            .unwrap_err()
    );
    assert!(message.contains("prune would delete it"), "{message}");
    assert_eq!(providers(&app).await.len(), 1);
    app.stop().await;
}

/// The example shipped with dcrctl and the demo's file (deploy/demo) read and plan.
#[tokio::test]
async fn the_example_files_plan() {
    let app = helpers::spawn_app().await;
    let conn = connection(&app);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (file, vars) in [
        ("examples/dcr.yaml", vars(&[("OIDC_IAT", "dev-iat")])),
        (
            "../deploy/demo/dcr.yaml",
            vars(&[("DCR_DEMO_OKTA_TOKEN", "token")]),
        ),
    ] {
        let plan = declarative::plan_with_options(&conn, &root.join(file), &vars)
            .await
            .unwrap_or_else(|e| panic!("{file}: {e:#}"));
        assert_eq!(plan.count(Action::Create), 3, "{file}: {}", plan.render());
    }
    app.stop().await;
}

/// The built binary: `apply -f`, `plan -f`, `export -f`, as a user runs them (only the
/// variables set here reach it).
#[tokio::test]
async fn the_cli_applies_plans_and_exports() {
    let app = helpers::spawn_app().await;
    let dir = Dir::new();
    let file = dir.write("dcr.yaml", CONFIG);
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_dcrctl"));
        command
            .args(args)
            .env_clear()
            .env("DCR_REGISTRY_URL", format!("http://{}", app.addr))
            .env("DCR_ADMIN_TOKEN", helpers::ADMIN_TOKEN)
            .envs(env.iter().copied());
        async move {
            let output = command.output().await.unwrap();
            (
                output.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&output.stdout).into_owned(),
                String::from_utf8_lossy(&output.stderr).into_owned(),
            )
        }
    };
    let file_arg = file.to_str().unwrap();
    let env = [("T_IDP", "http://127.0.0.1:3999"), ("T_IAT", "iat-value")];

    // A missing variable: refused before any change, exit code 1, the variable named.
    let (code, _, stderr) = run(&["apply", "-f", file_arg], &env[..1]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("environment variable T_IAT is not set"),
        "{stderr}"
    );
    assert!(providers(&app).await.is_empty());

    let (code, stdout, stderr) = run(&["apply", "-f", file_arg], &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("3 created, 0 updated"), "{stdout}");
    assert!(
        !stdout.contains("iat-value") && !stderr.contains("iat-value"),
        "{stdout}{stderr}"
    );

    let (code, stdout, stderr) = run(&["plan", "-f", file_arg, "--output", "json"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let actions: Vec<&str> = plan["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["unchanged"; 3], "{stdout}");

    // The flags reach the options: --resend-secrets updates the provider, --prune with a
    // file of the provider alone would delete the product and the strategy.
    let (code, stdout, stderr) = run(&["plan", "-f", file_arg, "--resend-secrets"], &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("provider local-oidc: update"), "{stdout}");
    let only_provider = dir.write("provider.yaml", CONFIG.split("strategies:").next().unwrap());
    let (code, stdout, stderr) = run(
        &["plan", "-f", only_provider.to_str().unwrap(), "--prune"],
        &env,
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("product orders-api: delete\nstrategy partners: delete"),
        "{stdout}"
    );
    // Without --prune the same file changes nothing, and says what it leaves alone.
    let (code, stdout, stderr) = run(&["plan", "-f", only_provider.to_str().unwrap()], &env).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout.trim_end(),
        "not managed by this file (left alone; `apply --prune` would delete them):\n    \
         product orders-api\n    strategy partners\nno changes",
    );

    let exported = dir.0.join("exported.yaml");
    let (code, _, stderr) = run(&["export", "-f", exported.to_str().unwrap()], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) = run(&["plan", "-f", exported.to_str().unwrap()], &[]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("no changes"), "{stdout}");
    app.stop().await;
}
