//! dcr's Envoy fast path, through a real Envoy 1.40 (tests/peers/envoy, `--mode fast`):
//! authz-svc serves Envoy's jwt_authn and RBAC configs over ECDS, so a bearer JWT dcr
//! would allow passes inside Envoy; everything else still goes to ext_authz. Envoy's
//! own counters tell which path answered.

use std::time::{Duration, Instant};

use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::{AuthzStack, authz_stack};
use dcr_testkit::envoy::{self, Envoy};
use dcr_testkit::peers;
use dcr_testkit::registry::GATEWAY_TOKEN;

use crate::client_credentials::basic;

const AUDIENCE: &str = "https://api.example.com";
/// The fast path's verdicts, and the calls Envoy made to ext_authz.
const FAST_ALLOWED: &str = "http.ingress.rbac.dcr_fast_.shadow_allowed";
const EXT_AUTHZ_OK: &str = "http.ingress.ext_authz.ok";
const EXT_AUTHZ_DENIED: &str = "http.ingress.ext_authz.denied";
/// How many times Envoy took a new `dcr.fast` from authz-svc.
const FAST_RELOADS: &str = "extension_config_discovery.http_filter.dcr.fast.config_reload";

async fn fast_envoy(s: &AuthzStack, extra: &[&str]) -> Envoy {
    let authz = s.addr.to_string();
    let mut args = vec![
        "--mode",
        "fast",
        "--authz",
        &authz,
        "--authz-token",
        GATEWAY_TOKEN,
        "--product-id",
        &s.base.product_id,
    ];
    args.extend_from_slice(extra);
    envoy::start(&args).await
}

/// A token from the stack's IdP with exactly `scope` (none when empty).
async fn token_with_scope(s: &AuthzStack, client_id: &str, secret: &str, scope: &str) -> String {
    token_for(s, client_id, secret, scope, AUDIENCE).await
}

/// `token_with_scope`'s token as an `Authorization` header value.
async fn bearer_with_scope(s: &AuthzStack, client_id: &str, secret: &str, scope: &str) -> String {
    format!(
        "Bearer {}",
        token_with_scope(s, client_id, secret, scope).await
    )
}

/// A token from the stack's IdP for `resource` (its audience) with exactly `scope`.
async fn token_for(
    s: &AuthzStack,
    client_id: &str,
    secret: &str,
    scope: &str,
    resource: &str,
) -> String {
    let mut form = vec![("grant_type", "client_credentials"), ("resource", resource)];
    if !scope.is_empty() {
        form.push(("scope", scope));
    }
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", s.base.idp.base_url))
        .basic_auth(client_id, Some(secret))
        .form(&form)
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    body["access_token"].as_str().expect("a token").to_owned()
}

/// One call through Envoy: its status, which path answered it, and its body.
struct Answer {
    status: u16,
    fast: bool,
    ext_authz: bool,
    body: serde_json::Value,
}

async fn call(proxy: &Envoy, path: &str, authorization: Option<&str>) -> Answer {
    let before = (
        proxy.counter(FAST_ALLOWED).await,
        proxy.counter(EXT_AUTHZ_OK).await + proxy.counter(EXT_AUTHZ_DENIED).await,
    );
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", proxy.base))
        .header("x-dcr-application-id", "forged-by-the-client");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.expect("call through envoy");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(serde_json::Value::Null);
    let after = (
        proxy.counter(FAST_ALLOWED).await,
        proxy.counter(EXT_AUTHZ_OK).await + proxy.counter(EXT_AUTHZ_DENIED).await,
    );
    Answer {
        status,
        fast: after.0 > before.0,
        ext_authz: after.1 > before.1,
        body,
    }
}

