//! The IdP emulator (crate dcr-idp-emulator) in-process, with dcr providers for each of
//! its vendors and its test-control API.

use dcr_idp_emulator::seed;
use dcr_proto::registry::v1 as pb;
use serde_json::{Value, json};

pub use dcr_idp_emulator::Emulator;

pub async fn emulator() -> Emulator {
    dcr_idp_emulator::spawn()
        .await
        .expect("start the IdP emulator")
}

/// The vendors, by dcr provider type.
pub const VENDORS: &[&str] = &["auth0", "okta", "curity", "azure_ad"];

/// A dcr provider for `vendor` at the emulator, with its seeded management credentials.
pub fn provider(emu: &Emulator, vendor: &str) -> pb::Provider {
    use pb::provider::Config;
    let urls = &emu.urls;
    let (issuer, config) = match vendor {
        "auth0" => (
            urls.auth0_issuer(),
            Config::Auth0(pb::Auth0Config {
                initial_client_id: seed::AUTH0_MGMT_CLIENT_ID.into(),
                initial_client_secret: seed::AUTH0_MGMT_CLIENT_SECRET.into(),
                ..Default::default()
            }),
        ),
        "okta" => (
            urls.okta_issuer(),
            Config::Okta(pb::OktaConfig {
                dcr_token: seed::OKTA_API_TOKEN.into(),
                ..Default::default()
            }),
        ),
        "curity" => (
            urls.curity_issuer(),
            Config::Curity(pb::CurityConfig {
                initial_client_id: seed::CURITY_INITIAL_CLIENT_ID.into(),
                initial_client_secret: seed::CURITY_INITIAL_CLIENT_SECRET.into(),
                ..Default::default()
            }),
        ),
        "azure_ad" => (
            urls.entra_v2_issuer(),
            Config::AzureAd(pb::AzureAdConfig {
                initial_client_id: seed::ENTRA_INITIAL_CLIENT_ID.into(),
                initial_client_secret: seed::ENTRA_INITIAL_CLIENT_SECRET.into(),
                graph_base_url: urls.graph_resource(),
            }),
        ),
        other => panic!("unknown vendor {other}"),
    };
    pb::Provider {
        name: vendor.replace('_', "-"),
        issuer,
        active: true,
        config: Some(config),
        ..Default::default()
    }
}

/// `POST /__emulator/<path>` with a JSON body; the answer's JSON.
pub async fn control(emu: &Emulator, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/__emulator/{path}", emu.root))
        .json(&body)
        .send()
        .await
        .expect("control call");
    assert!(
        response.status().is_success(),
        "control {path}: {}",
        response.status()
    );
    response.json().await.unwrap_or(Value::Null)
}

/// Injects a fault (see the emulator's README): `{"path_prefix", "status", ...}`.
pub async fn fault(emu: &Emulator, rule: Value) {
    control(emu, "faults", rule).await;
}

/// Removes every injected fault: the IdP answers normally again.
pub async fn clear_faults(emu: &Emulator) {
    let response = reqwest::Client::new()
        .delete(format!("{}/__emulator/faults", emu.root))
        .send()
        .await
        .expect("clear faults");
    assert!(
        response.status().is_success(),
        "clear faults: {}",
        response.status()
    );
}

/// Everything the emulator holds, per vendor (`GET /__emulator/state`).
pub async fn state(emu: &Emulator) -> Value {
    get(emu, "state").await
}

async fn get(emu: &Emulator, path: &str) -> Value {
    reqwest::get(format!("{}/__emulator/{path}", emu.root))
        .await
        .expect("control get")
        .json()
        .await
        .expect("json")
}

/// Calls counted per `"METHOD /route"`.
pub async fn calls(emu: &Emulator, route: &str) -> u64 {
    get(emu, "stats").await[route].as_u64().unwrap_or(0)
}

/// The IdP's record of a client (without secrets), if it exists.
pub async fn idp_client(emu: &Emulator, vendor: &str, client_id: &str) -> Option<Value> {
    let state = get(emu, "state").await;
    let (list, key) = match vendor {
        "azure_ad" => ("applications", "appId"),
        _ => ("clients", "client_id"),
    };
    state[vendor][list]
        .as_array()
        .and_then(|clients| clients.iter().find(|c| c[key] == client_id).cloned())
}

