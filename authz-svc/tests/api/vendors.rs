//! Vendor IdPs through the whole platform: an app made by registry-svc at the IdP
//! emulator's Auth0 / Okta / Curity, its client credentials exchanged by token-svc with
//! that vendor's request shape, the vendor's JWT verified by authz-svc with the default
//! credential claim of the provider type (Auth0 `azp`, Okta `cid`, Curity `sub`).

use dcr_proto::authz::v1 as pb;
use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::{AuthzStack, authz_stack};
use dcr_testkit::emulator::{
    Emulator, auth0_api, clear_faults, direct_token, emulator, fault, provider, token_status,
};
use dcr_testkit::people::jwt_claims;
use serde_json::json;

use crate::client_credentials::basic;

/// A provider of `vendor` at `emu`, a strategy with its default claims, a product with
/// `audience`: (the strategy id, the product id).
async fn vendor_product(
    s: &AuthzStack,
    emu: &Emulator,
    vendor: &str,
    audience: &str,
) -> (String, String) {
    let registry = &s.base.registry;
    let (_, strategy, _) = registry.setup(provider(emu, vendor), true).await;
    let product = registry
        .products()
        .create_product(reg::CreateProductRequest {
            product: Some(reg::ApiProduct {
                name: format!("{vendor}-api"),
                strategy_id: strategy.id.clone(),
                audience: audience.into(),
                ..Default::default()
            }),
        })
        .await
        .expect("product")
        .into_inner()
        .id;
    (strategy.id, product)
}

async fn allowed_through_token_svc(vendor: &str, audience: &str) {
    let emu = emulator().await;
    if vendor == "auth0" {
        auth0_api(&emu, audience).await; // Auth0 grants tokens only for its APIs
    }
    let s = authz_stack(&[]).await;
    let (strategy_id, product) = vendor_product(&s, &emu, vendor, audience).await;
    let (application, secret, _) = s
        .app_registered_for("dev-1", &strategy_id, &product, &format!("{vendor}-app"))
        .await;
    let r = s
        .check(
            &product,
            &[("authorization", &basic(&application.client_id, &secret))],
            &["read"],
        )
        .await;
    assert_eq!(r.decision, pb::Decision::Allow as i32, "{vendor}: {r:?}");
    let principal = r.principal.expect("principal");
    assert_eq!(principal.application_id, application.id, "{vendor}");
    assert_eq!(principal.client_id, application.client_id, "{vendor}");

    let wrong = s
        .check(
            &product,
            &[(
                "authorization",
                &basic(&application.client_id, "not-the-secret"),
            )],
            &[],
        )
        .await;
    assert_eq!(
        (wrong.decision, wrong.reason.as_str()),
        (pb::Decision::Deny as i32, "invalid_client"),
        "{vendor}: {wrong:?}"
    );
}

#[tokio::test]
async fn auth0_apps_are_allowed_by_azp() {
    allowed_through_token_svc("auth0", "https://orders.example.com").await;
}

#[tokio::test]
async fn okta_apps_are_allowed_by_cid() {
    allowed_through_token_svc("okta", "api://default").await;
}

#[tokio::test]
async fn curity_apps_are_allowed_by_sub() {
    allowed_through_token_svc("curity", "").await;
}

/// An app at the emulated Okta, registered for a product with `audience`, with a second
/// secret beside its first.
struct OktaApp {
    product: String,
    application: reg::Application,
    first: String,
    second: reg::Credential,
}

async fn okta_app_with_two_secrets(s: &AuthzStack, emu: &Emulator, audience: &str) -> OktaApp {
    let (strategy_id, product) = vendor_product(s, emu, "okta", audience).await;
    let (application, first, _) = s
        .app_registered_for("dev-1", &strategy_id, &product, "okta-app")
        .await;
    let second = s
        .base
        .registry
        .portal("dev-1")
        .add_credential(reg::AddCredentialRequest {
            application_id: application.id.clone(),
            expire_time: None,
        })
        .await
        .expect("second secret")
        .into_inner();
    OktaApp {
        product,
        application,
        first,
        second,
    }
}

