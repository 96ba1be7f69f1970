//! The portal in real headless Chromium (testkit::browser): a developer signs in at the
//! identity provider, creates an app and sees its secret once; an approver approves its
//! registration in the admin console; an admin adds a provider, verifies it and publishes
//! a product; pages stay usable at 320 px. Screenshots of each page go to
//! target/screenshots (docs/portal.md shows them).

use dcr_testkit::browser::Browser;

use dcr_proto::authz::v1::Decision;

use crate::gateway::gateway;
use crate::helpers::{Stack, stack};

async fn sign_in(browser: &Browser, s: &Stack, login: &str) {
    browser.goto(&format!("{}/", s.portal)).await;
    browser.click("a.button[href='/login']").await;
    browser.wait_for("input[name=login]").await;
    browser.fill("input[name=login]", login).await;
    browser
        .fill("input[name=password]", &format!("{login}-password"))
        .await;
    browser
        .click("button[type=submit], input[type=submit]")
        .await;
    browser.wait_for_url(&format!("{}/apps", s.portal)).await;
}

#[tokio::test]
async fn a_developer_creates_an_app_and_an_approver_lets_it_in() {
    let s = stack().await;
    let gateway = gateway(&s).await;
    let dana = Browser::start().await;
    dana.goto(&format!("{}/", s.portal)).await;
    dana.screenshot("portal-home").await;
    sign_in(&dana, &s, "dana").await;
    assert!(
        dana.text("header.top").await.contains("Dana"),
        "the header names her"
    );

    dana.goto(&format!("{}/catalog", s.portal)).await;
    assert!(dana.text("main").await.contains(&s.product.name));
    dana.screenshot("portal-catalog").await;

    dana.click("a.button[href='/apps/new']").await;
    dana.fill("#name", "Weather widget").await;
    dana.fill("#description", "Shows the forecast on the intranet")
        .await;
    dana.client()
        .execute(
            "document.getElementById('product_id').value = arguments[0];",
            vec![serde_json::json!(s.product.id)],
        )
        .await
        .unwrap();
    dana.screenshot("portal-new-app").await;
    dana.click("form[action='/apps'] button[type=submit]").await;
    let secret = dana.text("#client-secret").await;
    let client_id = dana.text("#client-id").await;
    assert!(secret.len() >= 16, "{secret:?}");
    assert!(
        dana.text("main")
            .await
            .contains("only time the secret is shown")
    );
    dana.screenshot("portal-secret").await;
    let secret_page = dana.url().await;
    assert!(!secret_page.as_str().contains(&secret), "never in a URL");

    // Reloading does not show it again.
    dana.goto(secret_page.as_str()).await;
    assert!(!dana.source().await.contains(&secret));
    assert!(dana.text("main").await.contains("already shown"));

    dana.click("main a.button").await;
    // Only the app's page has this form: read it, not the page being left.
    dana.wait_for("form[action$='/credentials']").await;
    assert!(dana.text("main").await.contains("pending approval"));
    dana.screenshot("portal-app").await;
    let app_url = dana.url().await;

    // The secret works: a token from token-svc; the gateway refuses it until approval.
    let token = gateway.token(&client_id, &secret, "read").await;
    let product = &s.product.id;
    let pending = gateway.check(product, &token).await;
    assert_eq!(pending.decision, Decision::Deny as i32, "{pending:?}");
    assert_eq!(pending.reason, "registration_pending", "{pending:?}");

    let aaron = Browser::start().await;
    sign_in(&aaron, &s, "aaron").await;
    aaron.click("nav a[href='/admin']").await;
    aaron.click("a[href='/admin/registrations']").await;
    aaron.wait_for("form[action$='/approve'] button").await;
    aaron.screenshot("portal-registrations").await;
    aaron.click("form[action$='/approve'] button").await;
    assert!(
        aaron
            .text("p.notice")
            .await
            .contains("Registration approved")
    );

    let allowed = gateway.until(product, &token, Decision::Allow).await;
    assert_eq!(allowed.decision, Decision::Allow as i32, "{allowed:?}");

    dana.goto(app_url.as_str()).await;
    assert!(dana.text("main").await.contains("approved"));
    assert!(!dana.text("main").await.contains("pending approval"));
    aaron.close().await;

    // Rotation from the UI: a second secret, then the first revoked (after the confirm
    // dialog): tokens of the first are refused within a second, the second's work.
    dana.click("form[action$='/credentials'] button").await;
    let second = dana.text("#client-secret").await;
    assert_ne!(second, secret);
    dana.goto(app_url.as_str()).await;
    let first_hint = &secret[secret.len() - 4..];
    let revoke = format!("form[data-confirm*='ending in {first_hint}'] button");
    dana.click(&revoke).await;
    dana.client()
        .accept_alert()
        .await
        .expect("the confirm dialog");
    assert!(dana.text("p.notice").await.contains("was revoked"));
    let revoked = gateway.until(product, &token, Decision::Deny).await;
    assert_eq!(revoked.decision, Decision::Deny as i32, "{revoked:?}");
    let fresh = gateway.token(&client_id, &second, "read").await;
    assert_eq!(
        gateway.check(product, &fresh).await.decision,
        Decision::Allow as i32
    );

    // Narrow screens: no sideways scrolling on the app page or the list.
    dana.set_window_size(320, 800).await;
    for url in [app_url.to_string(), format!("{}/apps", s.portal)] {
        dana.goto(&url).await;
        let widths = dana.layout_widths().await;
        assert!(
            widths.content <= widths.viewport,
            "{url} at 320 px: {widths:?}"
        );
    }
    dana.screenshot("portal-app-320px").await;
    dana.close().await;
}

