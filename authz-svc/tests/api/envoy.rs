//! Through a real Envoy 1.40 (tests/peers/envoy): dcr as its ext_authz server.

use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::authz_stack;
use dcr_testkit::envoy::{self, Envoy};
use dcr_testkit::registry::{GATEWAY_TOKEN, captured_logs};

const AUDIENCE: &str = "https://api.example.com";

/// Envoy with route `/` for `product`, `/other` for `second`, and `/scoped` for
/// `product` requiring `scopes`.
async fn envoy(authz: std::net::SocketAddr, product: &str, second: &str, scopes: &str) -> Envoy {
    let authz = authz.to_string();
    envoy::start(&[
        "--authz",
        &authz,
        "--authz-token",
        GATEWAY_TOKEN,
        "--product-id",
        product,
        "--second-route-product",
        second,
        "--scoped-route-scopes",
        scopes,
    ])
    .await
}

#[tokio::test]
async fn envoy_allows_denies_keeps_sessions_and_fails_closed() {
    let s = authz_stack(&[]).await;
    let (app_id, client_id, secret) = s.registered_app("dev-1", "behind-envoy").await;
    // A second product whose strategy keeps sessions, on route /other.
    let (web_strategy_id, web) = s
        .product_with("web", crate::session::session_strategy())
        .await;
    let (web_application, web_secret, _) = s
        .app_registered_for("dev-1", &web_strategy_id, &web, "web-app")
        .await;

    let proxy = envoy(s.addr, &s.base.product_id, &web, "read write").await;
    let http = reqwest::Client::new();

    // No credentials: 401 with a challenge and a JSON body, straight from authz-svc.
    let response = http
        .get(format!("{}/orders", proxy.base))
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer realm=\"dcr\"")
    );
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["error"], "missing_credentials");

    // A valid token: through, with dcr's headers upstream (a forged one replaced).
    let token = s.idp_token(&client_id, &secret, AUDIENCE).await;
    let response = http
        .get(format!("{}/orders", proxy.base))
        .bearer_auth(&token)
        .header("x-dcr-application-id", "forged")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let upstream: serde_json::Value = response.json().await.expect("upstream echo");
    assert_eq!(upstream["headers"]["x-dcr-application-id"], app_id.as_str());
    assert_eq!(upstream["headers"]["x-dcr-client-id"], client_id.as_str());
    assert!(
        upstream["headers"]["x-dcr-scopes"]
            .as_str()
            .unwrap()
            .contains("read")
    );

    // A route that names scopes the token lacks ("write"): 403 insufficient_scope,
    // saying which scopes the call needs (RFC 6750 section 3).
    let response = http
        .get(format!("{}/scoped/orders", proxy.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 403);
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .expect("challenge")
        .to_owned();
    assert!(
        challenge.contains("error=\"insufficient_scope\"")
            && challenge.contains("scope=\"read write\""),
        "{challenge}"
    );
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["error"], "insufficient_scope");

    // A token for the wrong product's app: 403 not_registered.
    let web_token = s
        .idp_token(&web_application.client_id, &web_secret, AUDIENCE)
        .await;
    let response = http
        .get(format!("{}/orders", proxy.base))
        .bearer_auth(&web_token)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 403);

    // Session round trip on /other: the cookie from the first answer suffices afterwards.
    let response = http
        .get(format!("{}/other/page", proxy.base))
        .bearer_auth(&web_token)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("set-cookie")
        .to_owned();
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let response = http
        .get(format!("{}/other/page", proxy.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("get");
    assert_eq!(
        response.status(),
        200,
        "the session cookie alone is accepted"
    );
    let upstream: serde_json::Value = response.json().await.expect("echo");
    assert_eq!(
        upstream["headers"]["x-dcr-application-id"],
        web_application.id.as_str()
    );

    // authz-svc stops: Envoy denies (fail closed).
    s.stop().await;
    let response = http
        .get(format!("{}/orders", proxy.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 403);
}

/// Routes written before the product exists name it (`dcr_product`); the checked HTTP
/// request's `x-request-id` is the Check's request id, on to the registry's lookups.
#[tokio::test]
async fn envoy_routes_name_their_product_and_pass_the_http_request_id_on() {
    let s = authz_stack(&[]).await;
    let strategy = reg::AuthStrategy {
        auth_methods: vec![reg::AuthMethod::Bearer as i32],
        auto_approve: true,
        ..Default::default()
    };
    let (strategy_id, named) = s.product_with("orders-api", strategy).await;
    let (application, secret, _) = s
        .app_registered_for("dev-1", &strategy_id, &named, "by-name")
        .await;
    // `/` names the product only by name; `/other` by that name and another product's id.
    let authz = s.addr.to_string();
    let proxy = envoy::start(&[
        "--authz",
        &authz,
        "--authz-token",
        GATEWAY_TOKEN,
        "--product-name",
        "orders-api",
        "--second-route-product",
        &s.base.product_id,
        "--second-route-name",
        "orders-api",
    ])
    .await;
    let http = reqwest::Client::new();
    let token = s.idp_token(&application.client_id, &secret, AUDIENCE).await;

    let response = http
        .get(format!("{}/orders", proxy.base))
        .bearer_auth(&token)
        .header("x-request-id", "envoy-req-4711")
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 200);
    let upstream: serde_json::Value = response.json().await.expect("upstream echo");
    assert_eq!(
        upstream["headers"]["x-dcr-application-id"],
        application.id.as_str()
    );
    let logs = captured_logs();
    assert!(
        logs.lines().any(|l| l.contains("request_id=envoy-req-4711")
            && l.contains("/dcr.registry.v1.DirectoryService/ResolveProduct")),
        "the registry's lookups ran under the HTTP request's id"
    );

    // A name and an id that disagree: denied, saying so.
    let response = http
        .get(format!("{}/other/x", proxy.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.expect("json body");
    assert_eq!(body["error"], "product_mismatch");
}

#[tokio::test]
async fn the_documented_envoy_configs_are_valid() {
    for file in ["envoy.yaml", "envoy-fast.yaml"] {
        documented_config_is_valid(file).await;
    }
}

async fn documented_config_is_valid(file: &str) {
    let binary = std::env::var("DCR_TEST_ENVOY")
        .expect("DCR_TEST_ENVOY is not set: run scripts/test, which installs Envoy");
    let documented = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(file);
    // Validation opens the certificate files: the documented folder, here a test CA's.
    let certs = dcr_testkit::tls::TestCerts::new();
    let text = std::fs::read_to_string(documented).expect("read the documented config");
    assert!(text.contains("/etc/dcr/certs/ca.pem"), "{file} uses TLS");
    let config = certs.dir.join("envoy.yaml");
    std::fs::write(
        &config,
        text.replace("/etc/dcr/certs", &certs.dir.display().to_string()),
    )
    .expect("write the config");
    let output = tokio::process::Command::new(binary)
        .args(["--mode", "validate", "--use-dynamic-base-id", "-c"])
        .arg(&config)
        .output()
        .await
        .expect("run envoy");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("OK"),
        "{file}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
