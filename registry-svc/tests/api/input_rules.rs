//! Issue #17: inputs the registry refuses (names with control characters, audiences that
//! are not URIs, plain-http redirects off loopback), how much of a bad value an error
//! repeats, and what a saved or verified provider says when its IdP does not answer.

use dcr_proto::registry::v1 as pb;
use dcr_testkit::emulator::{emulator, provider as emulator_provider};
use dcr_testkit::registry::violations_with_descriptions;
use tonic::Code;

use crate::helpers::{TestApp, spawn_app};
use crate::http_bridge::bridge_provider;
use crate::rfc7591::rfc7591_provider;

/// The field violations of an INVALID_ARGUMENT status, as (field, description).
fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    violations_with_descriptions(status)
}

/// A loopback port nothing listens on: bound, then released.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A provider whose issuer does not answer, its strategy and product.
async fn setup(app: &TestApp) -> (pb::Provider, pb::AuthStrategy, pb::ApiProduct) {
    let issuer = format!("http://127.0.0.1:{}", closed_port().await);
    app.setup(rfc7591_provider("p", &issuer, ""), false).await
}

const ONE_LINE: &str =
    "must not contain control characters such as tabs or newlines (it is shown on one line)";

#[tokio::test]
async fn names_with_tabs_or_newlines_are_refused_and_descriptions_keep_them() {
    let app = spawn_app().await;
    let (provider, strategy, _) = setup(&app).await;

    let bad_provider = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(pb::Provider {
                display_name: "Okta\tprod".into(),
                ..rfc7591_provider("okta\nprod", "http://127.0.0.1:9", "")
            }),
        })
        .await
        .unwrap_err();
    let mut seen = violations(&bad_provider);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("provider.display_name".to_owned(), ONE_LINE.to_owned()),
            ("provider.name".to_owned(), ONE_LINE.to_owned()),
        ]
    );
    let bad_strategy = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "partners\t2".into(),
                provider_id: provider.id.clone(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&bad_strategy),
        [("strategy.name".to_owned(), ONE_LINE.to_owned())]
    );
    let mut products = app.products();
    let bad_product = products
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "orders\napi".into(),
                strategy_id: strategy.id.clone(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&bad_product),
        [("product.name".to_owned(), ONE_LINE.to_owned())]
    );
    let bad_app = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "shop\r\nv2".into(),
            strategy_id: strategy.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&bad_app),
        [("name".to_owned(), ONE_LINE.to_owned())]
    );

    // Descriptions are several lines of text: newlines and tabs stay.
    let described = products
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "orders".into(),
                description: "Orders.\n\tSee the wiki.".into(),
                strategy_id: strategy.id.clone(),
                ..Default::default()
            }),
        })
        .await
        .expect("a description may have newlines and tabs")
        .into_inner();
    assert_eq!(described.description, "Orders.\n\tSee the wiki.");
}

const NOT_A_URI: &str = "must be an absolute URI such as https://api.example.com or api://default";

