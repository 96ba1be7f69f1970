//! The admin console's configuration pages: providers (a form per type, write-only
//! secrets, Verify), auth strategies and products, as each role sees them.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{control, provider};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Browser, Page, Stack, stack};

/// The emulator's Okta: its issuer and seeded API token.
fn okta(s: &Stack) -> (String, String) {
    let seeded = provider(&s.emu, "okta");
    let Some(pb::provider::Config::Okta(config)) = seeded.config else {
        panic!("an okta config");
    };
    (seeded.issuer, config.dcr_token)
}

/// Gives `login` these groups at the identity provider before they sign in.
async fn groups(s: &Stack, login: &str, groups: &[&str]) {
    control(
        &s.emu,
        &format!("sso/people/{login}"),
        json!({ "groups": groups }),
    )
    .await;
}

/// The id in a page's URL after `prefix` (e.g. "/admin/providers/").
fn id_after(page: &Page, prefix: &str) -> String {
    page.url
        .split(prefix)
        .nth(1)
        .map(|rest| rest.split(['/', '?']).next().unwrap_or(rest).to_owned())
        .unwrap_or_else(|| panic!("no {prefix} in {}", page.url))
}

async fn verify(browser: &mut Browser, id: &str) -> Page {
    let csrf = browser.csrf(&format!("/admin/providers/{id}")).await;
    let page = browser
        .post(&format!("/admin/providers/{id}/verify"), &[("csrf", &csrf)])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page
}

