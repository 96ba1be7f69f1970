//! What keeps people safe: escaping, CSRF, other people's apps, and the response headers.

use dcr_proto::registry::v1 as pb;
use reqwest::StatusCode;

use crate::helpers::{Browser, create_app, create_app_described, stack};

#[tokio::test]
async fn names_and_descriptions_are_rendered_escaped() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    browser.sign_in("dana").await;
    let name = "\"Quoted\" 'app' & co";
    let description = "<script>alert(\"x\")</script>\nsecond line";
    let (id, _) = create_app_described(&mut browser, &s, name, description).await;
    for url in [
        "/apps".to_owned(),
        format!("/apps/{id}"),
        format!("/apps/{id}/delete"),
    ] {
        let page = browser.get(&url).await;
        assert_eq!(page.status, StatusCode::OK, "{url}");
        assert!(!page.body.contains("<script>alert"), "{url}: unescaped");
        assert!(!page.body.contains("\"Quoted\""), "{url}: unescaped quotes");
        assert!(
            page.body
                .contains("&#34;Quoted&#34; &#39;app&#39; &#38; co"),
            "{url}: {}",
            page.body
        );
    }
    let app = browser.get(&format!("/apps/{id}")).await;
    assert!(
        app.body
            .contains("&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62;\nsecond line"),
        "{}",
        app.body
    );
}

#[tokio::test]
async fn forms_without_this_sessions_csrf_token_are_refused() {
    let s = stack().await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    let mut diego = Browser::new(&s);
    diego.sign_in("diego").await;
    let form = dana.get("/apps/new").await;
    let theirs = diego.csrf("/apps").await;
    for csrf in ["", "0000", theirs.as_str()] {
        let page = dana
            .post(
                "/apps",
                &[
                    ("csrf", csrf),
                    ("request_id", &form.input("request_id")),
                    ("name", "forged"),
                    ("product_id", &s.product.id),
                ],
            )
            .await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "csrf {csrf:?}");
        assert!(page.body.contains("This form has expired"));
    }
    let apps = s
        .registry
        .clients
        .portal("dana")
        .list_applications(pb::ListApplicationsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert!(apps.applications.is_empty(), "nothing was created");
    // A post without any session goes to sign in, and changes nothing.
    let mut stranger = Browser::new(&s);
    let page = stranger
        .post("/apps", &[("csrf", "x"), ("name", "anon")])
        .await;
    assert!(page.url.contains("/sso/"), "{}", page.url);
}

#[tokio::test]
async fn another_developers_app_is_not_found_by_changing_the_url() {
    let s = stack().await;
    let mut diego = Browser::new(&s);
    diego.sign_in("diego").await;
    let (id, _) = create_app(&mut diego, &s, "Diego's").await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    let csrf = dana.csrf("/apps").await;
    for url in [format!("/apps/{id}"), format!("/apps/{id}/delete")] {
        let page = dana.get(&url).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{url}");
        assert!(!page.body.contains("Diego's"));
    }
    for url in [
        format!("/apps/{id}/delete"),
        format!("/apps/{id}/credentials"),
        format!("/apps/{id}/regenerate"),
    ] {
        let page = dana.post(&url, &[("csrf", &csrf)]).await;
        assert_eq!(
            page.status,
            StatusCode::NOT_FOUND,
            "POST {url}: {}",
            page.body
        );
    }
    // Still there, untouched.
    let app = diego.get(&format!("/apps/{id}")).await;
    assert_eq!(app.status, StatusCode::OK);
    assert_eq!(app.body.matches(">Revoke</button>").count(), 1);
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    let anonymous = browser.get("/").await;
    browser.sign_in("dana").await;
    let signed_in = browser.get("/apps").await;
    let missing = browser.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for page in [&anonymous, &signed_in, &missing] {
        let header = |name: &str| {
            page.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let csp = header("content-security-policy").expect("CSP");
        assert!(
            csp.contains("default-src 'none'") && csp.contains("script-src 'self'"),
            "{csp}"
        );
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"),
            "{csp}"
        );
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
        assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
        assert_eq!(
            header("cache-control").as_deref(),
            Some("no-store"),
            "{}",
            page.url
        );
    }
    // No inline script: the only script is the file CSP allows.
    assert!(!signed_in.body.contains("<script>"));
    assert!(signed_in.body.contains("<script src=\"/static/portal.js\""));
}
