//! Sessions: a successful check sets a sealed cookie; the cookie alone is enough until it
//! expires or the app's credential is revoked. Unless the strategy names it, the cookie is
//! the strategy's own `__Host-` cookie.

use dcr_proto::authz::v1 as pb;
use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::authz_stack;

const AUDIENCE: &str = "https://api.example.com";

#[tokio::test]
async fn a_session_cookie_stands_in_for_the_token_until_it_expires_or_is_revoked() {
    let s = authz_stack(&[]).await;
    let (strategy_id, product) = s
        .product_with(
            "browser",
            reg::AuthStrategy {
                auth_methods: vec![
                    reg::AuthMethod::Bearer as i32,
                    reg::AuthMethod::Session as i32,
                ],
                session_cookie_name: "portal_session".into(),
                session_ttl: Some(prost_types::Duration {
                    seconds: 600,
                    nanos: 0,
                }),
                auto_approve: true,
                scopes: vec!["read".into()],
                ..Default::default()
            },
        )
        .await;
    let (app, secret, _) = s
        .app_registered_for("dev-1", &strategy_id, &product, "spa")
        .await;
    let mut portal = s.base.registry.portal("dev-1");

    let token = s.idp_token(&app.client_id, &secret, AUDIENCE).await;
    let first = s
        .check(
            &product,
            &[("authorization", &format!("Bearer {token}"))],
            &[],
        )
        .await;
    assert_eq!(first.decision, pb::Decision::Allow as i32, "{first:?}");
    let set_cookie = first
        .response_headers
        .get("set-cookie")
        .expect("a session cookie")
        .clone();
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Max-Age=600"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    assert!(cookie.starts_with("portal_session="));

    let by_cookie = s
        .check(
            &product,
            &[("cookie", &format!("theme=dark; {cookie}"))],
            &[],
        )
        .await;
    assert_eq!(
        by_cookie.decision,
        pb::Decision::Allow as i32,
        "{by_cookie:?}"
    );
    let principal = by_cookie.principal.expect("principal");
    assert_eq!(
        (principal.application_id.as_str(), principal.credential_type),
        (app.id.as_str(), pb::CredentialType::Session as i32)
    );
    assert!(
        by_cookie.response_headers.is_empty(),
        "no new cookie for a session request"
    );

    // A forged or altered cookie is refused.
    let forged = s
        .check(&product, &[("cookie", "portal_session=AAAA")], &[])
        .await;
    assert_eq!(
        (forged.http_status, forged.reason.as_str()),
        (401, "invalid_token")
    );

    // Expired: move authz's clock past the TTL.
    s.clock.advance(chrono::Duration::seconds(601));
    let expired = s.check(&product, &[("cookie", &cookie)], &[]).await;
    assert_eq!(
        (expired.http_status, expired.reason.as_str()),
        (401, "invalid_token")
    );
    s.clock.advance(chrono::Duration::seconds(-601));

    // Revoked: rotating the secret ends sessions made before it.
    portal
        .regenerate_secret(reg::RegenerateSecretRequest {
            application_id: app.id.clone(),
        })
        .await
        .expect("rotate");
    let denied =
        crate::bearer::poll_until(&s, &product, &[("cookie", &cookie)], pb::Decision::Deny).await;
    assert!(denied, "the session is refused after the rotation");
}

/// The `Max-Age` of a `Set-Cookie` value.
fn max_age(set_cookie: &str) -> i64 {
    set_cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .expect("Max-Age")
        .parse()
        .expect("a number")
}

