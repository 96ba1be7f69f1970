//! The portal in real headless Chromium (testkit::browser): a developer signs in at the
//! identity provider, creates an app and sees its secret once; an approver approves its
//! registration in the admin console; pages stay usable at 320 px. Screenshots of each
//! page go to target/screenshots (docs/portal.md shows them).

use dcr_testkit::browser::Browser;

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
    assert!(dana.text("main").await.contains("pending approval"));
    dana.screenshot("portal-app").await;
    let app_url = dana.url().await;

    let aaron = Browser::start().await;
    sign_in(&aaron, &s, "aaron").await;
    aaron.click("nav a[href='/admin']").await;
    aaron.click("a[href='/admin/registrations']").await;
    aaron.wait_for("form[action$='/approve'] button").await;
    aaron.screenshot("portal-registrations").await;
    aaron.click("form[action$='/approve'] button").await;
    assert!(aaron.text("main").await.contains("Registration approved"));

    dana.goto(app_url.as_str()).await;
    assert!(dana.text("main").await.contains("approved"));
    assert!(!dana.text("main").await.contains("pending approval"));
    aaron.close().await;

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