#[tokio::test]
async fn an_admin_creates_edits_and_verifies_an_okta_provider_whose_secret_never_shows() {
    let s = stack().await;
    let (issuer, token) = okta(&s);
    let wrong = "00WrongOktaTokenTypedInThePortal0000000001";
    let mut alice = Browser::new(&s);
    alice.sign_in("alice").await;
    let mut pages = Vec::new();

    let list = alice.get("/admin/providers").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("href=\"/admin/providers/new\""));
    let types = alice.get("/admin/providers/new").await;
    for kind in [
        "auth0",
        "okta",
        "curity",
        "azure_ad",
        "rfc7591",
        "http_bridge",
    ] {
        assert!(
            types
                .body
                .contains(&format!("/admin/providers/new/{kind}\"")),
            "{kind}"
        );
    }

    // Exactly Okta's fields, the token a password input that is not remembered.
    let form = alice.get("/admin/providers/new/okta").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    for field in [
        "dcr_token",
        "management_client_id",
        "management_private_key",
        "management_key_id",
    ] {
        assert!(form.body.contains(&format!("name=\"{field}\"")), "{field}");
        assert!(
            form.body.contains(&format!("<label for=\"{field}\"")),
            "{field}"
        );
        assert!(
            form.body.contains(&format!("id=\"{field}-hint\"")),
            "{field}"
        );
    }
    for other in ["initial_client_id", "api_key", "graph_base_url"] {
        assert!(!form.body.contains(&format!("name=\"{other}\"")), "{other}");
    }
    assert!(form.body.contains(
        "<input type=\"password\" id=\"dcr_token\" name=\"dcr_token\" value=\"\" autocomplete=\"off\""
    ));

    let created = alice
        .post(
            "/admin/providers/new/okta",
            &[
                ("csrf", &form.input("csrf")),
                ("name", "okta-portal"),
                ("display_name", "Okta (portal)"),
                ("issuer", &issuer),
                ("active", "on"),
                ("labels", "team=payments"),
                ("dcr_token", &token),
                ("management_client_id", ""),
                ("management_private_key", ""),
                ("management_key_id", ""),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert!(created.body.contains("was created"), "{}", created.body);
    assert!(created.body.contains("team=payments"));
    let id = id_after(&created, "/admin/providers/");
    pages.push(created);

    let verified = verify(&mut alice, &id).await;
    assert!(verified.body.contains("Verified."), "{}", verified.body);
    assert!(
        verified.body.contains("lists OAuth clients"),
        "{}",
        verified.body
    );
    pages.push(verified);

    // An edit with the token left empty keeps it: only what changed is sent.
    let edit = alice.get(&format!("/admin/providers/{id}/edit")).await;
    assert!(edit.body.contains("leave empty to keep"), "{}", edit.body);
    assert!(edit.body.contains("name=\"clear_dcr_token\""));
    assert!(edit.body.contains("value=\"Okta (portal)\""));
    let saved = alice
        .post(
            &format!("/admin/providers/{id}/edit"),
            &[
                ("csrf", &edit.input("csrf")),
                ("name", "okta-portal"),
                ("display_name", "Okta for payments"),
                ("issuer", &issuer),
                ("active", "on"),
                ("labels", "team=payments"),
                ("dcr_token", ""),
                ("management_client_id", ""),
                ("management_private_key", ""),
                ("management_key_id", ""),
            ],
        )
        .await;
    assert!(saved.body.contains("was saved"), "{}", saved.body);
    assert!(saved.body.contains("Okta for payments"));
    pages.push(saved);
    let still = verify(&mut alice, &id).await;
    assert!(
        still.body.contains("Verified."),
        "the token was kept: {}",
        still.body
    );
    pages.push(still);

    // A wrong token: Verify says so, with what to do.
    let edit = alice.get(&format!("/admin/providers/{id}/edit")).await;
    let saved = alice
        .post(
            &format!("/admin/providers/{id}/edit"),
            &[
                ("csrf", &edit.input("csrf")),
                ("name", "okta-portal"),
                ("display_name", "Okta for payments"),
                ("issuer", &issuer),
                ("active", "on"),
                ("labels", "team=payments"),
                ("dcr_token", wrong),
            ],
        )
        .await;
    assert!(saved.body.contains("was saved"), "{}", saved.body);
    pages.push(saved);
    let failed = verify(&mut alice, &id).await;
    assert!(
        failed.body.contains("Verification failed."),
        "{}",
        failed.body
    );
    assert!(
        failed.body.contains("Okta refused the API token")
            && failed.body.contains("Application Administrator"),
        "the registry's hint: {}",
        failed.body
    );
    pages.push(failed);

    let stored = s
        .registry
        .clients
        .providers()
        .get_provider(pb::GetProviderRequest { id: id.clone() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stored.display_name, "Okta for payments");
    assert_eq!(
        stored.labels.get("team").map(String::as_str),
        Some("payments")
    );

    pages.push(alice.get("/admin/providers").await);
    pages.push(alice.get(&format!("/admin/providers/{id}/edit")).await);
    for page in &pages {
        assert!(!page.body.contains(&token), "the token on {}", page.url);
        assert!(!page.body.contains(wrong), "the token on {}", page.url);
    }
    let logs = dcr_testkit::registry::captured_logs();
    assert!(!logs.contains(wrong), "a typed token in the logs");
    assert!(!logs.contains(&token), "the seeded token in the logs");
}

#[tokio::test]
async fn a_bad_field_comes_back_next_to_it_with_the_input_kept() {
    let s = stack().await;
    let typed = "typed-secret-never-shown-again-42";
    let mut alice = Browser::new(&s);
    alice.sign_in("alice").await;
    let csrf = alice.csrf("/admin/providers/new/okta").await;
    let page = alice
        .post(
            "/admin/providers/new/okta",
            &[
                ("csrf", &csrf),
                ("name", "okta-bad"),
                ("issuer", "not a url"),
                ("active", "on"),
                ("dcr_token", typed),
                ("management_client_id", "0oa-service-app"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("id=\"issuer-error\""), "{}", page.body);
    assert!(
        page.body
            .contains("aria-describedby=\"issuer-hint issuer-error\"")
    );
    assert!(page.body.contains("aria-invalid=\"true\""));
    // Okta takes an API token or a service app, not both: said at the token's field.
    assert!(
        page.body.contains("id=\"dcr_token-error\""),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("value=\"not a url\""),
        "the issuer as typed"
    );
    assert!(
        page.body.contains("value=\"okta-bad\""),
        "the name as typed"
    );
    assert!(page.body.contains("value=\"0oa-service-app\""));
    assert!(!page.body.contains(typed), "a secret is never echoed back");

    // A label line the portal cannot read comes back the same way.
    let page = alice
        .post(
            "/admin/providers/new/okta",
            &[
                ("csrf", &csrf),
                ("name", "okta-bad"),
                ("issuer", "https://org.okta.example/oauth2/default"),
                ("labels", "no equals sign"),
                ("dcr_token", typed),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.body.contains("id=\"labels-error\""), "{}", page.body);
    assert!(page.body.contains(">no equals sign</textarea>"));
    assert!(!page.body.contains(typed));

    let names: Vec<String> = s
        .registry
        .clients
        .providers()
        .list_providers(pb::ListProvidersRequest::default())
        .await
        .unwrap()
        .into_inner()
        .providers
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert!(
        !names.contains(&"okta-bad".to_owned()),
        "nothing created: {names:?}"
    );
    assert!(!dcr_testkit::registry::captured_logs().contains(typed));
}

#[tokio::test]
async fn a_viewer_sees_the_lists_without_buttons_and_a_forged_post_is_refused() {
    let s = stack().await;
    groups(&s, "diego", &["dcr-viewers"]).await;
    let mut diego = Browser::new(&s);
    diego.sign_in("diego").await;

    let providers = diego.get("/admin/providers").await;
    assert_eq!(providers.status, StatusCode::OK, "{}", providers.body);
    assert!(providers.body.contains(">okta</a>"), "{}", providers.body);
    assert!(!providers.body.contains("/admin/providers/new"));
    let strategies = diego.get("/admin/strategies").await;
    assert_eq!(strategies.status, StatusCode::OK, "{}", strategies.body);
    assert!(strategies.body.contains("strategy-okta"));
    assert!(!strategies.body.contains("/admin/strategies/new"));
    assert!(!strategies.body.contains("/edit\""));
    let products = diego.get("/admin/products").await;
    assert_eq!(products.status, StatusCode::OK, "{}", products.body);
    assert!(products.body.contains(&s.product.name));
    assert!(!products.body.contains("/admin/products/new"));
    assert!(!products.body.contains("/delete\""));

    let id = s.registry_provider_id().await;
    let page = diego.get(&format!("/admin/providers/{id}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(!page.body.contains("/verify\""), "no Verify for a viewer");
    assert!(!page.body.contains("/edit\""));

    let csrf = providers.input("csrf");
    let (issuer, _) = okta(&s);
    let forged = diego
        .post(
            "/admin/providers/new/okta",
            &[
                ("csrf", &csrf),
                ("name", "okta-forged"),
                ("issuer", &issuer),
                ("dcr_token", "forged-token"),
            ],
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);
    assert!(
        forged
            .body
            .contains("CreateProvider needs the admin or provider-admin role"),
        "{}",
        forged.body
    );
    let deleted = diego
        .post(
            &format!("/admin/products/{}/delete", s.product.id),
            &[("csrf", &csrf)],
        )
        .await;
    assert!(
        deleted.body.contains("DeleteProduct needs"),
        "{}",
        deleted.body
    );
}

#[tokio::test]
async fn a_provider_admin_may_configure_providers_but_not_products() {
    let s = stack().await;
    groups(&s, "dana", &["dcr-provider-admins"]).await;
    let mut dana = Browser::new(&s);
    dana.sign_in("dana").await;
    assert!(
        dana.get("/admin/providers")
            .await
            .body
            .contains("href=\"/admin/providers/new\"")
    );
    assert!(
        dana.get("/admin/strategies")
            .await
            .body
            .contains("href=\"/admin/strategies/new\"")
    );
    let products = dana.get("/admin/products").await;
    assert_eq!(products.status, StatusCode::OK, "{}", products.body);
    assert!(
        !products.body.contains("/admin/products/new"),
        "no create button"
    );

    let strategy = s.product.strategy_id.clone();
    let page = dana
        .post(
            "/admin/products",
            &[
                ("csrf", &products.input("csrf")),
                ("name", "sneaky-product"),
                ("strategy_id", &strategy),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.body);
    assert!(
        page.body.contains("CreateProduct needs the admin role"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn strategies_and_products_are_created_edited_and_deleted() {
    let s = stack().await;
    let provider_id = s.registry_provider_id().await;
    let mut alice = Browser::new(&s);
    alice.sign_in("alice").await;

    let form = alice.get("/admin/strategies/new").await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("<legend>Auth methods</legend>"));
    assert!(form.body.contains("<label for=\"provider_id\""));
    let csrf = form.input("csrf");
    let strategy_form = |ttl: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("name", "portal-strategy".to_owned()),
            ("provider_id", provider_id.clone()),
            ("scopes", "read write".to_owned()),
            ("audience", "https://api.example.com".to_owned()),
            ("auth_methods", "client_credentials".to_owned()),
            ("auth_methods", "session".to_owned()),
            ("session_cookie_name", String::new()),
            ("session_ttl", ttl.to_owned()),
            ("credential_claims", String::new()),
            ("auto_approve", "on".to_owned()),
        ]
    };
    // Not seconds: back next to its field.
    let bad = strategy_form("soon");
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = alice.post("/admin/strategies", &bad).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(
        page.body.contains("id=\"session_ttl-error\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("value=\"soon\""));

    let good = strategy_form("7200");
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let page = alice.post("/admin/strategies", &good).await;
    assert!(page.body.contains("was created"), "{}", page.body);
    let strategy = registry_strategies(&s)
        .await
        .into_iter()
        .find(|st| st.name == "portal-strategy")
        .expect("created");
    assert_eq!(strategy.scopes, ["read", "write"]);
    assert_eq!(
        strategy.auth_methods,
        [
            pb::AuthMethod::ClientCredentials as i32,
            pb::AuthMethod::Session as i32
        ]
    );
    assert_eq!(strategy.session_ttl.map(|d| d.seconds), Some(7200));
    assert!(strategy.auto_approve);

    // Edit: only the scopes change; the rest stays as it was.
    let edit = alice
        .get(&format!("/admin/strategies/{}/edit", strategy.id))
        .await;
    assert!(edit.body.contains("value=\"7200\""), "{}", edit.body);
    assert!(edit.body.contains("value=\"session\" checked"));
    let claims = strategy.credential_claims.join(" ");
    let page = alice
        .post(
            &format!("/admin/strategies/{}/edit", strategy.id),
            &[
                ("csrf", &edit.input("csrf")),
                ("name", "portal-strategy"),
                ("scopes", "read"),
                ("audience", "https://api.example.com"),
                ("auth_methods", "client_credentials"),
                ("auth_methods", "session"),
                ("session_cookie_name", &strategy.session_cookie_name),
                ("session_ttl", "7200"),
                ("credential_claims", &claims),
                ("auto_approve", "on"),
            ],
        )
        .await;
    assert!(page.body.contains("was saved"), "{}", page.body);
    let edited = s
        .registry
        .clients
        .strategies()
        .get_strategy(pb::GetStrategyRequest {
            id: strategy.id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(edited.scopes, ["read"]);
    assert_eq!(edited.session_ttl.map(|d| d.seconds), Some(7200));
    assert_eq!(edited.session_cookie_name, strategy.session_cookie_name);

    // A product on it: create, edit, delete.
    let form = alice.get("/admin/products/new").await;
    assert!(form.body.contains(&format!("value=\"{}\"", strategy.id)));
    let page = alice
        .post(
            "/admin/products",
            &[
                ("csrf", &form.input("csrf")),
                ("name", "Portal API"),
                ("description", "Made in the admin console"),
                ("strategy_id", &strategy.id),
                ("audience", ""),
            ],
        )
        .await;
    assert!(page.body.contains("was created"), "{}", page.body);
    assert!(page.body.contains("Made in the admin console"));
    let product = registry_products(&s)
        .await
        .into_iter()
        .find(|p| p.name == "Portal API")
        .expect("created");
    let edit = alice
        .get(&format!("/admin/products/{}/edit", product.id))
        .await;
    let page = alice
        .post(
            &format!("/admin/products/{}/edit", product.id),
            &[
                ("csrf", &edit.input("csrf")),
                ("name", "Portal API"),
                ("description", "Edited in the admin console"),
                ("strategy_id", &strategy.id),
                ("audience", "https://portal-api.example.com"),
            ],
        )
        .await;
    assert!(page.body.contains("was saved"), "{}", page.body);
    assert!(page.body.contains("Edited in the admin console"));
    assert!(page.body.contains("https://portal-api.example.com"));

    // The strategy is in use: its delete is refused with the registry's message.
    let confirm = alice
        .get(&format!("/admin/strategies/{}/delete", strategy.id))
        .await;
    assert!(
        confirm
            .body
            .contains("Delete the auth strategy portal-strategy?")
    );
    let page = alice
        .post(
            &format!("/admin/strategies/{}/delete", strategy.id),
            &[("csrf", &confirm.input("csrf"))],
        )
        .await;
    assert!(page.body.contains("notice bad"), "{}", page.body);
    assert!(
        page.body.contains("Portal API"),
        "names the product: {}",
        page.body
    );

    let confirm = alice
        .get(&format!("/admin/products/{}/delete", product.id))
        .await;
    assert!(confirm.body.contains("Delete the API product Portal API?"));
    let page = alice
        .post(
            &format!("/admin/products/{}/delete", product.id),
            &[("csrf", &confirm.input("csrf"))],
        )
        .await;
    assert!(page.body.contains("was deleted"), "{}", page.body);
    let page = alice
        .post(
            &format!("/admin/strategies/{}/delete", strategy.id),
            &[("csrf", &confirm.input("csrf"))],
        )
        .await;
    assert!(page.body.contains("was deleted"), "{}", page.body);
    assert!(
        registry_strategies(&s)
            .await
            .iter()
            .all(|st| st.id != strategy.id)
    );
    assert!(
        registry_products(&s)
            .await
            .iter()
            .all(|p| p.id != product.id)
    );
}

#[tokio::test]
async fn deleting_a_provider_in_use_shows_the_registrys_message() {
    let s = stack().await;
    let id = s.registry_provider_id().await;
    let refusal = s
        .registry
        .clients
        .providers()
        .delete_provider(pb::DeleteProviderRequest { id: id.clone() })
        .await
        .expect_err("in use");
    let mut alice = Browser::new(&s);
    alice.sign_in("alice").await;
    let confirm = alice.get(&format!("/admin/providers/{id}/delete")).await;
    assert!(
        confirm.body.contains("Delete the provider okta?"),
        "{}",
        confirm.body
    );
    let page = alice
        .post(
            &format!("/admin/providers/{id}/delete"),
            &[("csrf", &confirm.input("csrf"))],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.url.ends_with(&format!("/admin/providers/{id}")),
        "{}",
        page.url
    );
    let shown = refusal
        .message()
        .replace('\'', "&#39;")
        .replace('"', "&#34;");
    assert!(page.body.contains(&shown), "{shown:?} in {}", page.body);
    assert!(page.body.contains("strategy-okta"));
}

async fn registry_strategies(s: &Stack) -> Vec<pb::AuthStrategy> {
    s.registry
        .clients
        .strategies()
        .list_strategies(pb::ListStrategiesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .strategies
}

async fn registry_products(s: &Stack) -> Vec<pb::ApiProduct> {
    s.registry
        .clients
        .products()
        .list_products(pb::ListProductsRequest::default())
        .await
        .unwrap()
        .into_inner()
        .products
}

impl Stack {
    /// The stack's own Okta provider (its product's strategy's).
    pub async fn registry_provider_id(&self) -> String {
        self.registry
            .clients
            .strategies()
            .get_strategy(pb::GetStrategyRequest {
                id: self.product.strategy_id.clone(),
            })
            .await
            .unwrap()
            .into_inner()
            .provider_id
    }
}