/// A session is bound to the product it was made for: two products on one strategy share
/// the cookie's name (and `Path=/` sends it to both), yet the cookie from one is refused
/// by the other even for an app registered to both. And it ends with the token it came
/// from, however long the strategy's session lifetime.
#[tokio::test]
async fn a_session_is_refused_by_another_product_and_never_outlives_its_token() {
    let s = authz_stack(&[]).await;
    let (strategy_id, first) = s
        .product_with(
            "browser",
            reg::AuthStrategy {
                auth_methods: vec![
                    reg::AuthMethod::Bearer as i32,
                    reg::AuthMethod::Session as i32,
                ],
                session_ttl: Some(prost_types::Duration {
                    seconds: 7 * 86_400,
                    nanos: 0,
                }),
                auto_approve: true,
                scopes: vec!["read".into()],
                ..Default::default()
            },
        )
        .await;
    let second = s
        .base
        .registry
        .products()
        .create_product(reg::CreateProductRequest {
            product: Some(reg::ApiProduct {
                name: "browser-two".into(),
                strategy_id: strategy_id.clone(),
                audience: AUDIENCE.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("second product")
        .into_inner()
        .id;
    let (app, secret, _) = s
        .app_registered_for("dev-1", &strategy_id, &first, "spa")
        .await;
    s.base
        .registry
        .portal("dev-1")
        .create_registration(reg::CreateRegistrationRequest {
            application_id: app.id.clone(),
            product_id: second.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("registered for the second product too");

    let token = s.idp_token(&app.client_id, &secret, AUDIENCE).await;
    let claims = dcr_testkit::token::jwt_claims(&token);
    let token_lifetime =
        claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat");
    let bearer = format!("Bearer {token}");
    // The token is good for both products.
    let on_second = s.check(&second, &[("authorization", &bearer)], &[]).await;
    assert_eq!(
        on_second.decision,
        pb::Decision::Allow as i32,
        "{on_second:?}"
    );
    let made = s.check(&first, &[("authorization", &bearer)], &[]).await;
    let set_cookie = made.response_headers["set-cookie"].clone();
    assert!(
        max_age(&set_cookie) <= token_lifetime,
        "the session ends with the token ({token_lifetime} s), not after 7 days: {set_cookie}"
    );
    let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
    let same = s.check(&first, &[("cookie", &cookie)], &[]).await;
    assert_eq!(same.decision, pb::Decision::Allow as i32, "{same:?}");

    let elsewhere = s.check(&second, &[("cookie", &cookie)], &[]).await;
    assert_eq!(
        (elsewhere.http_status, elsewhere.reason.as_str()),
        (401, "invalid_token"),
        "{elsewhere:?}"
    );

    // Past the token's expiry (well inside the 7 days), the session is over.
    s.clock
        .advance(chrono::Duration::seconds(token_lifetime + 1));
    let after = s.check(&first, &[("cookie", &cookie)], &[]).await;
    assert_eq!(
        (after.http_status, after.reason.as_str()),
        (401, "invalid_token")
    );
}

/// Bearer and SESSION, auto-approved, the name and cookie left to the registry.
pub(crate) fn session_strategy() -> reg::AuthStrategy {
    reg::AuthStrategy {
        auth_methods: vec![
            reg::AuthMethod::Bearer as i32,
            reg::AuthMethod::Session as i32,
        ],
        auto_approve: true,
        scopes: vec!["read".into()],
        ..Default::default()
    }
}

async fn cookie_name_of(s: &dcr_testkit::authz::AuthzStack, strategy_id: &str) -> String {
    s.base
        .registry
        .strategies()
        .get_strategy(reg::GetStrategyRequest {
            id: strategy_id.to_owned(),
        })
        .await
        .expect("strategy")
        .into_inner()
        .session_cookie_name
}

/// Two strategies that name no cookie get one each: a `__Host-` name, sent with the
/// attributes that prefix demands (browsers drop it otherwise). One strategy's session,
/// shown under the other's name, is refused by the other.
#[tokio::test]
async fn each_strategy_has_its_own_host_cookie_and_refuses_the_others_sessions() {
    let s = authz_stack(&[]).await;
    let (strategy_a, product_a) = s.product_with("browser-a", session_strategy()).await;
    let (strategy_b, product_b) = s.product_with("browser-b", session_strategy()).await;
    let name_a = cookie_name_of(&s, &strategy_a).await;
    let name_b = cookie_name_of(&s, &strategy_b).await;
    assert!(name_a.starts_with("__Host-dcr-session-"), "{name_a}");
    assert!(name_b.starts_with("__Host-dcr-session-"), "{name_b}");
    assert_ne!(name_a, name_b, "one cookie per strategy");

    let (app, secret, _) = s
        .app_registered_for("dev-1", &strategy_a, &product_a, "spa")
        .await;
    let token = s.idp_token(&app.client_id, &secret, AUDIENCE).await;
    let made = s
        .check(
            &product_a,
            &[("authorization", &format!("Bearer {token}"))],
            &[],
        )
        .await;
    assert_eq!(made.decision, pb::Decision::Allow as i32, "{made:?}");
    let set_cookie = made.response_headers["set-cookie"].clone();
    let attributes: Vec<&str> = set_cookie.split("; ").collect();
    let value = attributes[0]
        .strip_prefix(&format!("{name_a}="))
        .unwrap_or_else(|| panic!("named {name_a}: {set_cookie}"));
    assert!(attributes.contains(&"Secure"), "{set_cookie}");
    assert!(attributes.contains(&"Path=/"), "{set_cookie}");
    assert!(
        !attributes
            .iter()
            .any(|a| a.to_ascii_lowercase().starts_with("domain")),
        "a __Host- cookie has no Domain: {set_cookie}"
    );

    let own = s
        .check(&product_a, &[("cookie", &format!("{name_a}={value}"))], &[])
        .await;
    assert_eq!(own.decision, pb::Decision::Allow as i32, "{own:?}");
    // B reads only its own cookie, so A's is no credential there...
    let sent_to_b = s
        .check(&product_b, &[("cookie", &format!("{name_a}={value}"))], &[])
        .await;
    assert_eq!(sent_to_b.reason, "missing_credentials", "{sent_to_b:?}");
    // ...and under B's name the session itself is refused: it was made for A.
    let renamed = s
        .check(&product_b, &[("cookie", &format!("{name_b}={value}"))], &[])
        .await;
    assert_eq!(
        (renamed.http_status, renamed.reason.as_str()),
        (401, "invalid_token"),
        "{renamed:?}"
    );
    assert!(
        renamed.www_authenticate.contains("another product"),
        "{renamed:?}"
    );
}
