//! The admin console's operations pages: the registrations queue names each app and its
//! developer and filters by them; the audit log names the person and pages; the overview
//! counts what the person may read and shows the providers that fail Verify. Viewers see
//! it all read-only; developers are kept out.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{control, fault, provider};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Browser, Page, Stack, create_app, stack};

/// `href="..."` of the first link whose tag contains `marker`, unescaped.
fn link(page: &Page, marker: &str) -> Option<String> {
    let at = page.body.find(marker)?;
    let tag_start = page.body[..at].rfind("<a ")?;
    let tag = &page.body[tag_start..];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    // askama escapes `&` in attributes as `&#38;`.
    Some(href.replace("&#38;", "&").replace("&amp;", "&"))
}

/// The registrations of the stack's product as the registry lists them.
async fn registrations(s: &Stack) -> Vec<pb::Registration> {
    s.registry
        .clients
        .products()
        .list_registrations(pb::ListProductRegistrationsRequest {
            product_id: s.product.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .registrations
}

/// Makes `login` a member of exactly `groups` at the identity provider; takes effect at
/// their next sign-in.
async fn set_groups(s: &Stack, login: &str, groups: &[&str]) {
    control(
        &s.emu,
        &format!("sso/people/{login}"),
        json!({ "groups": groups }),
    )
    .await;
}

#[tokio::test]
async fn the_queue_names_each_app_and_developer_and_filters_by_them() {
    let s = stack().await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    let (dana_app, _) = create_app(&mut dana, &s, "Dana widget").await;
    let mut diego = Browser::new(&s);
    diego.sign_in("diego").await;
    let (diego_app, _) = create_app(&mut diego, &s, "Diego gadget").await;
    let listed = registrations(&s).await;
    let developer_of = |app: &str| {
        listed
            .iter()
            .find(|r| r.application_id == app)
            .map(|r| r.developer_id.clone())
            .unwrap()
    };
    let (dana_id, diego_id) = (developer_of(&dana_app), developer_of(&diego_app));
    assert!(!dana_id.is_empty() && dana_id != diego_id);

    let mut aaron = Browser::new(&s);
    aaron.sign_in("aaron").await;
    let queue = aaron.get("/admin/registrations").await;
    assert_eq!(queue.status, StatusCode::OK);
    for shown in ["Dana widget", "Diego gadget", &dana_id, &diego_id] {
        assert!(queue.body.contains(shown), "{shown}: {}", queue.body);
    }
    for label in ["Product", "Status", "App id", "Developer id"] {
        assert!(queue.body.contains(&format!(">{label}</label>")), "{label}");
    }

    let by_person = aaron
        .get(&format!("/admin/registrations?person={dana_id}"))
        .await;
    assert!(by_person.body.contains("Dana widget"));
    assert!(!by_person.body.contains("Diego gadget"));
    assert!(
        by_person.body.contains(&format!("value=\"{dana_id}\"")),
        "the filter stays in its input"
    );

    let by_app = aaron
        .get(&format!("/admin/registrations?app={diego_app}&status=all"))
        .await;
    assert!(by_app.body.contains("Diego gadget"));
    assert!(!by_app.body.contains("Dana widget"));
    // The row's app name links to that filter.
    let app_link = link(&queue, ">Diego gadget<").unwrap();
    assert!(app_link.contains(&format!("app={diego_app}")), "{app_link}");

    let by_product = aaron
        .get(&format!("/admin/registrations?product={}", s.product.id))
        .await;
    assert!(by_product.body.contains("Dana widget") && by_product.body.contains("Diego gadget"));
    let nothing = aaron.get("/admin/registrations?app=not-an-app-id").await;
    assert_eq!(nothing.status, StatusCode::OK);
    assert!(nothing.body.contains("Nothing to show"));

    // One click approves, and the queue comes back with the same filter.
    let registration = listed
        .iter()
        .find(|r| r.application_id == dana_app)
        .unwrap()
        .id
        .clone();
    let after = aaron
        .post(
            &format!("/admin/registrations/{registration}/approve"),
            &[
                ("csrf", &by_person.input("csrf")),
                ("status", "pending"),
                ("person", &dana_id),
            ],
        )
        .await;
    assert!(
        after.url.contains(&format!("person={dana_id}")),
        "{}",
        after.url
    );
    assert!(
        after
            .body
            .contains("Registration approved for Dana widget."),
        "{}",
        after.body
    );
    assert!(
        after.body.contains("Nothing to show"),
        "none of Dana's wait"
    );
    let approved = aaron
        .get(&format!(
            "/admin/registrations?person={dana_id}&status=approved"
        ))
        .await;
    assert!(approved.body.contains("Dana widget"));
}

#[tokio::test]
async fn the_audit_log_names_the_person_and_pages_through_events() {
    let s = stack().await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    let (app, _) = create_app(&mut dana, &s, "Audited app").await;

    let mut alice = Browser::new(&s);
    alice.sign_in("alice").await;
    let log = alice.get("/admin/audit?role=developer").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    for shown in [
        "Dana Developer",
        "dana@example.com",
        "CreateApplication",
        "CreateRegistration",
        app.as_str(),
    ] {
        assert!(log.body.contains(shown), "{shown}: {}", log.body);
    }
    assert!(log.body.contains(">Role</label>") && log.body.contains(">Action</label>"));

    // By action: only that action's events.
    let created = alice.get("/admin/audit?action=CreateApplication").await;
    assert!(created.body.contains("CreateApplication"));
    assert!(!created.body.contains(">CreateRegistration<"));

    // By person: the link on her name filters to her events.
    let hers = link(&log, ">Dana Developer<").unwrap();
    assert!(hers.contains("actor=person"), "{hers}");
    let hers = alice.get(&hers).await;
    assert!(hers.body.contains("CreateRegistration") && hers.body.contains("Dana Developer"));

    // One event a page: "Older" carries the page token, "Newest" goes back.
    let first = alice.get("/admin/audit?role=developer&size=1").await;
    let older = link(&first, "rel=\"next\"").expect("an Older link");
    assert!(
        older.contains("page_token=") && older.contains("size=1"),
        "{older}"
    );
    assert!(
        older.contains("role=developer"),
        "the filter stays: {older}"
    );
    let second = alice.get(&older).await;
    assert_eq!(second.status, StatusCode::OK);
    assert!(second.body.contains("Newest"), "{older}: {}", second.body);
    let action = |page: &Page| {
        ["CreateApplication", "CreateRegistration"]
            .into_iter()
            .find(|a| page.body.contains(&format!(">{a}<")))
    };
    assert_ne!(
        action(&first),
        action(&second),
        "another event on the next page"
    );
}

#[tokio::test]
async fn the_overview_counts_and_shows_the_providers_that_fail_verify() {
    let s = stack().await;
    let mut broken = provider(&s.emu, "okta");
    broken.name = "broken-okta".into();
    broken.display_name = "Broken Okta".into();
    if let Some(pb::provider::Config::Okta(okta)) = &mut broken.config {
        okta.dcr_token = "not-the-okta-api-token".into();
    }
    s.registry
        .clients
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(broken),
        })
        .await
        .unwrap();
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    create_app(&mut dana, &s, "Waiting app").await;

    let mut alice = Browser::new(&s);
    alice.sign_in("alice").await;
    let overview = alice.get("/admin").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    for count in [
        "<strong>1</strong> waiting for approval",
        "<strong>2</strong> identity provider connections",
        "<strong>1</strong> configured",
        "<strong>1</strong> published",
    ] {
        assert!(overview.body.contains(count), "{count}: {}", overview.body);
    }
    let failing = overview
        .body
        .split("id=\"failing-providers\"")
        .nth(1)
        .expect("a list of failing providers")
        .split("</div>")
        .next()
        .unwrap();
    assert!(failing.contains("Broken Okta"), "{failing}");
    assert_eq!(
        failing.matches("<article").count(),
        1,
        "only the broken one: {failing}"
    );
    // Its message, with what to fix: Okta refused the API token.
    assert!(failing.contains("dcr_token"), "its message: {failing}");
    // The drift report could not list the broken provider's clients: it says so there.
    let attention = overview
        .body
        .split("Operations needing attention")
        .nth(1)
        .expect("the drift section");
    assert!(
        attention.contains("<h4>broken-okta</h4>") && attention.contains("The report is partial"),
        "{attention}"
    );
    assert!(overview.body.contains("Checked at "));

    // "Check again" runs the checks now.
    let again = alice
        .post("/admin/check", &[("csrf", &overview.input("csrf"))])
        .await;
    assert!(
        again.body.contains("Checked 2 providers: 1 failed Verify."),
        "{}",
        again.body
    );

    // An approver sees what approvers may read: no provider counts, no checks.
    let mut aaron = Browser::new(&s);
    aaron.sign_in("aaron").await;
    let theirs = aaron.get("/admin").await;
    assert_eq!(theirs.status, StatusCode::OK);
    assert!(
        theirs
            .body
            .contains("<strong>1</strong> waiting for approval")
    );
    assert!(!theirs.body.contains("identity provider connection"));
    assert!(!theirs.body.contains("Provider checks"));
    let refused = aaron
        .post("/admin/check", &[("csrf", &theirs.input("csrf"))])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn viewers_see_read_only_pages_and_developers_are_refused() {
    let s = stack().await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    create_app(&mut dana, &s, "Seen by a viewer").await;
    for url in ["/admin", "/admin/registrations", "/admin/audit"] {
        let page = dana.get(url).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{url}");
    }
    let csrf = dana.csrf("/apps").await;
    let page = dana.post("/admin/check", &[("csrf", &csrf)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    set_groups(&s, "diego", &["dcr-viewers"]).await;
    let mut diego = Browser::new(&s);
    diego.sign_in("diego").await;
    let overview = diego.get("/admin").await;
    assert_eq!(overview.status, StatusCode::OK, "{}", overview.body);
    assert!(
        overview
            .body
            .contains("<strong>1</strong> waiting for approval (approvers decide)")
    );
    assert!(
        overview
            .body
            .contains("<strong>1</strong> identity provider connection.")
    );
    assert!(
        !overview.body.contains("Check again"),
        "viewers do not run checks"
    );
    let queue = diego.get("/admin/registrations").await;
    assert!(queue.body.contains("Seen by a viewer"));
    assert!(!queue.body.contains("Approve"), "no decisions for viewers");
    let log = diego.get("/admin/audit").await;
    assert_eq!(log.status, StatusCode::OK);
    assert!(log.body.contains("Dana Developer"));
    assert!(
        !log.body.contains("<form method=\"post\" action=\"/admin"),
        "read-only"
    );
}

#[tokio::test]
async fn the_overview_shows_an_operation_stuck_at_the_identity_provider() {
    let s = stack().await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    let (app, secret) = create_app(&mut dana, &s, "Stuck app").await;
    dana.post(
        &format!("/apps/{app}/credentials"),
        &[("csrf", &secret.input("csrf"))],
    )
    .await;
    let page = dana.get(&format!("/apps/{app}")).await;
    let revoke = page
        .body
        .split("action=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|action| action.ends_with("/revoke"))
        .unwrap()
        .to_owned();
    // Okta's secrets API is down while the secret is revoked: dcr refuses the secret at
    // once and keeps the revocation at Okta pending.
    fault(
        &s.emu,
        json!({"path_prefix": "/okta/api/v1/apps/", "method": "POST", "status": 503, "times": 50}),
    )
    .await;
    let revoked = dana.post(&revoke, &[("csrf", &page.input("csrf"))]).await;
    assert!(
        revoked.body.contains("has not confirmed"),
        "{}",
        revoked.body
    );

    let mut alice = Browser::new(&s);
    alice.sign_in("alice").await;
    let overview = alice.get("/admin").await;
    let attention = overview
        .body
        .split("Operations needing attention")
        .nth(1)
        .expect("the drift section");
    assert!(attention.contains("Stuck operations at"), "{attention}");
    assert!(
        attention.contains("revoke_secret") && attention.contains(&app),
        "{attention}"
    );
}