/// `secret` of `application` revoked in dcr while Okta's app API answers 503: the
/// revocation waits for the IdP.
async fn revoke_while_okta_is_down(
    s: &AuthzStack,
    emu: &Emulator,
    application: &reg::Application,
    secret: &reg::Credential,
) -> reg::Credential {
    fault(
        emu,
        json!({"path_prefix": "/okta/api/v1/apps/", "status": 503, "times": 50}),
    )
    .await;
    let revoked = s
        .base
        .registry
        .portal("dev-1")
        .revoke_credential(reg::RevokeCredentialRequest {
            application_id: application.id.clone(),
            credential_id: secret.id.clone(),
        })
        .await
        .expect("revoked in dcr while Okta is down")
        .into_inner();
    assert!(revoked.idp_pending);
    revoked
}

/// A secret revoked while the IdP cannot hear of it (here Okta's secret management
/// answers 503; a bridge can never revoke one secret of several) still works at the IdP,
/// but not through dcr: token-svc knows it by its fingerprint and refuses it before the
/// IdP is asked, with the answer of a wrong secret, and authz-svc's Basic check with it.
/// The app's other secret keeps working.
#[tokio::test]
async fn a_secret_revoked_while_the_idp_is_down_is_refused_by_dcr() {
    let audience = "api://default";
    let emu = emulator().await;
    let s = authz_stack(&[]).await;
    let OktaApp {
        product,
        application,
        first,
        second,
    } = okta_app_with_two_secrets(&s, &emu, audience).await;
    let client_id = application.client_id.clone();
    let basic_second = basic(&client_id, &second.client_secret);
    let allowed = s
        .check(&product, &[("authorization", &basic_second)], &[])
        .await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");

    revoke_while_okta_is_down(&s, &emu, &application, &second).await;
    assert_eq!(
        token_status(&emu, "okta", &client_id, &second.client_secret, audience).await,
        200,
        "Okta still takes the revoked secret"
    );

    s.base.caught_up().await;
    let refused = s
        .base
        .issue(&client_id, &second.client_secret, audience)
        .await
        .expect_err("token-svc refuses the revoked secret");
    let wrong = s
        .base
        .issue(&client_id, "not-the-secret", audience)
        .await
        .expect_err("a wrong secret");
    assert_eq!(
        (refused.code(), refused.message()),
        (wrong.code(), wrong.message()),
        "the same answer as a wrong secret"
    );
    let headers = [("authorization", basic_second.as_str())];
    assert!(
        crate::bearer::poll_until(&s, &product, &headers, pb::Decision::Deny).await,
        "authz-svc follows the change"
    );
    let denied = s.check(&product, &headers, &[]).await;
    assert_eq!(
        (denied.decision, denied.reason.as_str()),
        (pb::Decision::Deny as i32, "invalid_client"),
        "{denied:?}"
    );
    let still = s
        .check(
            &product,
            &[("authorization", &basic(&client_id, &first))],
            &[],
        )
        .await;
    assert_eq!(still.decision, pb::Decision::Allow as i32, "{still:?}");
}

/// A token straight from Okta, issued in a later second than `after` (unix seconds):
/// a token of the revocation's own second is judged by another rule.
async fn okta_token_after(
    emu: &Emulator,
    client_id: &str,
    secret: &str,
    audience: &str,
    after: i64,
) -> Result<String, u16> {
    let start = std::time::Instant::now();
    loop {
        let token = direct_token(emu, "okta", client_id, secret, audience).await?;
        let iat = jwt_claims(&token).expect("a JWT")["iat"]
            .as_i64()
            .expect("iat");
        if iat > after {
            return Ok(token);
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(3),
            "no token after {after}"
        );
    }
}