/// All clients the IdP holds for `vendor` (seeded ones included).
pub async fn idp_clients(emu: &Emulator, vendor: &str) -> Vec<Value> {
    let state = get(emu, "state").await;
    let list = if vendor == "azure_ad" {
        "applications"
    } else {
        "clients"
    };
    state[vendor][list].as_array().cloned().unwrap_or_default()
}

/// The HTTP status of a client-credentials token request at the vendor's token endpoint
/// (200: the secret works). `audience` is Auth0's API audience.
pub async fn token_status(
    emu: &Emulator,
    vendor: &str,
    client_id: &str,
    secret: &str,
    audience: &str,
) -> u16 {
    token_request(emu, vendor, client_id, secret, audience)
        .await
        .status()
        .as_u16()
}

/// An access token straight from the vendor's token endpoint, as a client that does not
/// go through dcr would get it; Err with the status when the vendor refuses.
pub async fn direct_token(
    emu: &Emulator,
    vendor: &str,
    client_id: &str,
    secret: &str,
    audience: &str,
) -> Result<String, u16> {
    let answer = token_request(emu, vendor, client_id, secret, audience).await;
    let status = answer.status().as_u16();
    if status != 200 {
        return Err(status);
    }
    let body: serde_json::Value = answer.json().await.expect("token answer");
    Ok(body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned())
}

async fn token_request(
    emu: &Emulator,
    vendor: &str,
    client_id: &str,
    secret: &str,
    audience: &str,
) -> reqwest::Response {
    let urls = &emu.urls;
    let http = reqwest::Client::new();
    let request = match vendor {
        "auth0" => http.post(urls.auth0_token()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("audience", audience),
        ]),
        "okta" => http
            .post(urls.okta_token())
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "read")]),
        "curity" => http
            .post(urls.curity_token())
            .basic_auth(client_id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "read")]),
        _ => http.post(urls.entra_v2_token()).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", &format!("{}/.default", urls.graph_resource())),
        ]),
    };
    request.send().await.expect("token request")
}

/// Registers `audience` as an API of the Auth0 tenant (grants can only name APIs).
pub async fn auth0_api(emu: &Emulator, audience: &str) {
    control(
        emu,
        "auth0/resource-servers",
        json!({"identifier": audience}),
    )
    .await;
}

/// The Okta API scopes dcr asks a service app's tokens for (every one its calls need).
pub const OKTA_DCR_SCOPES: &[&str] = &[
    "okta.clients.read",
    "okta.clients.register",
    "okta.clients.manage",
    "okta.apps.read",
    "okta.apps.manage",
];

/// An Okta service app made at the emulator, as an admin copies it from the Admin
/// Console: client id, private key (PKCS#8 PEM, as "Generate new key" gives it) and KID.
#[derive(Debug, Clone)]
pub struct OktaServiceApp {
    pub client_id: String,
    pub private_key_pem: String,
    pub kid: String,
}

/// `POST /__emulator/okta/service-apps` with `spec` (`scopes`, `dpop_required`,
/// `admin_roles`, `key_type`, ...; see the emulator's README).
pub async fn okta_service_app(emu: &Emulator, spec: Value) -> OktaServiceApp {
    let made = control(emu, "okta/service-apps", spec).await;
    let text = |name: &str| made[name].as_str().unwrap_or_default().to_owned();
    OktaServiceApp {
        client_id: text("client_id"),
        private_key_pem: text("private_key_pem"),
        kid: text("kid"),
    }
}

/// An Okta provider at the emulator that manages clients as `app` (no API token).
pub fn okta_service_app_provider(emu: &Emulator, name: &str, app: &OktaServiceApp) -> pb::Provider {
    pb::Provider {
        name: name.into(),
        issuer: emu.urls.okta_issuer(),
        active: true,
        config: Some(pb::provider::Config::Okta(pb::OktaConfig {
            management_client_id: app.client_id.clone(),
            management_private_key: app.private_key_pem.clone(),
            management_key_id: app.kid.clone(),
            ..Default::default()
        })),
        ..Default::default()
    }
}
