//! What a user sees when something is wrong: every message says what to do, and the exit
//! code tells usage (2) from a failed call (1).

use dcr_testkit::registry::{ADMIN_TOKEN, GATEWAY_TOKEN, PORTAL_TOKEN, SERVICE_TOKEN, spawn_app};

use crate::Dcrctl;

#[tokio::test]
async fn mistakes_get_messages_that_say_what_to_do() {
    let app = spawn_app().await;
    let registry = format!("http://{}", app.addr);
    let cli = Dcrctl::default()
        .env("DCR_REGISTRY_URL", &registry)
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN);

    // A missing token names the flag and the variable.
    let missing = cli
        .clone()
        .without("DCR_ADMIN_TOKEN")
        .run(&["products", "list"])
        .await;
    let message = missing.fails(2);
    assert!(
        message.contains("--admin-token") && message.contains("DCR_ADMIN_TOKEN"),
        "{message}"
    );
    let portal = cli.run(&["apps", "list"]).await;
    let message = portal.fails(2);
    assert!(
        message.contains("--developer") && message.contains("DCR_DEVELOPER_ID"),
        "{message}"
    );

    // An address without its scheme is caught before any call.
    let bare = cli
        .run(&["--registry-url", "127.0.0.1:1", "providers", "list"])
        .await;
    assert!(
        bare.fails(2).contains("write it as https://127.0.0.1:1"),
        "{bare:?}"
    );

    // A wrong token: the service refused it, for that role.
    let wrong = cli
        .clone()
        .env("DCR_ADMIN_TOKEN", "not-the-admin-token")
        .run(&["providers", "list"])
        .await;
    let message = wrong.fails(1);
    assert!(
        message.contains("refused the admin token") && message.contains("DCR_ADMIN_TOKEN"),
        "{message}"
    );
    let wrong = cli
        .clone()
        .env("DCR_PORTAL_TOKEN", ADMIN_TOKEN)
        .env("DCR_DEVELOPER_ID", "dev-1")
        .run(&["apps", "list"])
        .await;
    let message = wrong.fails(1);
    assert!(
        message.contains("refused the portal token") && message.contains("DCR_PORTAL_TOKEN"),
        "{message}"
    );

    // Bad input: the field violations, one per line.
    let bad = cli
        .run(&[
            "providers",
            "create",
            " ",
            "--type",
            "rfc7591",
            "--issuer",
            "ftp://idp",
        ])
        .await;
    let message = bad.fails(1);
    assert!(message.contains("invalid request:"), "{message}");
    assert!(
        message.contains("\n  provider.name: ") && message.contains("\n  provider.issuer: "),
        "{message}"
    );
    let bad_config = cli
        .run(&[
            "providers",
            "create",
            "p",
            "--type",
            "okta",
            "--issuer",
            "http://127.0.0.1:1",
            "--config-json",
            r#"{"no_such_field": 1}"#,
        ])
        .await;
    assert!(
        bad_config.fails(2).contains("no_such_field"),
        "{bad_config:?}"
    );

    // Unknown things are named.
    let unknown = cli.run(&["products", "get", "nope"]).await;
    assert!(
        unknown.fails(1).contains("no product named \"nope\""),
        "{unknown:?}"
    );
    let id = "0192f7a4-2b7e-7cc1-9b1e-3c4d5e6f7a8b";
    let not_found = cli.run(&["strategies", "get", id]).await;
    assert_eq!(
        not_found.fails(1).trim_end(),
        format!("error: strategy {id} not found"),
        "said once"
    );

    // Without the admin token, check looks product names up with the service token.
    let check = Dcrctl::default()
        .env("DCR_REGISTRY_URL", &registry)
        .env("DCR_SERVICE_TOKEN", SERVICE_TOKEN)
        .env("DCR_GATEWAY_TOKEN", GATEWAY_TOKEN)
        .env("DCR_ACCESS_TOKEN", "t")
        .run(&["check", "--product", "nope"])
        .await;
    assert!(
        check.fails(1).contains("no product named \"nope\""),
        "{check:?}"
    );

    // Portal commands look names up with the admin token; without it, only ids work.
    let needs_admin = cli
        .clone()
        .without("DCR_ADMIN_TOKEN")
        .env("DCR_PORTAL_TOKEN", PORTAL_TOKEN)
        .env("DCR_DEVELOPER_ID", "dev-1")
        .run(&["apps", "create", "a", "--strategy", "demo"])
        .await;
    let message = needs_admin.fails(2);
    assert!(
        message.contains("pass the strategy's id, or set DCR_ADMIN_TOKEN"),
        "{message}"
    );

    // env output is only for what feeds the next command; nothing is called.
    let env = cli.run(&["products", "list", "--output", "env"]).await;
    assert!(env.fails(2).contains("has no --output env"), "{env:?}");
    let usage = cli.run(&["products", "frobnicate"]).await;
    usage.fails(2);

    // The service is down: the URL, and how to start the stack.
    app.stop().await;
    let down = cli.run(&["providers", "list"]).await;
    let message = down.fails(1);
    assert!(
        message.contains(&format!("cannot reach registry-svc at {registry}")),
        "{message}"
    );
    assert!(
        message.contains("dcrctl dev") && message.contains("DCR_REGISTRY_URL"),
        "{message}"
    );
    let check = Dcrctl::default()
        .env("DCR_AUTHZ_URL", &registry)
        .env("DCR_GATEWAY_TOKEN", "x")
        .env("DCR_ACCESS_TOKEN", "t")
        .run(&["check", "--product", id])
        .await;
    assert!(
        check
            .fails(1)
            .contains(&format!("cannot reach authz-svc at {registry}")),
        "{check:?}"
    );
}

