//! `--state-file` / `spawn_with_state_file`: clients, secrets and signing keys survive a
//! restart on the same file, and a file the emulator cannot use is refused by name.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use dcr_idp_emulator::{
    AUTH0_MGMT_CLIENT_ID, AUTH0_MGMT_CLIENT_SECRET, EmulatorState, OKTA_API_TOKEN,
    spawn_with_state_file,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, body, verify};

/// A directory of its own under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir =
            std::env::temp_dir().join(format!("dcr-emu-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start(addr: SocketAddr, path: &Path) -> TestEmu {
    TestEmu {
        emu: spawn_with_state_file(addr, path).await.unwrap(),
        // A new client per instance: pooled connections to a stopped one are dead.
        http: Client::new(),
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn okta_token(t: &TestEmu, id: &str, secret: &str) -> (StatusCode, Value) {
    let resp = t
        .http
        .post(t.emu.urls.okta_token())
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "orders:read"),
        ])
        .send()
        .await
        .unwrap();
    body(resp).await
}

async fn auth0_token(t: &TestEmu, id: &str, secret: &str, audience: &str) -> (StatusCode, Value) {
    let resp = t
        .http
        .post(t.emu.urls.auth0_token())
        .json(
            &json!({ "grant_type": "client_credentials", "client_id": id,
                       "client_secret": secret, "audience": audience }),
        )
        .send()
        .await
        .unwrap();
    body(resp).await
}

async fn auth0_mgmt_token(t: &TestEmu) -> String {
    let audience = t.emu.urls.auth0_management_audience();
    let (status, tok) =
        auth0_token(t, AUTH0_MGMT_CLIENT_ID, AUTH0_MGMT_CLIENT_SECRET, &audience).await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    tok["access_token"].as_str().unwrap().to_string()
}

async fn auth0_mgmt(
    t: &TestEmu,
    token: &str,
    method: Method,
    path: &str,
    payload: Option<Value>,
) -> (StatusCode, Value) {
    let base = t.emu.urls.auth0_management_audience();
    let mut req = t
        .http
        .request(method, format!("{}{path}", base.trim_end_matches('/')))
        .bearer_auth(token);
    if let Some(p) = payload {
        req = req.json(&p);
    }
    body(req.send().await.unwrap()).await
}

async fn okta_api(
    t: &TestEmu,
    method: Method,
    url: &str,
    payload: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = t
        .http
        .request(method, url)
        .header("authorization", format!("SSWS {OKTA_API_TOKEN}"));
    if let Some(p) = payload {
        req = req.json(&p);
    }
    body(req.send().await.unwrap()).await
}