/// The first answer the fast path gave: a token issued in the current second goes to
/// ext_authz first, so a fresh one takes the fast path within about a second.
async fn once_fast(proxy: &Envoy, path: &str, authorization: &str) -> Answer {
    let start = Instant::now();
    loop {
        let answer = call(proxy, path, Some(authorization)).await;
        if answer.fast || start.elapsed() > Duration::from_secs(3) {
            return answer;
        }
    }
}

/// How long until `authorization` is no longer let through (polling; at most 10 s).
async fn refused_after(proxy: &Envoy, authorization: &str) -> Duration {
    let start = Instant::now();
    let client = reqwest::Client::new();
    loop {
        let status = client
            .get(format!("{}/orders", proxy.base))
            .header("authorization", authorization)
            .send()
            .await
            .expect("call")
            .status();
        if status != 200 || start.elapsed() > Duration::from_secs(10) {
            return start.elapsed();
        }
    }
}

#[tokio::test]
async fn the_fast_path_allows_what_dcr_allows_and_leaves_the_rest_to_ext_authz() {
    let s = authz_stack(&[]).await;
    let (_app, client_id, secret) = s.registered_app("dev-1", "fast").await;
    // A second product on a strategy that waits for approval; its app is PENDING.
    let gated = reg::AuthStrategy {
        auth_methods: vec![reg::AuthMethod::Bearer as i32],
        auto_approve: false,
        ..Default::default()
    };
    let (gated_strategy, gated_product) = s.product_with("gated", gated).await;
    let (pending_app, pending_secret, _) = s
        .app_registered_for("dev-2", &gated_strategy, &gated_product, "waiting")
        .await;
    let proxy = fast_envoy(
        &s,
        &[
            "--second-route-product",
            &gated_product,
            "--scoped-route-scopes",
            "read",
        ],
    )
    .await;

    // An approved app's token: allowed inside Envoy, ext_authz never asked; upstream
    // sees the client and its scopes, and not the header the client forged.
    let read = bearer_with_scope(&s, &client_id, &secret, "read").await;
    let answer = call(&proxy, "/orders", Some(&read)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let answer = once_fast(&proxy, "/orders", &read).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert!(
        answer.fast && !answer.ext_authz,
        "allowed by the fast path alone"
    );
    let upstream = &answer.body["headers"];
    assert_eq!(upstream["x-dcr-client-id"], client_id.as_str());
    assert_eq!(upstream["x-dcr-scopes"], "read");
    assert!(upstream.get("x-dcr-application-id").is_none(), "{upstream}");
    // A route requiring a scope the token holds: still fast.
    let answer = call(&proxy, "/scoped/x", Some(&read)).await;
    assert!(answer.status == 200 && answer.fast && !answer.ext_authz);

    // A token without the route's scope: ext_authz answers, as it always did.
    let unscoped = bearer_with_scope(&s, &client_id, &secret, "").await;
    let answer = call(&proxy, "/scoped/x", Some(&unscoped)).await;
    assert_eq!(answer.status, 403);
    assert!(!answer.fast && answer.ext_authz);
    assert_eq!(answer.body["error"], "insufficient_scope");

    // The same approved token on another product's route: not registered there.
    let answer = call(&proxy, "/other/x", Some(&read)).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (403, Some("not_registered"))
    );
    assert!(!answer.fast && answer.ext_authz);

    // A PENDING app: ext_authz says so.
    let pending = bearer_with_scope(&s, &pending_app.client_id, &pending_secret, "read").await;
    let answer = call(&proxy, "/other/x", Some(&pending)).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (403, Some("registration_pending"))
    );
    assert!(!answer.fast);

    // Another issuer's token: jwt_authn cannot verify it, ext_authz refuses it.
    let other_idp = peers::oidc_provider().await;
    let stranger: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/reg", other_idp.base_url))
        .bearer_auth(peers::INITIAL_ACCESS_TOKEN)
        .json(&serde_json::json!({"grant_types": ["client_credentials"], "response_types": [], "token_endpoint_auth_method": "client_secret_basic"}))
        .send().await.expect("register").json().await.expect("json");
    let foreign: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", other_idp.base_url))
        .basic_auth(
            stranger["client_id"].as_str().expect("id"),
            stranger["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials"), ("resource", AUDIENCE)])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let foreign = format!(
        "Bearer {}",
        foreign["access_token"].as_str().expect("token")
    );
    let answer = call(&proxy, "/orders", Some(&foreign)).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    assert!(!answer.fast && answer.ext_authz);

    // An audience that differs only by a trailing slash: Envoy's jwt_authn would take
    // it, dcr does not.
    let slash = format!(
        "Bearer {}",
        token_for(&s, &client_id, &secret, "read", &format!("{AUDIENCE}/")).await
    );
    let answer = call(&proxy, "/orders", Some(&slash)).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str(), answer.fast),
        (401, Some("invalid_token"), false),
        "{:?}",
        answer.body
    );

    // The approved token where dcr does not read one (the query, another scheme, twice):
    // never fast, and ext_authz says what it says without the fast path.
    let jwt = read.trim_start_matches("Bearer ");
    let answer = call(&proxy, &format!("/orders?access_token={jwt}"), None).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str(), answer.fast),
        (401, Some("missing_credentials"), false)
    );
    let answer = call(
        &proxy,
        &format!("/orders?access_token={jwt}"),
        Some("Basic bm90OmNoZWNrZWQ="),
    )
    .await;
    assert!(answer.status == 401 && !answer.fast, "{:?}", answer.body);
    let answer = call(&proxy, "/orders", Some(&format!("Token {read}"))).await;
    assert!(answer.status == 401 && !answer.fast, "{:?}", answer.body);
    let twice = reqwest::Client::new()
        .get(format!("{}/orders", proxy.base))
        .header("authorization", &read)
        .header("authorization", &read)
        .send()
        .await
        .expect("call");
    assert_ne!(twice.status(), 200, "two Authorization headers are refused");

    // No credentials, and Basic credentials: ext_authz, as before.
    let answer = call(&proxy, "/orders", None).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (401, Some("missing_credentials"))
    );
    let answer = call(&proxy, "/orders", Some(&basic(&client_id, &secret))).await;
    assert_eq!(answer.status, 200);
    assert!(!answer.fast && answer.ext_authz);
    assert_ne!(
        answer.body["headers"]["x-dcr-application-id"],
        "forged-by-the-client"
    );

    // A new Envoy gets the same config from the same authz-svc.
    drop(proxy);
    let proxy = fast_envoy(&s, &[]).await;
    let answer = call(&proxy, "/orders", Some(&read)).await;
    assert!(
        answer.status == 200 && answer.fast,
        "after an Envoy restart"
    );
}