#[tokio::test]
async fn audiences_must_be_absolute_uris() {
    let app = spawn_app().await;
    let (provider, strategy, _) = setup(&app).await;

    let bad_strategy = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "s2".into(),
                provider_id: provider.id.clone(),
                audience: "not a url".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let seen = violations(&bad_strategy);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "strategy.audience");
    assert!(seen[0].1.starts_with(NOT_A_URI), "{seen:?}");

    let mut products = app.products();
    let bad_product = products
        .create_product(pb::CreateProductRequest {
            product: Some(pb::ApiProduct {
                name: "orders".into(),
                strategy_id: strategy.id.clone(),
                audience: "orders-api".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let seen = violations(&bad_product);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].0, "product.audience");
    assert!(seen[0].1.starts_with(NOT_A_URI), "{seen:?}");

    // URNs and custom schemes are absolute URIs too; each is kept exactly as given.
    for (name, audience) in [("urn", "urn:example:api"), ("okta", "api://default")] {
        let created = products
            .create_product(pb::CreateProductRequest {
                product: Some(pb::ApiProduct {
                    name: name.into(),
                    strategy_id: strategy.id.clone(),
                    audience: audience.into(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap_or_else(|e| panic!("{audience} is an absolute URI: {e:?}"))
            .into_inner();
        assert_eq!(created.audience, audience);
    }
}

/// An update of `strategy` that sends `name` as its cookie name, with `field` as the mask.
fn cookie_update(
    strategy: &pb::AuthStrategy,
    field: &str,
    name: &str,
) -> pb::UpdateStrategyRequest {
    pb::UpdateStrategyRequest {
        strategy: Some(pb::AuthStrategy {
            id: strategy.id.clone(),
            session_cookie_name: name.into(),
            ..Default::default()
        }),
        update_mask: Some(prost_types::FieldMask {
            paths: vec![field.into()],
        }),
    }
}

/// A session cookie name is an RFC 6265 token, kept as given; left empty it is the
/// strategy's own `__Host-` name, so two strategies' sessions never share a cookie.
#[tokio::test]
async fn session_cookie_names_are_tokens_and_default_to_the_strategys_own() {
    let app = spawn_app().await;
    let (provider, strategy, _) = setup(&app).await;
    let own = |s: &pb::AuthStrategy| format!("__Host-dcr-session-{}", s.id.replace('-', ""));
    assert_eq!(strategy.session_cookie_name, own(&strategy));

    let mut strategies = app.strategies();
    let with_cookie = |name: &str, cookie: &str| pb::CreateStrategyRequest {
        strategy: Some(pb::AuthStrategy {
            name: name.into(),
            provider_id: provider.id.clone(),
            session_cookie_name: cookie.into(),
            ..Default::default()
        }),
    };
    for bad in [
        "a;b",
        "dcr session",
        "sid=1",
        "s\u{e9}ance",
        &"x".repeat(65),
    ] {
        let refused = strategies
            .create_strategy(with_cookie("bad", bad))
            .await
            .unwrap_err();
        let seen = violations(&refused);
        assert_eq!(seen.len(), 1, "{bad}: {seen:?}");
        assert_eq!(seen[0].0, "strategy.session_cookie_name");
        assert!(seen[0].1.contains("RFC 6265 token"), "{seen:?}");
    }

    let given = strategies
        .create_strategy(with_cookie("given", "__Secure-sid"))
        .await
        .expect("a __Secure- name is a token")
        .into_inner();
    assert_eq!(given.session_cookie_name, "__Secure-sid");
    let kept = strategies
        .update_strategy(cookie_update(&given, "scopes", ""))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(kept.session_cookie_name, "__Secure-sid", "not in the mask");
    let emptied = strategies
        .update_strategy(cookie_update(&given, "session_cookie_name", ""))
        .await
        .expect("update")
        .into_inner();
    assert_eq!(emptied.session_cookie_name, own(&given));
    assert_ne!(own(&given), own(&strategy));
    // The default passes the check when sent back, as an exported file does.
    strategies
        .update_strategy(cookie_update(
            &strategy,
            "session_cookie_name",
            &own(&strategy),
        ))
        .await
        .expect("the default is a valid name");
}

#[tokio::test]
async fn plain_http_redirect_uris_must_be_loopback() {
    let app = spawn_app().await;
    let (_, strategy, _) = setup(&app).await;
    let refused = app
        .portal("dev-1")
        .create_application(pb::CreateApplicationRequest {
            name: "shop".into(),
            strategy_id: strategy.id.clone(),
            redirect_uris: vec![
                "http://127.0.0.1:8400/cb".into(),
                "http://[::1]:8400/cb".into(),
                "http://localhost:8400/cb".into(),
                "com.example.app:/cb".into(),
                "https://app.example.com/cb".into(),
                "http://example.com/cb".into(),
            ],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&refused),
        [(
            "redirect_uris[5]".to_owned(),
            "must use https: plain http is only for loopback redirects (127.0.0.1, [::1] or \
             localhost; RFC 8252 section 7.3)"
                .to_owned()
        )],
        "only the non-loopback http URI is refused"
    );
}

#[tokio::test]
async fn a_huge_bad_value_is_echoed_cut_short() {
    let app = spawn_app().await;
    let (provider, _, _) = setup(&app).await;
    let huge = "x".repeat(130_000);
    let cut = format!("{}... (129936 more characters)", "x".repeat(64));

    let bad_label = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(pb::Provider {
                labels: [(huge.clone(), "v".to_owned())].into(),
                ..rfc7591_provider("labelled", "http://127.0.0.1:9", "")
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(
        violations(&bad_label),
        [(
            "provider.labels".to_owned(),
            format!("label key \"{cut}\" must be 1-63 of [a-z0-9_-], starting with a letter")
        )]
    );
    assert!(bad_label.message().len() < 300, "{}", bad_label.message());

    let bad_scope = app
        .strategies()
        .create_strategy(pb::CreateStrategyRequest {
            strategy: Some(pb::AuthStrategy {
                name: "s2".into(),
                provider_id: provider.id.clone(),
                scopes: vec![format!("{huge} ")],
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    let seen = violations(&bad_scope);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0]
            .1
            .starts_with(&format!("\"{}... (129937 more", "x".repeat(64)))
    );
    assert!(bad_scope.message().len() < 300, "{}", bad_scope.message());
}

#[tokio::test]
async fn a_provider_whose_issuer_does_not_answer_is_saved_with_a_warning() {
    let app = spawn_app().await;
    let mut providers = app.providers();
    let issuer = format!("https://127.0.0.1:{}", closed_port().await);
    let warning = |name: &str| {
        format!(
            "the issuer {issuer} did not answer (cannot connect: connection refused); the \
             provider was saved, but tokens cannot be checked until it does: run `dcrctl \
             providers verify {name}`"
        )
    };
    let created = providers
        .create_provider(pb::CreateProviderRequest {
            provider: Some(rfc7591_provider("down-idp", &issuer, "")),
        })
        .await
        .expect("saved although the issuer does not answer")
        .into_inner();
    assert_eq!(created.warnings, [warning("down-idp")]);
    let stored = providers
        .get_provider(pb::GetProviderRequest {
            id: created.id.clone(),
        })
        .await
        .expect("get")
        .into_inner();
    assert_eq!(stored.issuer, issuer, "saved");
    assert!(stored.warnings.is_empty(), "only create and update warn");

    let updated = providers
        .update_provider(pb::UpdateProviderRequest {
            provider: Some(pb::Provider {
                id: created.id.clone(),
                display_name: "Down".into(),
                ..Default::default()
            }),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["display_name".into()],
            }),
        })
        .await
        .expect("update")
        .into_inner();
    assert_eq!(updated.warnings, [warning("down-idp")]);

    // An issuer that answers its discovery: no warning.
    let emu = emulator().await;
    let answering = providers
        .create_provider(pb::CreateProviderRequest {
            provider: Some(emulator_provider(&emu, "okta")),
        })
        .await
        .expect("create")
        .into_inner();
    assert!(answering.warnings.is_empty(), "{:?}", answering.warnings);
}

#[tokio::test]
async fn a_failed_verify_names_the_url_it_tried() {
    let app = spawn_app().await;
    let base_url = format!("http://127.0.0.1:{}", closed_port().await);
    let created = app
        .providers()
        .create_provider(pb::CreateProviderRequest {
            provider: Some(bridge_provider("bridge", &base_url, (false, false, false))),
        })
        .await
        .expect("create")
        .into_inner();
    let verdict = app
        .providers()
        .verify_provider(pb::VerifyProviderRequest { id: created.id })
        .await
        .expect("verify")
        .into_inner();
    assert!(!verdict.ok);
    assert_eq!(
        verdict.detail,
        format!(
            "the identity provider is unreachable: bridge verify: cannot connect: connection \
             refused (tried {base_url}/)"
        )
    );
}
