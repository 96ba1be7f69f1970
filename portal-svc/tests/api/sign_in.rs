//! Signing in and out, and sessions that end.

use reqwest::StatusCode;

use crate::helpers::{Browser, stack};

#[tokio::test]
async fn a_person_signs_in_at_the_identity_provider_and_lands_on_their_apps() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    let home = browser.get("/").await;
    assert!(home.body.contains("href=\"/login\""), "{}", home.body);
    let landed = browser.sign_in("dana").await;
    assert_eq!(landed.status, StatusCode::OK, "{}", landed.body);
    assert!(landed.url.ends_with("/apps"), "{}", landed.url);
    assert!(
        landed.body.contains("Dana"),
        "the page names the person: {}",
        landed.body
    );
    assert!(
        !landed.body.contains("href=\"/admin\""),
        "a developer has no admin link"
    );
    // The sign-in cookie is spent; the session cookie is all that is left.
    assert_eq!(
        browser.cookies.keys().collect::<Vec<_>>(),
        vec!["dcr-portal"]
    );
}

#[tokio::test]
async fn a_wrong_password_stays_at_the_identity_provider() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    let form = browser.get("/login").await;
    let action = form
        .body
        .split("action=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let action = url::Url::parse(&form.url)
        .unwrap()
        .join(&action)
        .unwrap()
        .to_string();
    let again = browser
        .post(&action, &[("login", "dana"), ("password", "wrong")])
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(!browser.cookies.contains_key("dcr-portal"), "no session");
}

#[tokio::test]
async fn a_callback_that_is_not_this_browsers_sign_in_is_refused() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    // No sign-in cookie: a code injected from elsewhere is not exchanged.
    let page = browser.get("/auth/callback?code=abc&state=xyz").await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{}", page.body);
    assert!(page.body.contains("was not started here"), "{}", page.body);
    // With this browser's sign-in started, a different state is refused too.
    browser.get("/login").await;
    let page = browser
        .get("/auth/callback?code=abc&state=not-the-state")
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains("(state)"), "{}", page.body);
}

#[tokio::test]
async fn an_expired_session_signs_in_again_and_comes_back_to_the_page() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    browser.sign_in("dana").await;
    assert_eq!(browser.get("/catalog").await.status, StatusCode::OK);
    // Idle for longer than the 30-minute default.
    s.clock.advance(chrono::Duration::minutes(31));
    let back = browser.sign_in_from("/catalog", "dana").await;
    assert_eq!(back.status, StatusCode::OK, "{}", back.body);
    assert!(
        back.url.ends_with("/catalog"),
        "back where they were: {}",
        back.url
    );
    assert!(back.body.contains(&s.product.name), "{}", back.body);
}

#[tokio::test]
async fn signing_out_ends_the_session_for_good() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    browser.sign_in("dana").await;
    let old = browser.cookies.clone();
    let csrf = browser.csrf("/apps").await;
    let out = browser.post("/logout", &[("csrf", &csrf)]).await;
    assert!(
        out.body.contains("href=\"/login\""),
        "the welcome page: {}",
        out.body
    );
    assert!(browser.cookies.is_empty(), "the cookie is deleted");
    // The old cookie, kept by someone, no longer works.
    browser.cookies = old;
    let page = browser.get("/apps").await;
    assert!(page.url.contains("/sso/"), "sent to sign in: {}", page.url);
}

#[tokio::test]
async fn sign_ins_from_one_address_are_bounded() {
    let s = stack().await;
    let mut browser = Browser::new(&s);
    // The default allows bursts of 20 a second per address; a flood finds the bound.
    let mut refused = None;
    for _ in 0..40 {
        let page = browser.get_once("/login").await;
        if page.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(page);
            break;
        }
        assert_eq!(page.status, StatusCode::SEE_OTHER);
    }
    let refused = refused.expect("40 sign-ins at once were all started");
    assert!(refused.headers.contains_key("retry-after"));
    assert!(
        refused.body.contains("Too many sign-ins"),
        "{}",
        refused.body
    );
}

/// Over https the session cookie is `__Host-` prefixed and `Secure` (the browser then keeps
/// it to this host, path `/`, and https only), HSTS is on, and signing in works the same.
#[tokio::test]
async fn over_https_cookies_are_host_only_and_secure() {
    let certs = dcr_testkit::tls::TestCerts::new();
    let s = crate::helpers::stack_with(Some(&certs.files)).await;
    assert!(s.portal.starts_with("https://localhost:"), "{}", s.portal);
    let mut browser = Browser::trusting(&s.portal, Some(&certs.files.ca_cert));
    let login = browser.get_once("/login").await;
    let sign_in_cookie = login.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        sign_in_cookie.starts_with("__Host-dcr-sign-in="),
        "{sign_in_cookie}"
    );
    let landed = browser.sign_in("dana").await;
    assert_eq!(landed.status, StatusCode::OK, "{}", landed.body);
    assert_eq!(
        browser.cookies.keys().collect::<Vec<_>>(),
        vec!["__Host-dcr-portal"]
    );
    let again = browser.get_once("/").await;
    assert!(again.headers.contains_key("strict-transport-security"));
    // The cookie's attributes, as the portal set them at the callback.
    let fresh = Browser::trusting(&s.portal, Some(&certs.files.ca_cert))
        .get_once("/login")
        .await;
    let attributes = fresh.headers["set-cookie"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for attribute in ["; secure", "; httponly", "; samesite=lax", "; path=/"] {
        assert!(attributes.contains(attribute), "{attributes}");
    }
}