#[tokio::test]
async fn revocation_rejection_and_deletion_reach_the_fast_path_within_a_second() {
    let s = authz_stack(&[]).await;
    let (app_id, client_id, secret) = s.registered_app("dev-1", "revoked").await;
    let proxy = fast_envoy(&s, &[]).await;
    let old = bearer_with_scope(&s, &client_id, &secret, "read").await;
    assert!(once_fast(&proxy, "/orders", &old).await.fast);

    // Rotation: the old secret's token is refused within a second; a token of the new
    // secret passes (by ext_authz while it shares the rotation's second, then fast).
    let mut portal = s.base.registry.portal("dev-1");
    let new_secret = portal
        .regenerate_secret(reg::RegenerateSecretRequest {
            application_id: app_id.clone(),
        })
        .await
        .expect("regenerate")
        .into_inner()
        .client_secret;
    let t = refused_after(&proxy, &old).await;
    assert!(
        t < Duration::from_secs(1),
        "the old token refused after {t:?}"
    );
    let answer = call(&proxy, "/orders", Some(&old)).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (401, Some("invalid_token"))
    );
    let new = bearer_with_scope(&s, &client_id, &new_secret, "read").await;
    assert_eq!(call(&proxy, "/orders", Some(&new)).await.status, 200);

    // Unregistration: refused within a second.
    let registrations = portal
        .list_registrations(reg::ListRegistrationsRequest {
            application_id: app_id.clone(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .registrations;
    portal
        .delete_registration(reg::DeleteRegistrationRequest {
            id: registrations[0].id.clone(),
        })
        .await
        .expect("unregister");
    let t = refused_after(&proxy, &new).await;
    assert!(
        t < Duration::from_secs(1),
        "unregistered, refused after {t:?}"
    );

    // Registered again, then the application deleted: refused within a second.
    portal
        .create_registration(reg::CreateRegistrationRequest {
            application_id: app_id.clone(),
            product_id: s.base.product_id.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register again");
    s.caught_up().await;
    // A token from the rotation's own second never takes the fast path (ext_authz
    // judges it); one issued in a later second does.
    let start = Instant::now();
    let new = loop {
        let token = bearer_with_scope(&s, &client_id, &new_secret, "read").await;
        if once_fast(&proxy, "/orders", &token).await.fast {
            break token;
        }
        assert!(
            start.elapsed() < Duration::from_secs(12),
            "registered again, fast again"
        );
    };
    portal
        .delete_application(reg::DeleteApplicationRequest {
            id: app_id,
            allow_missing: false,
        })
        .await
        .expect("delete");
    let t = refused_after(&proxy, &new).await;
    assert!(t < Duration::from_secs(1), "deleted, refused after {t:?}");
}

/// Envoy keeps its last config when authz-svc goes away; `dcr.route` expires (xDS TTL),
/// so the fast path allows nothing and every call goes to ext_authz, which is gone too:
/// refused, fail closed.
#[tokio::test]
async fn an_envoy_cut_off_from_authz_svc_stops_the_fast_path_within_its_ttl() {
    let s = authz_stack(&[]).await;
    let (_app, client_id, secret) = s.registered_app("dev-1", "cut-off").await;
    let proxy = fast_envoy(&s, &[]).await;
    let token = bearer_with_scope(&s, &client_id, &secret, "read").await;
    assert!(once_fast(&proxy, "/orders", &token).await.fast);
    s.stop().await;
    let t = refused_after(&proxy, &token).await;
    let ttl = authz_svc::xds::ROUTE_TTL;
    assert!(
        t > Duration::from_millis(100) && t < ttl + Duration::from_secs(2),
        "refused {t:?} after authz-svc stopped (TTL {ttl:?})"
    );
}

/// dcr's clock decides expiry, not Envoy's: once a token has expired by authz-svc's
/// clock (and its leeway), the fast path stops taking it within a second although
/// Envoy's own jwt_authn, on the real clock, still finds it valid; ext_authz refuses it.
#[tokio::test]
async fn a_token_expired_by_dcrs_clock_is_never_fast() {
    let s = authz_stack(&[]).await;
    let (_app, client_id, secret) = s.registered_app("dev-1", "expiring").await;
    let proxy = fast_envoy(&s, &[]).await;
    let token = bearer_with_scope(&s, &client_id, &secret, "read").await;
    assert!(once_fast(&proxy, "/orders", &token).await.fast);

    // The stack's IdP issues tokens for an hour; dcr's leeway is 30 s.
    s.clock.advance(chrono::Duration::seconds(3600 + 31));
    let t = refused_after(&proxy, &token).await;
    assert!(t < Duration::from_secs(2), "refused after {t:?}");
    let answer = call(&proxy, "/orders", Some(&token)).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (401, Some("invalid_token")),
        "{:?}",
        answer.body
    );
    assert!(!answer.fast && answer.ext_authz);
}

/// A product whose strategy keeps sessions is not on the fast path: its bearer calls
/// and its session cookies go to ext_authz, which mints and accepts the session as it
/// does without the fast path.
#[tokio::test]
async fn sessions_go_to_ext_authz_on_the_fast_envoy() {
    let s = authz_stack(&[]).await;
    let (web_strategy, web_product) = s
        .product_with("web", crate::session::session_strategy())
        .await;
    let (web_app, web_secret, _) = s
        .app_registered_for("dev-1", &web_strategy, &web_product, "web-app")
        .await;
    let proxy = fast_envoy(&s, &["--second-route-product", &web_product]).await;
    let token = bearer_with_scope(&s, &web_app.client_id, &web_secret, "read").await;

    let first = reqwest::Client::new()
        .get(format!("{}/other/page", proxy.base))
        .header("authorization", &token)
        .send()
        .await
        .expect("call");
    assert_eq!(first.status(), 200);
    let cookie = first.headers()["set-cookie"]
        .to_str()
        .expect("set-cookie")
        .split(';')
        .next()
        .expect("cookie")
        .to_owned();
    // Later bearer calls: ext_authz each time, never the fast path.
    let answer = once_fast(&proxy, "/other/page", &token).await;
    assert!(answer.status == 200 && !answer.fast && answer.ext_authz);

    let before = proxy.counter(EXT_AUTHZ_OK).await;
    let by_cookie = reqwest::Client::new()
        .get(format!("{}/other/page", proxy.base))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("call");
    assert_eq!(by_cookie.status(), 200, "the session cookie alone");
    let upstream: serde_json::Value = by_cookie.json().await.expect("echo");
    assert_eq!(
        upstream["headers"]["x-dcr-application-id"],
        web_app.id.as_str()
    );
    assert_eq!(proxy.counter(EXT_AUTHZ_OK).await, before + 1);
    assert_eq!(proxy.counter(FAST_ALLOWED).await, 0, "nothing was fast");
}

/// Envoy reconnects to a restarted authz-svc by itself and gets a config built from
/// scratch: what changed while authz-svc was down is in it.
#[tokio::test]
async fn envoy_reconnects_to_a_restarted_authz_svc_and_gets_what_changed_meanwhile() {
    let mut s = authz_stack(&[]).await;
    let (_kept, kept_client, kept_secret) = s.registered_app("dev-1", "kept").await;
    let (gone_app, gone_client, gone_secret) = s.registered_app("dev-2", "gone").await;
    let proxy = fast_envoy(&s, &[]).await;
    let kept = bearer_with_scope(&s, &kept_client, &kept_secret, "read").await;
    let gone = bearer_with_scope(&s, &gone_client, &gone_secret, "read").await;
    assert!(once_fast(&proxy, "/orders", &kept).await.fast);
    assert!(once_fast(&proxy, "/orders", &gone).await.fast);

    let reloads = proxy.counter(FAST_RELOADS).await;
    let registry = s.base.registry.portal("dev-2");
    s.restart(async {
        let mut registry = registry;
        registry
            .delete_application(reg::DeleteApplicationRequest {
                id: gone_app,
                allow_missing: false,
            })
            .await
            .expect("delete while authz-svc is down");
    })
    .await;

    // Envoy keeps its config while authz-svc is away (dcr.route for at most its TTL),
    // then reconnects with its retry back-off and takes the new authz-svc's.
    let start = Instant::now();
    while proxy.counter(FAST_RELOADS).await == reloads {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "Envoy took no config from the restarted authz-svc"
        );
        tokio::task::yield_now().await;
    }
    let start = Instant::now();
    while !call(&proxy, "/orders", Some(&kept)).await.fast {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "fast again after the restart"
        );
    }
    // The deleted application's client is unknown to dcr now.
    let answer = call(&proxy, "/orders", Some(&gone)).await;
    assert_eq!(
        (answer.status, answer.body["error"].as_str()),
        (403, Some("not_registered")),
        "{:?}",
        answer.body
    );
    assert!(!answer.fast && answer.ext_authz);
}