#[tokio::test]
async fn an_admin_adds_a_provider_and_publishes_a_product() {
    let s = stack().await;
    let seeded = dcr_testkit::emulator::provider(&s.emu, "okta");
    let Some(dcr_proto::registry::v1::provider::Config::Okta(okta)) = seeded.config else {
        panic!("an okta config");
    };
    let alice = Browser::start().await;
    sign_in(&alice, &s, "alice").await;
    alice.click("nav a[href='/admin']").await;
    alice.wait_for("nav.subnav").await;
    alice.click("nav.subnav a[href='/admin/providers']").await;
    alice
        .wait_for("a.button[href='/admin/providers/new']")
        .await;
    assert!(alice.text("main table").await.contains("okta"));
    alice.screenshot("portal-admin-providers").await;

    // A type first, then exactly that type's form.
    alice.click("a.button[href='/admin/providers/new']").await;
    alice.click("a[href='/admin/providers/new/okta']").await;
    alice.wait_for("#dcr_token").await;
    alice.fill("#name", "okta-browser").await;
    alice.fill("#display_name", "Okta (browser)").await;
    alice.fill("#issuer", &seeded.issuer).await;
    alice.fill("#labels", "team=payments").await;
    alice.fill("#dcr_token", &okta.dcr_token).await;
    alice.screenshot("portal-admin-provider-form").await;
    alice.click("form.stack button[type=submit]").await;
    // Each wait is for an element only the next page has, so no text is read from the
    // page being left.
    alice.wait_for("form[action$='/verify'] button").await;
    assert!(alice.text("main").await.contains("was created"));
    alice.click("form[action$='/verify'] button").await;
    assert!(
        alice.text("#verify-result").await.contains("Verified."),
        "{}",
        alice.text("main").await
    );
    assert!(!alice.source().await.contains(&okta.dcr_token));

    // A product under the stack's strategy, through the form.
    alice.click("nav.subnav a[href='/admin/products']").await;
    alice.click("a.button[href='/admin/products/new']").await;
    alice.wait_for("#strategy_id").await;
    alice.fill("#name", "Forecasts API").await;
    alice
        .fill("#description", "Weather forecasts by the hour")
        .await;
    alice
        .client()
        .execute(
            "document.getElementById('strategy_id').value = arguments[0];",
            vec![serde_json::json!(s.product.strategy_id)],
        )
        .await
        .unwrap();
    alice.click("form.stack button[type=submit]").await;
    alice.wait_for("a.button[href='/admin/products/new']").await;
    let listed = alice.text("main").await;
    assert!(listed.contains("was created"), "{listed}");
    assert!(listed.contains("Forecasts API"), "{listed}");

    // The form fits a phone.
    alice.set_window_size(320, 800).await;
    alice
        .goto(&format!("{}/admin/providers/new/okta", s.portal))
        .await;
    let widths = alice.layout_widths().await;
    assert!(widths.content <= widths.viewport, "{widths:?}");
    alice.close().await;
}

#[tokio::test]
async fn an_admin_reads_the_overview_and_the_audit_log() {
    let s = stack().await;
    // Something to show: a provider that fails Verify, and a developer's app waiting.
    let mut broken = dcr_testkit::emulator::provider(&s.emu, "okta");
    broken.name = "broken-okta".into();
    broken.display_name = "Broken Okta".into();
    if let Some(dcr_proto::registry::v1::provider::Config::Okta(okta)) = &mut broken.config {
        okta.dcr_token = "not-the-okta-api-token".into();
    }
    s.registry
        .clients
        .providers()
        .create_provider(dcr_proto::registry::v1::CreateProviderRequest {
            provider: Some(broken),
        })
        .await
        .unwrap();
    let mut dana = crate::helpers::Browser::new(&s);
    dana.sign_in("dana").await;
    crate::helpers::create_app(&mut dana, &s, "Weather widget").await;

    let alice = Browser::start().await;
    sign_in(&alice, &s, "alice").await;
    alice.click("nav a[href='/admin']").await;
    alice.wait_for("#failing-providers").await;
    assert!(
        alice
            .text("#failing-providers")
            .await
            .contains("Broken Okta")
    );
    alice.screenshot("portal-admin-overview").await;

    alice.click("a[href='/admin/audit']").await;
    alice.wait_for("table").await;
    let log = alice.text("main").await;
    assert!(
        log.contains("Dana Developer") && log.contains("CreateApplication"),
        "{log}"
    );
    alice.screenshot("portal-audit").await;
    alice.close().await;
}