/// `dcrctl certs` makes what a TLS registry serves and dcrctl presents: https with the
/// CA works; plaintext, no CA, and a half-set client certificate each get a message that
/// names the fix.
#[tokio::test]
async fn certs_work_and_tls_mistakes_get_messages_that_say_what_to_do() {
    let dir = std::env::temp_dir().join(format!("dcrctl-certs-{}", uuid::Uuid::new_v4()));
    let out = dir.display().to_string();
    // A server certificate for localhost only, so 127.0.0.1 is the wrong host below.
    let made = Dcrctl::default()
        .run(&["certs", "--out", &out, "--name", "localhost"])
        .await;
    assert!(made.ok().contains("DCR_TLS_CLIENT_CA_FILE="), "{made:?}");
    let again = Dcrctl::default().run(&["certs", "--out", &out]).await;
    assert!(again.fails(1).contains("exists already"), "{again:?}");
    let files = dcr_common::pki::SetFiles::in_dir(&dir);
    let app = dcr_testkit::registry::spawn_app_with(|c| c.tls = Some(files.server_tls(true))).await;
    let https = format!("https://localhost:{}", app.addr.port());
    let ca = files.ca_cert.display().to_string();
    let cert = files.client_cert.display().to_string();
    let key = files.client_key.display().to_string();
    let cli = Dcrctl::default().env("DCR_ADMIN_TOKEN", ADMIN_TOKEN);

    let ok = cli
        .clone()
        .env("DCR_REGISTRY_URL", &https)
        .env("DCR_TLS_CA_FILE", &ca)
        .env("DCR_TLS_CLIENT_CERT_FILE", &cert)
        .env("DCR_TLS_CLIENT_KEY_FILE", &key)
        .run(&["providers", "list"])
        .await;
    ok.ok();

    let plaintext = cli
        .clone()
        .env("DCR_REGISTRY_URL", &format!("http://{}", app.addr))
        .run(&["providers", "list"])
        .await;
    let message = plaintext.fails(1);
    assert!(message.contains("use https://"), "{message}");

    let no_ca = cli
        .clone()
        .env("DCR_REGISTRY_URL", &https)
        .run(&["providers", "list"])
        .await;
    let message = no_ca.fails(1);
    assert!(
        message.contains("set DCR_TLS_CA_FILE") && message.contains("UnknownIssuer"),
        "{message}"
    );

    // The certificate names localhost, not 127.0.0.1.
    let wrong_host = cli
        .clone()
        .env("DCR_REGISTRY_URL", &format!("https://{}", app.addr))
        .env("DCR_TLS_CA_FILE", &ca)
        .env("DCR_TLS_CLIENT_CERT_FILE", &cert)
        .env("DCR_TLS_CLIENT_KEY_FILE", &key)
        .run(&["providers", "list"])
        .await;
    let message = wrong_host.fails(1);
    assert!(
        message.contains("does not name the host") && message.contains("not valid for name"),
        "{message}"
    );

    let missing_key = cli
        .clone()
        .env("DCR_REGISTRY_URL", &https)
        .env("DCR_TLS_CLIENT_CERT_FILE", &cert)
        .run(&["providers", "list"])
        .await;
    let message = missing_key.fails(2);
    assert!(
        message.contains("DCR_TLS_CLIENT_KEY_FILE: is required"),
        "{message}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
