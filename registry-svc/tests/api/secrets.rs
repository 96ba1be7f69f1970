//! Invariant 2: plaintext secrets exist only in the one response that creates them.
//! Provider secrets and registration access tokens are sealed at rest (we read the raw
//! rows), and no secret reaches a log line (we read the captured logs).

use dcr_proto::registry::v1 as pb;
use sqlx::Row as _;

use crate::helpers::{captured_logs, spawn_app};
use crate::http_bridge::bridge_provider;
use crate::peers::{self, BRIDGE_API_KEY, INITIAL_ACCESS_TOKEN};
use crate::rfc7591::rfc7591_provider;

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_secret_is_stored_in_plaintext_returned_twice_or_logged() {
    let idp = peers::oidc_provider().await;
    let bridge = peers::http_bridge().await;
    let app = spawn_app().await;
    let (oidc, oidc_strategy, _) = app
        .setup(
            rfc7591_provider("oidc", &idp.base_url, INITIAL_ACCESS_TOKEN),
            true,
        )
        .await;
    let (_, bridge_strategy, _) = app
        .setup(
            bridge_provider("bridge", &bridge.base_url, (false, false, false)),
            true,
        )
        .await;
    match oidc.config {
        Some(pb::provider::Config::Rfc7591(c)) => {
            assert!(c.initial_access_token.is_empty(), "write-only")
        }
        other => panic!("unexpected config {other:?}"),
    }

    let created = app.create_app("dev-1", &oidc_strategy.id, "sealed").await;
    let app_id: uuid::Uuid = created
        .application
        .as_ref()
        .expect("app")
        .id
        .parse()
        .expect("id");
    let secret = created.credential.expect("credential").client_secret;
    let regenerated = app
        .portal("dev-1")
        .regenerate_secret(pb::RegenerateSecretRequest {
            application_id: app_id.to_string(),
        })
        .await
        .expect("regenerate")
        .into_inner()
        .client_secret;
    let bridged = app
        .create_app("dev-1", &bridge_strategy.id, "bridged")
        .await
        .credential
        .expect("credential")
        .client_secret;
    let state = app
        .registry
        .store
        .get_idp_state(app_id)
        .await
        .expect("state")
        .expect("some");
    let rat = state.0["registration_access_token"]
        .as_str()
        .expect("rat")
        .to_owned();

    let secrets = [
        INITIAL_ACCESS_TOKEN.to_owned(),
        BRIDGE_API_KEY.to_owned(),
        secret,
        regenerated,
        bridged,
        rat,
    ];

    // Raw rows: every table, every column, as text.
    let pool = app.pool().await;
    for table in [
        "providers",
        "auth_strategies",
        "api_products",
        "applications",
        "credentials",
        "registrations",
        "idp_operations",
        "change_log",
        "audit_events",
    ] {
        let rows = sqlx::query(&format!("SELECT row_to_json(t)::text AS j FROM {table} t"))
            .fetch_all(&pool)
            .await
            .expect("rows");
        for row in rows {
            let text: String = row.get("j");
            for s in &secrets {
                assert!(
                    !contains(text.as_bytes(), s),
                    "{table} holds a secret in plaintext"
                );
            }
        }
    }
    // The sealed columns really are ciphertext of the secrets (they open with the key).
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT secrets_sealed FROM providers WHERE name = 'oidc'")
            .fetch_one(&pool)
            .await
            .expect("row");
    assert!(!contains(&sealed, INITIAL_ACCESS_TOKEN));
    let provider = app
        .registry
        .store
        .get_provider(oidc.id.parse().expect("id"))
        .await
        .expect("get")
        .expect("some");
    assert_eq!(
        provider.secrets.get("initial_access_token"),
        Some(INITIAL_ACCESS_TOKEN)
    );

    // Reads never return secrets.
    let credentials = app
        .portal("dev-1")
        .list_credentials(pb::ListCredentialsRequest {
            application_id: app_id.to_string(),
        })
        .await
        .expect("list")
        .into_inner()
        .credentials;
    assert!(credentials.iter().all(|c| c.client_secret.is_empty()));

    // Logs at TRACE level, including reqwest and sqlx, name none of them.
    let logs = captured_logs();
    assert!(
        logs.contains("application created"),
        "the log capture works"
    );
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret reached the logs");
    }
}
