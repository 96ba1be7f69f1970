//! Okta service apps: client assertions (`private_key_jwt`) at the org authorization
//! server, checked as strictly as Okta documents them, and the management APIs taking
//! their Bearer tokens scope by scope (SSWS keeps working).

use dcr_idp_emulator::OKTA_API_TOKEN;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestEmu, body, spawn, verify};

const ALL: &str =
    "okta.clients.read okta.clients.register okta.clients.manage okta.apps.read okta.apps.manage";

struct App {
    id: String,
    pem: String,
    kid: String,
}

async fn service_app(t: &TestEmu, spec: Value) -> App {
    let made = t
        .control(Method::POST, "/__emulator/okta/service-apps", spec)
        .await;
    App {
        id: made["client_id"].as_str().unwrap().into(),
        pem: made["private_key_pem"].as_str().unwrap().into(),
        kid: made["kid"].as_str().unwrap().into(),
    }
}

/// A client assertion for `app`, with `claims` changed as given (null drops one).
fn assertion(t: &TestEmu, app: &App, alg: Algorithm, kid: Option<&str>, changes: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "iss": app.id, "sub": app.id, "aud": t.emu.urls.okta_org_token(),
        "iat": now, "exp": now + 300, "jti": uuid::Uuid::new_v4().to_string(),
    });
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    let key = match alg {
        Algorithm::ES256 => EncodingKey::from_ec_pem(app.pem.as_bytes()).unwrap(),
        _ => EncodingKey::from_rsa_pem(app.pem.as_bytes()).unwrap(),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

async fn token_with(t: &TestEmu, jwt: &str, scope: &str) -> (StatusCode, Value) {
    t.form_token(
        &t.emu.urls.okta_org_token(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", scope),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", jwt),
        ],
    )
    .await
}

async fn call(
    t: &TestEmu,
    authorization: &str,
    method: Method,
    url: &str,
) -> (StatusCode, Value, Option<String>) {
    let resp = t
        .http
        .request(method, url)
        .header("authorization", authorization)
        .send()
        .await
        .unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, b) = body(resp).await;
    (status, b, challenge)
}