/// A revoked secret the IdP still takes (here Okta has not heard of the revocation; a
/// bridge can never revoke one secret of several) mints tokens at the IdP that look like
/// any other of the client's. While that lasts authz-svc takes only the client's tokens
/// that token-svc handed out: token-svc refuses the revoked secret and records each
/// token it issues. Once the IdP confirms, tokens issued until then still need the
/// record.
#[tokio::test]
async fn tokens_the_idp_issues_directly_for_a_revoked_secret_are_refused() {
    let audience = "api://default";
    let emu = emulator().await;
    let s = authz_stack(&[]).await;
    let OktaApp {
        product,
        application,
        first,
        second,
    } = okta_app_with_two_secrets(&s, &emu, audience).await;
    let client_id = application.client_id.clone();
    let check = |token: String| {
        let s = &s;
        let product = &product;
        async move {
            s.check(
                product,
                &[("authorization", &format!("Bearer {token}"))],
                &[],
            )
            .await
        }
    };
    let issue_records = || s.base.registry.issue_records(&client_id);
    // Nothing revoked: a token straight from Okta is taken.
    let direct = direct_token(&emu, "okta", &client_id, &first, audience)
        .await
        .expect("token");
    let allowed = check(direct).await;
    assert_eq!(allowed.decision, pb::Decision::Allow as i32, "{allowed:?}");
    assert_eq!(issue_records().await, (false, false));

    let revoked = revoke_while_okta_is_down(&s, &emu, &application, &second).await;
    let revoked_at = revoked.revoke_time.expect("revoke time").seconds;
    assert_eq!(issue_records().await, (true, false));
    s.caught_up().await;

    let denied = |answer: pb::CheckResponse| {
        answer.decision == pb::Decision::Deny as i32 && answer.reason == "invalid_token"
    };
    // The revoked secret still gets tokens at Okta, later than the revocation: refused.
    let leaked = okta_token_after(
        &emu,
        &client_id,
        &second.client_secret,
        audience,
        revoked_at,
    )
    .await
    .expect("Okta still takes the revoked secret");
    let answer = check(leaked.clone()).await;
    assert!(denied(answer.clone()), "{answer:?}");
    // So is a token Okta gives the live secret directly: dcr cannot tell the two apart.
    let live_direct = okta_token_after(&emu, &client_id, &first, audience, revoked_at)
        .await
        .expect("token");
    let answer = check(live_direct).await;
    assert!(denied(answer.clone()), "{answer:?}");
    // A token token-svc hands out for the live secret is taken; the revoked secret gets
    // none from token-svc.
    let through_dcr = s
        .base
        .issue(&client_id, &first, audience)
        .await
        .expect("token-svc")
        .access_token;
    let answer = check(through_dcr.clone()).await;
    assert_eq!(answer.decision, pb::Decision::Allow as i32, "{answer:?}");
    s.base
        .issue(&client_id, &second.client_secret, audience)
        .await
        .expect_err("token-svc refuses the revoked secret");

    // Okta is back and the reconciler revokes the secret there: tokens issued until
    // then still need token-svc's record; Okta no longer takes the secret.
    clear_faults(&emu).await;
    s.base.registry.clock.advance(chrono::Duration::minutes(5));
    let pass = s
        .base
        .registry
        .registry
        .reconcile_once()
        .await
        .expect("reconcile");
    assert_eq!(pass.finished_revocations, 1, "{pass:?}");
    assert_eq!(issue_records().await, (false, true));
    s.caught_up().await;
    assert_eq!(
        token_status(&emu, "okta", &client_id, &second.client_secret, audience).await,
        401,
        "Okta refuses the revoked secret now"
    );
    let answer = check(leaked).await;
    assert!(denied(answer.clone()), "{answer:?}");
    let answer = check(through_dcr).await;
    assert_eq!(answer.decision, pb::Decision::Allow as i32, "{answer:?}");
}
