//! The portal against another identity provider: node oidc-provider (a certified OpenID
//! provider) with its own login interaction, the portal as its confidential web client
//! (client_secret_basic), and registry-svc trusting its tokens.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::people::{WebClient, oidc_provider_with_web_client};
use dcr_testkit::registry::spawn_app_with;
use portal_svc::PortalConfig;
use registry_svc::domain::validate::UrlPolicy;
use registry_svc::identity::IdentityConfig;
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::Browser;

const AUDIENCE: &str = "https://registry.dcr.test";
const SECRET: &str = "portal-secret-at-oidc-provider-0123";

/// The portal, signing people in at a node oidc-provider with two people: olga (a
/// developer) and oscar (an approver).
struct AtPeer {
    portal: String,
    peer: dcr_testkit::peers::Peer,
    registry: dcr_testkit::registry::TestApp,
}

async fn at_peer() -> AtPeer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let portal = format!("http://{}", listener.local_addr().unwrap());
    let client = WebClient::new("dcr-portal", SECRET, &format!("{portal}/auth/callback"));
    let peer = oidc_provider_with_web_client(
        json!([
            {"sub": "olga", "password": "olga-password", "groups": [], "name": "Olga Developer",
             "email": "olga@example.com"},
            {"sub": "oscar", "password": "oscar-password", "groups": ["dcr-approvers"]},
        ]),
        &client,
    )
    .await;
    let policy = UrlPolicy {
        allow_http_loopback: true,
        allow_http_hosts: &[],
    };
    let identity = IdentityConfig::with_defaults(peer.base_url.clone(), AUDIENCE.into(), policy)
        .expect("identity settings");
    let registry = spawn_app_with(|config| config.identity = Some(identity)).await;
    let config = PortalConfig {
        listen: listener.local_addr().unwrap(),
        registry_url: registry.url.clone(),
        public_url: format!("{portal}/").parse().unwrap(),
        issuer: peer.base_url.clone(),
        audience: AUDIENCE.into(),
        client_id: client.client_id.clone(),
        client_secret: Some(SecretString::from(SECRET)),
        scope: "openid profile email groups".into(),
        session_key: [3; 32],
        session_idle: portal_svc::config::defaults::SESSION_IDLE,
        session_max: portal_svc::config::defaults::SESSION_MAX,
        token_endpoint: None,
        url_policy: policy,
        sign_in_rate: dcr_common::rate_limit::Rate::per_second(
            portal_svc::config::defaults::SIGN_IN_RATE,
        ),
        limits: dcr_common::server::ServerLimits::default(),
        tls: None,
        client_tls: Default::default(),
    };
    let app = portal_svc::build(config).unwrap();
    tokio::spawn(portal_svc::serve(app, listener, std::future::pending()));

    AtPeer {
        portal,
        peer,
        registry,
    }
}

#[tokio::test]
async fn people_sign_in_at_node_oidc_provider_and_work_as_themselves() {
    let AtPeer {
        portal,
        peer,
        registry,
    } = at_peer().await;
    let mut olga = Browser::for_portal(&portal);
    let landed = olga.sign_in("olga").await;
    assert_eq!(
        landed.status,
        StatusCode::OK,
        "{}: {}",
        landed.url,
        landed.body
    );
    assert!(landed.url.ends_with("/apps"), "{}", landed.url);
    assert!(landed.body.contains("Olga Developer"), "{}", landed.body);
    assert!(!landed.body.contains("href=\"/admin\""));
    // The registry sees her as herself: her developer id is her subject.
    let whoami = registry
        .clients
        .portal("olga")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(whoami.applications.is_empty());

    let mut oscar = Browser::for_portal(&portal);
    let landed = oscar.sign_in("oscar").await;
    assert!(
        landed.body.contains("href=\"/admin\""),
        "an approver by the peer's groups claim"
    );
    assert_eq!(
        oscar.get("/admin/registrations").await.status,
        StatusCode::OK
    );

    // Signing out revokes at the peer too, and the session is gone.
    let csrf = olga.csrf("/apps").await;
    olga.post("/logout", &[("csrf", &csrf)]).await;
    let page = olga.get("/apps").await;
    assert!(
        page.url.starts_with(&peer.base_url),
        "sent to sign in: {}",
        page.url
    );
}

/// The same in real Chromium: oidc-provider's own login page, then the portal.
#[tokio::test]
async fn in_a_browser_at_node_oidc_provider() {
    let s = at_peer().await;
    let browser = dcr_testkit::browser::Browser::start().await;
    browser.goto(&format!("{}/", s.portal)).await;
    browser.click("a.button[href='/login']").await;
    browser.wait_for("input[name=login]").await;
    assert!(browser.url().await.as_str().starts_with(&s.peer.base_url));
    browser.fill("input[name=login]", "olga").await;
    browser.fill("input[name=password]", "olga-password").await;
    browser.click("button[type=submit]").await;
    browser.wait_for_url(&format!("{}/apps", s.portal)).await;
    assert!(browser.text("header.top").await.contains("Olga Developer"));
    browser.close().await;
}