#[tokio::test]
async fn a_service_app_gets_the_scopes_it_is_granted_and_each_endpoint_checks_its_own() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    let app = service_app(
        &t,
        json!({"scopes": ["okta.clients.read", "okta.clients.register", "okta.apps.read"]}),
    )
    .await;
    let jwt = assertion(&t, &app, Algorithm::RS256, Some(&app.kid), json!({}));
    let (status, got) = token_with(&t, &jwt, ALL).await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["token_type"], "Bearer");
    assert_eq!(got["expires_in"], 3600);
    assert_eq!(
        got["scope"],
        "okta.clients.read okta.clients.register okta.apps.read"
    );
    let token = got["access_token"].as_str().unwrap();
    let (claims, _) = verify(
        &t.http,
        &urls.okta_jwks(),
        token,
        &urls.okta_org(),
        &urls.okta_org(),
    )
    .await;
    assert_eq!(claims["cid"], app.id.as_str());
    let bearer = format!("Bearer {token}");

    let (status, _, _) = call(&t, &bearer, Method::GET, &urls.okta_clients()).await;
    assert_eq!(status, StatusCode::OK);
    let created = t
        .http
        .post(urls.okta_clients())
        .header("authorization", &bearer)
        .json(&json!({"client_name": "svc", "application_type": "service"}))
        .send()
        .await
        .unwrap();
    let (status, client) = body(created).await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let client_id = client["client_id"].as_str().unwrap();
    let (status, _, _) = call(&t, &bearer, Method::GET, &urls.okta_secrets(client_id)).await;
    assert_eq!(status, StatusCode::OK);

    // newSecret needs okta.clients.manage, adding a secret okta.apps.manage.
    let new_secret = format!("{}/{client_id}/lifecycle/newSecret", urls.okta_clients());
    for (url, scope) in [
        (new_secret.as_str(), "okta.clients.manage"),
        (urls.okta_secrets(client_id).as_str(), "okta.apps.manage"),
    ] {
        let (status, error, challenge) = call(&t, &bearer, Method::POST, url).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(error["errorCode"], "E0000006");
        let challenge = challenge.expect("a challenge");
        assert!(
            challenge.contains(r#"error="insufficient_scope""#),
            "{challenge}"
        );
        assert!(
            challenge.contains(&format!(r#"scope="{scope}""#)),
            "{challenge}"
        );
    }

    // SSWS keeps working, and the state shows the calls the app's tokens made.
    let (status, _, _) = call(
        &t,
        &format!("SSWS {OKTA_API_TOKEN}"),
        Method::POST,
        &new_secret,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let state = t.control(Method::GET, "/__emulator/state", json!({})).await;
    let apps = &state["okta"]["service_apps"];
    assert_eq!(apps[0]["client_id"], app.id.as_str());
    assert_eq!(apps[0]["bearer_calls"], 3);
}

#[tokio::test]
async fn client_assertions_are_checked_as_okta_documents() {
    let t = spawn().await;
    let app = service_app(&t, json!({"scopes": ["okta.clients.read"]})).await;
    let other = service_app(&t, json!({"scopes": ["okta.clients.read"]})).await;
    let refused = |description: &'static str| {
        move |(status, error): (StatusCode, Value)| {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
            assert_eq!(error["error"], "invalid_client");
            let got = error["error_description"].as_str().unwrap().to_owned();
            assert!(got.contains(description), "{got}");
        }
    };
    let scope = "okta.clients.read";
    let kid = Some(app.kid.as_str());
    let wrong_key = App {
        id: app.id.clone(),
        pem: other.pem.clone(),
        kid: app.kid.clone(),
    };
    let jwt = assertion(&t, &wrong_key, Algorithm::RS256, kid, json!({}));
    refused("The client_assertion signature is invalid.")(token_with(&t, &jwt, scope).await);
    let jwt = assertion(&t, &app, Algorithm::RS256, None, json!({}));
    refused("The client_assertion JWT kid is invalid.")(token_with(&t, &jwt, scope).await);
    let jwt = assertion(&t, &app, Algorithm::RS256, Some("other"), json!({}));
    refused("The client_assertion JWT kid is invalid.")(token_with(&t, &jwt, scope).await);
    let jwt = assertion(
        &t,
        &app,
        Algorithm::RS256,
        kid,
        json!({"aud": t.emu.urls.okta_token()}),
    );
    refused("must be the endpoint invoked")(token_with(&t, &jwt, scope).await);
    let now = chrono::Utc::now().timestamp();
    let jwt = assertion(&t, &app, Algorithm::RS256, kid, json!({"exp": now - 5}));
    refused("expired")(token_with(&t, &jwt, scope).await);
    let jwt = assertion(&t, &app, Algorithm::RS256, kid, json!({"exp": now + 7200}));
    refused("too far in the future")(token_with(&t, &jwt, scope).await);
    let jwt = assertion(&t, &app, Algorithm::RS256, kid, json!({"sub": "someone"}));
    refused("'iss' and 'sub'")(token_with(&t, &jwt, scope).await);
    let jwt = assertion(
        &t,
        &app,
        Algorithm::RS256,
        kid,
        json!({"iss": "0oaNobody", "sub": "0oaNobody"}),
    );
    refused("Invalid value for 'client_id' parameter.")(token_with(&t, &jwt, scope).await);

    // A good one works once: its jti is spent.
    let jwt = assertion(&t, &app, Algorithm::RS256, kid, json!({}));
    assert_eq!(token_with(&t, &jwt, scope).await.0, StatusCode::OK);
    refused("already been used")(token_with(&t, &jwt, scope).await);

    // A secret is not how service apps authenticate here.
    let (status, error) = t
        .form_token(
            &t.emu.urls.okta_org_token(),
            &[
                ("grant_type", "client_credentials"),
                ("scope", scope),
                ("client_id", &app.id),
                ("client_secret", "x"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        error["error_description"]
            .as_str()
            .unwrap()
            .contains("private_key_jwt")
    );
}

#[tokio::test]
async fn scopes_dpop_roles_and_other_tokens() {
    let t = spawn().await;
    let urls = t.emu.urls.clone();
    // An EC P-256 key signs ES256.
    let ec = service_app(&t, json!({"key_type": "EC", "scopes": ["okta.apps.read"]})).await;
    let jwt = assertion(&t, &ec, Algorithm::ES256, Some(&ec.kid), json!({}));
    let (status, got) = token_with(&t, &jwt, "okta.clients.read").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "none asked for is granted");
    assert_eq!(got["error"], "invalid_scope");
    let jwt = assertion(&t, &ec, Algorithm::ES256, Some(&ec.kid), json!({}));
    let (status, got) = token_with(&t, &jwt, "okta.users.read").await;
    assert_eq!(
        (status, got["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_scope"))
    );
    let jwt = assertion(&t, &ec, Algorithm::ES256, Some(&ec.kid), json!({}));
    let (status, got) = token_with(&t, &jwt, "okta.apps.read").await;
    assert_eq!(status, StatusCode::OK, "{got}");

    // "Require DPoP" on: a token request without a DPoP proof is refused.
    let dpop = service_app(
        &t,
        json!({"scopes": ["okta.clients.read"], "dpop_required": true}),
    )
    .await;
    let jwt = assertion(&t, &dpop, Algorithm::RS256, Some(&dpop.kid), json!({}));
    let (status, got) = token_with(&t, &jwt, "okta.clients.read").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(got["error"], "invalid_dpop_proof");
    assert_eq!(
        got["error_description"],
        "The DPoP proof JWT header is missing."
    );

    // Scopes without an admin role: 403 E0000006, no scope challenge.
    let roleless = service_app(
        &t,
        json!({"scopes": ["okta.clients.read"], "admin_roles": []}),
    )
    .await;
    let jwt = assertion(
        &t,
        &roleless,
        Algorithm::RS256,
        Some(&roleless.kid),
        json!({}),
    );
    let (_, got) = token_with(&t, &jwt, "okta.clients.read").await;
    let bearer = format!("Bearer {}", got["access_token"].as_str().unwrap());
    let (status, error, challenge) = call(&t, &bearer, Method::GET, &urls.okta_clients()).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (StatusCode::FORBIDDEN, Some("E0000006"))
    );
    assert!(challenge.is_none());

    // A token of the `default` custom authorization server is no management token.
    let seeded = t
        .control(
            Method::POST,
            "/__emulator/clients",
            json!({"vendor": "okta"}),
        )
        .await;
    let custom = t
        .http
        .post(urls.okta_token())
        .basic_auth(
            seeded["client_id"].as_str().unwrap(),
            seeded["client_secret"].as_str(),
        )
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "okta.clients.read"),
        ])
        .send()
        .await
        .unwrap();
    let (_, custom) = body(custom).await;
    let bearer = format!("Bearer {}", custom["access_token"].as_str().unwrap());
    let (status, error, challenge) = call(&t, &bearer, Method::GET, &urls.okta_clients()).await;
    assert_eq!(
        (status, error["errorCode"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("E0000011"))
    );
    assert!(challenge.unwrap().contains(r#"error="invalid_token""#));
}
