//! Bearer JWTs: from the IdP directly and through token-svc; every way a token can be
//! wrong gets the right reason.

use base64::Engine as _;
use dcr_proto::authz::v1 as pb;
use dcr_proto::registry::v1 as reg;
use dcr_proto::token::v1 as tok;
use dcr_testkit::authz::{AuthzStack, authz_stack};
use dcr_testkit::peers;

const AUDIENCE: &str = "https://api.example.com";

fn denied(r: &pb::CheckResponse, status: i32, reason: &str) {
    assert_eq!(r.decision, pb::Decision::Deny as i32, "{r:?}");
    assert_eq!(
        (r.http_status, r.reason.as_str()),
        (status, reason),
        "{r:?}"
    );
    assert!(
        !r.www_authenticate.is_empty() || status == 503,
        "a challenge comes with every 401/403: {r:?}"
    );
    assert!(r.principal.is_none());
}

#[tokio::test]
async fn tokens_from_the_idp_and_from_token_svc_are_allowed_and_bad_ones_denied() {
    let s = authz_stack(&[]).await;
    let product = s.base.product_id.clone();
    let (app_id, client_id, secret) = s.registered_app("dev-1", "shop").await;

    let direct = s.idp_token(&client_id, &secret, AUDIENCE).await;
    let allowed = s
        .check(
            &product,
            &[("authorization", &format!("Bearer {direct}"))],
            &["read"],
        )
        .await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");
    let principal = allowed.principal.expect("principal");
    assert_eq!(
        (
            principal.application_id.as_str(),
            principal.client_id.as_str()
        ),
        (app_id.as_str(), client_id.as_str())
    );
    assert_eq!(principal.developer_id, "dev-1");
    assert!(principal.scopes.contains(&"read".to_owned()));
    assert_eq!(principal.credential_type, pb::CredentialType::Bearer as i32);

    let brokered = s
        .base
        .tokens()
        .issue_token(tok::IssueTokenRequest {
            client_id: client_id.clone(),
            client_secret: secret.clone(),
            scopes: vec!["read".into()],
            audience: AUDIENCE.into(),
        })
        .await
        .expect("token-svc")
        .into_inner()
        .access_token;
    let allowed = s
        .check(
            &product,
            &[("authorization", &format!("Bearer {brokered}"))],
            &[],
        )
        .await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");

    // Wrong audience.
    let other_aud = s
        .idp_token(&client_id, &secret, "https://other.example.com")
        .await;
    denied(
        &s.check(
            &product,
            &[("authorization", &format!("Bearer {other_aud}"))],
            &[],
        )
        .await,
        401,
        "invalid_token",
    );
    // Tampered: one character of the signature changed.
    let mut tampered = direct.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    denied(
        &s.check(
            &product,
            &[("authorization", &format!("Bearer {tampered}"))],
            &[],
        )
        .await,
        401,
        "invalid_token",
    );
    // Another issuer: a second IdP's token for a client of the same id shape.
    let other_idp = peers::oidc_provider().await;
    let stranger: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/reg", other_idp.base_url))
        .bearer_auth(peers::INITIAL_ACCESS_TOKEN)
        .json(&serde_json::json!({"grant_types": ["client_credentials"], "response_types": [], "token_endpoint_auth_method": "client_secret_basic"}))
        .send().await.unwrap().json().await.unwrap();
    let foreign: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/token", other_idp.base_url))
        .basic_auth(
            stranger["client_id"].as_str().unwrap(),
            stranger["client_secret"].as_str(),
        )
        .form(&[("grant_type", "client_credentials"), ("resource", AUDIENCE)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let foreign = foreign["access_token"].as_str().unwrap();
    denied(
        &s.check(
            &product,
            &[("authorization", &format!("Bearer {foreign}"))],
            &[],
        )
        .await,
        401,
        "invalid_token",
    );
    // alg swapped to HS256, "signed" with a guessable key: the RSA key never verifies HMAC.
    let header: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(direct.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(direct.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = header["kid"].as_str().map(str::to_owned);
    let forged = jsonwebtoken::encode(
        &hs,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"public-key-bytes"),
    )
    .unwrap();
    let r = s
        .check(
            &product,
            &[("authorization", &format!("Bearer {forged}"))],
            &[],
        )
        .await;
    denied(&r, 401, "invalid_token");
    assert!(r.www_authenticate.contains("algorithm"), "{r:?}");
    // alg none.
    let none = format!(
        "{}.{}.",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        direct.split('.').nth(1).unwrap()
    );
    denied(
        &s.check(
            &product,
            &[("authorization", &format!("Bearer {none}"))],
            &[],
        )
        .await,
        401,
        "invalid_token",
    );
    // Expired: move authz's clock past exp (+ leeway).
    let fresh = s.idp_token(&client_id, &secret, AUDIENCE).await;
    s.clock.advance(chrono::Duration::hours(2));
    denied(
        &s.check(
            &product,
            &[("authorization", &format!("Bearer {fresh}"))],
            &[],
        )
        .await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn registrations_scopes_and_missing_credentials() {
    let s = authz_stack(&[]).await;
    let product = s.base.product_id.clone();
    let (_, client_id, secret) = s.base.app("dev-1", "unregistered").await;
    let token = s.idp_token(&client_id, &secret, AUDIENCE).await;
    let bearer = format!("Bearer {token}");

    denied(
        &s.check(&product, &[], &[]).await,
        401,
        "missing_credentials",
    );
    denied(
        &s.check(&product, &[("authorization", "Bearer not a token")], &[])
            .await,
        401,
        "invalid_request",
    );
    denied(
        &s.check(&product, &[("authorization", &bearer)], &[]).await,
        403,
        "not_registered",
    );
    denied(
        &s.check("no-such-product", &[("authorization", &bearer)], &[])
            .await,
        403,
        "unknown_product",
    );

    // A strategy without auto-approve: pending until an admin approves.
    let (manual, gated) = s.product_with("manual", reg::AuthStrategy::default()).await;
    let (application, gated_secret, registration) = s
        .app_registered_for("dev-1", &manual, &gated, "waiting")
        .await;
    let gated_token = format!(
        "Bearer {}",
        s.idp_token(&application.client_id, &gated_secret, AUDIENCE)
            .await
    );
    denied(
        &s.check(&gated, &[("authorization", &gated_token)], &[])
            .await,
        403,
        "registration_pending",
    );
    s.base
        .registry
        .products()
        .approve_registration(reg::ApproveRegistrationRequest {
            id: registration.id,
        })
        .await
        .unwrap();
    let allowed = poll_until(
        &s,
        &gated,
        &[("authorization", &gated_token)],
        pb::Decision::Allow,
    )
    .await;
    assert!(allowed, "approval reaches authz");
    let r = s
        .check(&gated, &[("authorization", &gated_token)], &["admin"])
        .await;
    denied(&r, 403, "insufficient_scope");
    assert!(r.www_authenticate.contains("scope=\"admin\""), "{r:?}");
}

/// Polls (yielding in between) for up to 2 s until the check decides `want`; the
/// change stream normally takes milliseconds.
pub async fn poll_until(
    s: &AuthzStack,
    product: &str,
    headers: &[(&str, &str)],
    want: pb::Decision,
) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < std::time::Duration::from_secs(2) {
        if s.check(product, headers, &[]).await.decision == want as i32 {
            return true;
        }
        tokio::task::yield_now().await;
    }
    false
}