/// An Auth0 client made as dcr makes one (Management API), with a grant on an API of the
/// tenant: `(client_id, client_secret)`.
async fn auth0_client(t: &TestEmu, api: &str) -> (String, String) {
    let mgmt = auth0_mgmt_token(t).await;
    let (status, created) = auth0_mgmt(
        t,
        &mgmt,
        Method::POST,
        "/clients",
        Some(json!({ "name": "alice-shop", "app_type": "non_interactive",
                     "grant_types": ["client_credentials"],
                     "client_metadata": { "dcr_app_id": "app-1" } })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    t.control(
        Method::POST,
        "/__emulator/auth0/resource-servers",
        json!({ "identifier": api }),
    )
    .await;
    let (status, grant) = auth0_mgmt(
        t,
        &mgmt,
        Method::POST,
        "/client-grants",
        Some(json!({ "client_id": id, "audience": api, "scope": ["read"] })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{grant}");
    (id, secret)
}

#[tokio::test]
async fn state_file_keeps_clients_secrets_and_keys_across_a_restart() {
    let dir = TempDir::new("restart");
    let path = dir.file("idp.json");
    let first = start(SocketAddr::from(([127, 0, 0, 1], 0)), &path).await;
    let addr = first.emu.addr;
    assert!(path.exists(), "written at start, before any change");
    assert_eq!(mode(&path), 0o600);
    // Fresh signing keys: emulators in one process share their initial keys, which would
    // hide keys lost in a restart.
    for vendor in ["okta", "auth0"] {
        first
            .control(
                Method::POST,
                "/__emulator/rotate-keys",
                json!({ "vendor": vendor }),
            )
            .await;
    }

    // Okta: a service client through the DCR API, and a token for it.
    let (status, okta) = okta_api(
        &first,
        Method::POST,
        &first.emu.urls.okta_clients(),
        Some(
            json!({ "client_name": "dcr-alice", "application_type": "service",
                     "grant_types": ["client_credentials"], "response_types": ["token"],
                     "token_endpoint_auth_method": "client_secret_basic" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{okta}");
    let okta_id = okta["client_id"].as_str().unwrap().to_string();
    let okta_secret = okta["client_secret"].as_str().unwrap().to_string();
    let (status, okta_tok) = okta_token(&first, &okta_id, &okta_secret).await;
    assert_eq!(status, StatusCode::OK, "{okta_tok}");
    let okta_tok = okta_tok["access_token"].as_str().unwrap().to_string();

    // Okta: a service app (public keys and grants only).
    let service_app = first
        .control(
            Method::POST,
            "/__emulator/okta/service-apps",
            json!({ "key_type": "EC", "scopes": ["okta.clients.read"], "dpop_required": true }),
        )
        .await;

    // Auth0: a client through the Management API, a grant, and a token for it.
    let api = "https://orders.example.com";
    let (auth0_id, auth0_secret) = auth0_client(&first, api).await;
    let (status, auth0_tok) = auth0_token(&first, &auth0_id, &auth0_secret, api).await;
    assert_eq!(status, StatusCode::OK, "{auth0_tok}");
    let auth0_tok = auth0_tok["access_token"].as_str().unwrap().to_string();
    let old_mgmt = auth0_mgmt_token(&first).await;

    // The clock skew is state too.
    first
        .control(
            Method::POST,
            "/__emulator/clock",
            json!({ "advance_secs": 3600 }),
        )
        .await;
    assert_eq!(mode(&path), 0o600, "still 0600 after rewrites");
    first.emu.shutdown().await;

    // Another emulator on the same file and port.
    let second = start(addr, &path).await;
    let urls = second.emu.urls.clone();

    let (status, got) = okta_api(
        &second,
        Method::GET,
        &format!("{}/{okta_id}", urls.okta_clients()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["client_name"], "dcr-alice");
    let kept = second
        .control(Method::GET, "/__emulator/state", json!({}))
        .await;
    let kept = &kept["okta"]["service_apps"][0];
    assert_eq!(kept["client_id"], service_app["client_id"]);
    assert_eq!(kept["kids"][0], service_app["kid"]);
    assert_eq!(kept["scopes"], json!(["okta.clients.read"]));
    assert_eq!(kept["dpop_required"], true);
    let (status, tok) = okta_token(&second, &okta_id, &okta_secret).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the Okta secret still gets tokens: {tok}"
    );
    let (claims, _) = verify(
        &second.http,
        &urls.okta_jwks(),
        tok["access_token"].as_str().unwrap(),
        &urls.okta_issuer(),
        "api://default",
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    assert!(
        claims["iat"].as_i64().unwrap() >= now + 3500,
        "the clock skew survives the restart: {claims}"
    );

    let (status, tok) = auth0_token(&second, &auth0_id, &auth0_secret, api).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the Auth0 secret still gets tokens: {tok}"
    );
    let mgmt = auth0_mgmt_token(&second).await;
    let (status, got) = auth0_mgmt(
        &second,
        &mgmt,
        Method::GET,
        &format!("/clients/{auth0_id}"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["client_metadata"]["dcr_app_id"], "app-1");

    // Tokens issued before the restart verify against the new instance's JWKS, and the
    // new instance itself still accepts its old management token.
    let (claims, _) = verify(
        &second.http,
        &urls.okta_jwks(),
        &okta_tok,
        &urls.okta_issuer(),
        "api://default",
    )
    .await;
    assert_eq!(claims["cid"], okta_id);
    let (claims, _) = verify(
        &second.http,
        &urls.auth0_jwks(),
        &auth0_tok,
        &urls.auth0_issuer(),
        api,
    )
    .await;
    assert_eq!(claims["azp"], auth0_id);
    let (status, _) = auth0_mgmt(&second, &old_mgmt, Method::GET, "/clients", None).await;
    assert_eq!(status, StatusCode::OK);

    // A deletion is saved as well.
    let (status, _) = okta_api(
        &second,
        Method::DELETE,
        &format!("{}/{okta_id}", urls.okta_clients()),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    second.emu.shutdown().await;
    let third = start(addr, &path).await;
    let (status, tok) = okta_token(&third, &okta_id, &okta_secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{tok}");
}

#[tokio::test]
async fn state_file_from_another_root_keeps_clients_and_the_management_api() {
    let dir = TempDir::new("root");
    let path = dir.file("idp.json");
    let first = start(SocketAddr::from(([127, 0, 0, 1], 0)), &path).await;
    let api = "https://orders.example.com";
    let (id, secret) = auth0_client(&first, api).await;
    first.emu.shutdown().await;

    // Port 0 again: another port, so another root URL.
    let second = start(SocketAddr::from(([127, 0, 0, 1], 0)), &path).await;
    let (status, tok) = auth0_token(&second, &id, &secret, api).await;
    assert_eq!(status, StatusCode::OK, "{tok}");
    let mgmt = auth0_mgmt_token(&second).await;
    let (status, got) =
        auth0_mgmt(&second, &mgmt, Method::GET, &format!("/clients/{id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{got}");
}

#[tokio::test]
async fn unusable_state_files_are_refused_by_name() {
    let dir = TempDir::new("bad");
    let root = "http://127.0.0.1:1";
    let cases = [
        ("corrupt.json", "{\"version\": 1, \"root\": ", "not JSON"),
        (
            "v2.json",
            "{\"version\": 2, \"root\": \"http://127.0.0.1:1\"}",
            "version 2",
        ),
        ("noversion.json", "{\"root\": \"x\"}", "no \"version\""),
        (
            "partial.json",
            "{\"version\": 1, \"root\": \"http://127.0.0.1:1\"}",
            "not valid emulator state",
        ),
    ];
    for (name, contents, why) in cases {
        let path = dir.file(name);
        std::fs::write(&path, contents).unwrap();
        let err = EmulatorState::open(root, &path)
            .err()
            .unwrap_or_else(|| panic!("{name} accepted"))
            .to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains(why), "{err}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            contents,
            "a refused file is left as it was"
        );
    }
}

#[tokio::test]
async fn state_file_keeps_people_and_sign_ins_and_older_files_get_the_seeded_people() {
    let dir = TempDir::new("sso");
    let path = dir.file("idp.json");
    let first = start(SocketAddr::from(([127, 0, 0, 1], 0)), &path).await;
    let addr = first.emu.addr;
    first
        .control(
            Method::POST,
            "/__emulator/sso/people/aaron",
            json!({ "groups": ["dcr-viewers"] }),
        )
        .await;
    let signed_in = crate::sso::signed_in(&first, "aaron", &[]).await;
    first.emu.shutdown().await;
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(signed_in["refresh_token"].as_str().unwrap()),
        "refresh tokens are kept as hashes"
    );

    // Restarted on the same file and address: the sign-in refreshes, groups as changed.
    let second = start(addr, &path).await;
    let (status, refreshed) =
        crate::sso::refresh(&second, signed_in["refresh_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let person = second
        .control(Method::GET, "/__emulator/sso/people/aaron", json!(null))
        .await;
    assert_eq!(person["groups"], json!(["dcr-viewers"]));
    second.emu.shutdown().await;

    // A file from before the SSO issuer: loaded, with the seeded people.
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    doc.as_object_mut().unwrap().remove("sso");
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let third = start(addr, &path).await;
    let person = third
        .control(Method::GET, "/__emulator/sso/people/aaron", json!(null))
        .await;
    assert_eq!(person["groups"], json!(["dcr-approvers"]));
}

#[tokio::test]
async fn state_file_keeps_web_clients_and_older_files_keep_dcrctl_native() {
    use crate::sso_web::{PORTAL, PORTAL_SECRET, basic, register_portal};

    let dir = TempDir::new("sso-web");
    let path = dir.file("idp.json");
    let first = start(SocketAddr::from(([127, 0, 0, 1], 0)), &path).await;
    let addr = first.emu.addr;
    register_portal(&first).await;
    first.emu.shutdown().await;

    // Restarted: the portal is still there and still needs its secret.
    let second = start(addr, &path).await;
    let shown = second
        .control(
            Method::GET,
            "/__emulator/sso/clients/dcr-portal",
            json!(null),
        )
        .await;
    assert_eq!(shown["client_type"], "confidential");
    let refresh = |auth: String| {
        second
            .http
            .post(second.emu.urls.sso_token())
            .header("authorization", auth)
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "never-issued"),
            ])
            .send()
    };
    let (status, answer) = body(refresh(basic(PORTAL, PORTAL_SECRET)).await.unwrap()).await;
    assert_eq!(
        (status, &answer["error"]),
        (StatusCode::BAD_REQUEST, &json!("invalid_grant"))
    );
    let (status, answer) = body(
        refresh(basic(PORTAL, "wrong-secret-0123456789"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, &answer["error"]),
        (StatusCode::UNAUTHORIZED, &json!("invalid_client"))
    );
    second.emu.shutdown().await;

    // A file from before web clients: its clients have neither `kind` nor
    // `client_secret`, and dcrctl keeps the any-port loopback rule.
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let clients = doc["sso"]["clients"].as_array_mut().unwrap();
    clients.retain(|c| c["client_id"] == "dcrctl");
    for c in clients.iter_mut() {
        c.as_object_mut().unwrap().remove("kind");
    }
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let third = start(addr, &path).await;
    let signed_in = crate::sso::signed_in(&third, "dana", &[]).await;
    assert!(signed_in["access_token"].is_string());
}
