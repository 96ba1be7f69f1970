//! Invariant 3: after a credential is rotated away, or its application deleted or
//! unregistered, authz-svc denies it within 1 s, although tokens are cached.

use std::time::{Duration, Instant};

use dcr_proto::authz::v1 as pb;
use dcr_proto::registry::v1 as reg;
use dcr_testkit::authz::{AuthzStack, authz_stack};

use crate::client_credentials::basic;

const AUDIENCE: &str = "https://api.example.com";

/// How long until `headers` are denied (polling with yields; never past 5 s).
async fn denied_after(s: &AuthzStack, headers: &[(&str, &str)]) -> Duration {
    let start = Instant::now();
    loop {
        let r = s.check(&s.base.product_id, headers, &[]).await;
        if r.decision == pb::Decision::Deny as i32 || start.elapsed() > Duration::from_secs(5) {
            return start.elapsed();
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn rotation_deletion_and_unregistration_deny_within_a_second() {
    let s = authz_stack(&[]).await;
    let product = s.base.product_id.clone();
    let (app_id, client_id, secret) = s.registered_app("dev-1", "rotating").await;
    let old_token = format!(
        "Bearer {}",
        s.idp_token(&client_id, &secret, AUDIENCE).await
    );
    let old_basic = basic(&client_id, &secret);
    for headers in [
        [("authorization", old_token.as_str())],
        [("authorization", old_basic.as_str())],
    ] {
        assert_eq!(
            s.check(&product, &headers, &[]).await.decision,
            pb::Decision::Allow as i32
        );
    }

    let mut portal = s.base.registry.portal("dev-1");
    let new_secret = portal
        .regenerate_secret(reg::RegenerateSecretRequest {
            application_id: app_id.clone(),
        })
        .await
        .expect("regenerate")
        .into_inner()
        .client_secret;
    let t = denied_after(&s, &[("authorization", &old_token)]).await;
    assert!(t < Duration::from_secs(1), "old bearer denied after {t:?}");
    let t = denied_after(&s, &[("authorization", &old_basic)]).await;
    assert!(t < Duration::from_secs(1), "old secret denied after {t:?}");
    let new_basic = basic(&client_id, &new_secret);
    let fresh = s
        .check(&product, &[("authorization", &new_basic)], &[])
        .await;
    assert_eq!(
        fresh.decision,
        pb::Decision::Allow as i32,
        "the new secret works: {fresh:?}"
    );

    // Unregistration.
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
    let t = denied_after(&s, &[("authorization", &new_basic)]).await;
    assert!(
        t < Duration::from_secs(1),
        "unregistered app denied after {t:?}"
    );

    // Deletion.
    portal
        .create_registration(reg::CreateRegistrationRequest {
            application_id: app_id.clone(),
            product_id: product.clone(),
            scopes: Vec::new(),
        })
        .await
        .expect("register again");
    let new_token = format!(
        "Bearer {}",
        s.idp_token(&client_id, &new_secret, AUDIENCE).await
    );
    let allowed = crate::bearer::poll_until(
        &s,
        &product,
        &[("authorization", &new_token)],
        pb::Decision::Allow,
    )
    .await;
    assert!(allowed);
    portal
        .delete_application(reg::DeleteApplicationRequest {
            id: app_id,
            allow_missing: false,
        })
        .await
        .expect("delete");
    let t = denied_after(&s, &[("authorization", &new_token)]).await;
    assert!(t < Duration::from_secs(1), "deleted app denied after {t:?}");
}
