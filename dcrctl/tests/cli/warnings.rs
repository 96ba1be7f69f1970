//! The registry's warnings reach the user: a provider saved although its issuer does not
//! answer is shown as usual, followed by `warning: ...` on stderr (for every format),
//! and a failed verify says which URL it tried.

use dcr_testkit::registry::{ADMIN_TOKEN, spawn_app};

use crate::Dcrctl;

#[tokio::test]
async fn a_provider_whose_issuer_does_not_answer_is_created_with_a_warning() {
    let app = spawn_app().await;
    let cli = Dcrctl::default()
        .env("DCR_REGISTRY_URL", &format!("http://{}", app.addr))
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN);
    // A loopback port nothing listens on: bound, then released.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let issuer = format!("https://127.0.0.1:{port}");
    let warning = |name: &str| {
        format!(
            "warning: the issuer {issuer} did not answer (cannot connect: connection refused); \
             the provider was saved, but tokens cannot be checked until it does: run `dcrctl \
             providers verify {name}`\n"
        )
    };
    let create = [
        "providers",
        "create",
        "--type",
        "rfc7591",
        "--issuer",
        &issuer,
    ];

    let table = cli.run(&[&create[..], &["down-idp"]].concat()).await;
    assert!(table.ok().contains("down-idp"), "{table:?}");
    assert!(!table.stdout.contains("warning"), "{table:?}");
    assert_eq!(table.stderr, warning("down-idp"));

    let json = cli
        .run(&[&create[..], &["down-idp-2", "--output", "json"]].concat())
        .await;
    let expected = warning("down-idp-2");
    let text = expected["warning: ".len()..].trim_end();
    assert_eq!(json.json()["warnings"], serde_json::json!([text]));
    assert_eq!(json.stderr, expected);

    // The failure names what it tried, as the success does.
    let verify = cli.run(&["providers", "verify", "down-idp"]).await;
    verify.fails(1);
    assert_eq!(
        verify.stdout,
        format!(
            "FAILED: the identity provider is unreachable: discovery: cannot connect: \
             connection refused (tried {issuer})\n"
        )
    );
}
