//! A developer's apps through the portal: create (the secret once), credentials,
//! registrations, delete; the registry's refusals shown next to the field.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::registry::captured_logs;
use reqwest::StatusCode;

use crate::helpers::{Browser, create_app, stack};

#[tokio::test]
async fn a_new_apps_secret_is_shown_once_and_never_logged() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    browser.sign_in("dana").await;
    let (id, page) = create_app(&mut browser, &s, "Weather widget").await;
    let secret = page
        .after("<code id=\"client-secret\">")
        .expect("the secret is shown");
    let client_id = page.after("<code id=\"client-id\">").unwrap();
    assert!(secret.len() >= 16, "{secret:?}");
    assert!(page.body.contains("only time the secret is shown"));
    assert!(
        page.body.contains(&format!("CLIENT_SECRET={secret}")),
        "the .env text"
    );
    // The secret never travels in a URL.
    assert!(!page.url.contains(&secret));
    // Reloading does not show it again.
    let again = browser.get(&format!("/apps/{id}/secret")).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(!again.body.contains(&secret));
    // The app page shows the client id and the secret's last four characters only.
    let app = browser.get(&format!("/apps/{id}")).await;
    assert!(app.body.contains(&client_id));
    assert!(app.body.contains(&secret[secret.len() - 4..]));
    assert!(!app.body.contains(&secret));
    // Registered for the product it was made for: pending an approver.
    assert!(app.body.contains("pending approval"), "{}", app.body);
    assert!(
        app.body.contains("https://token.example.com/oauth2/token"),
        "the token example"
    );
    assert!(
        !captured_logs().contains(&secret),
        "the secret reached a log line"
    );
}

#[tokio::test]
async fn bad_input_comes_back_next_to_its_field_with_nothing_lost() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    browser.sign_in("dana").await;
    let form = browser.get("/apps/new").await;
    let page = browser
        .post(
            "/apps",
            &[
                ("csrf", &form.input("csrf")),
                ("request_id", &form.input("request_id")),
                ("name", ""),
                ("description", "kept <b>as typed</b>"),
                ("product_id", &s.product.id),
                ("redirect_uris", "not a url"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("id=\"name-error\""), "{}", page.body);
    assert!(page.body.contains("id=\"redirect-error\""), "{}", page.body);
    assert!(
        page.body.contains("kept &#60;b&#62;as typed&#60;/b&#62;"),
        "what was typed is kept, escaped"
    );
    assert!(page.body.contains("not a url"));
    let apps = s
        .registry
        .clients
        .portal("dana")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(apps.applications.is_empty(), "nothing was created");
}

#[tokio::test]
async fn secrets_are_added_regenerated_and_revoked_from_the_app_page() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    browser.sign_in("dana").await;
    let (id, first) = create_app(&mut browser, &s, "Rotating").await;
    let first = first.after("<code id=\"client-secret\">").unwrap();
    let csrf = browser.csrf(&format!("/apps/{id}")).await;

    let added = browser
        .post(&format!("/apps/{id}/credentials"), &[("csrf", &csrf)])
        .await;
    let second = added
        .after("<code id=\"client-secret\">")
        .expect("the new secret");
    assert_ne!(first, second);

    let app = browser.get(&format!("/apps/{id}")).await;
    assert_eq!(
        app.body.matches(">Revoke</button>").count(),
        2,
        "two active secrets"
    );
    assert!(
        !app.body.contains("Regenerate the secret"),
        "not with two active"
    );
    // Revoke the first one.
    let credentials = s
        .registry
        .clients
        .portal("dana")
        .list_credentials(pb::ListCredentialsRequest {
            application_id: id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .credentials;
    let old = credentials
        .iter()
        .find(|c| first.ends_with(&c.secret_hint))
        .unwrap();
    let after = browser
        .post(
            &format!("/apps/{id}/credentials/{}/revoke", old.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        after
            .body
            .contains(&format!("ending in {} was revoked", old.secret_hint)),
        "{}",
        after.body
    );
    assert_eq!(after.body.matches(">Revoke</button>").count(), 1);
    // With one active secret left, regenerate replaces it.
    let regenerated = browser
        .post(&format!("/apps/{id}/regenerate"), &[("csrf", &csrf)])
        .await;
    let third = regenerated
        .after("<code id=\"client-secret\">")
        .expect("the regenerated secret");
    assert_ne!(third, second);
    assert!(regenerated.body.contains("no longer works"));
}

#[tokio::test]
async fn deleting_an_app_asks_first_then_removes_it() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    browser.sign_in("dana").await;
    let (id, _) = create_app(&mut browser, &s, "Short-lived").await;
    let confirm = browser.get(&format!("/apps/{id}/delete")).await;
    assert!(confirm.body.contains("cannot be undone"));
    let csrf = confirm.input("csrf");
    let list = browser
        .post(&format!("/apps/{id}/delete"), &[("csrf", &csrf)])
        .await;
    assert!(list.url.ends_with("/apps"), "{}", list.url);
    assert!(list.body.contains("was deleted"));
    assert!(!list.body.contains("Short-lived"));
    assert_eq!(
        browser.get(&format!("/apps/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
}
