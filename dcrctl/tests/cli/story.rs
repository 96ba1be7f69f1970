//! The admin and the developer walk through dcr with dcrctl only: provider, strategy and
//! product by name; an app whose credentials go through `--output env` into the next
//! commands; registration, approval, a token, checks that allow; then rotation and
//! revocation, after which the same checks deny with the reason.

use dcr_idp_emulator::seed::OKTA_API_TOKEN;
use dcr_testkit::authz::authz_stack;
use dcr_testkit::emulator::emulator;
use dcr_testkit::peers::INITIAL_ACCESS_TOKEN;
use dcr_testkit::registry::{ADMIN_TOKEN, GATEWAY_TOKEN, PORTAL_TOKEN};

use crate::{Dcrctl, named};

const AUDIENCE: &str = "https://api.example.com";

#[tokio::test]
async fn admin_and_developer_walk_through_dcr() {
    let s = authz_stack(&[]).await;
    let cli = Dcrctl::default()
        .env(
            "DCR_REGISTRY_URL",
            &format!("http://{}", s.base.registry.addr),
        )
        .env("DCR_TOKEN_URL", &format!("http://{}", s.base.grpc_addr))
        .env("DCR_AUTHZ_URL", &format!("http://{}", s.addr))
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN)
        .env("DCR_PORTAL_TOKEN", PORTAL_TOKEN)
        .env("DCR_GATEWAY_TOKEN", GATEWAY_TOKEN)
        .env("DCR_DEVELOPER_ID", "dev-cli")
        .env("IAT", INITIAL_ACCESS_TOKEN);

    // The admin: a provider whose secret comes from the environment, a strategy and a
    // product, each referring to the previous one by name.
    let issuer = s.base.idp.base_url.as_str();
    let created = cli
        .run(&[
            "providers",
            "create",
            "cli-idp",
            "--type",
            "rfc7591",
            "--issuer",
            issuer,
            "--secret-from-env",
            "initial_access_token=IAT",
            "--label",
            "team=payments",
        ])
        .await;
    assert!(created.ok().contains("cli-idp"), "{created:?}");
    let table = cli.run(&["providers", "list"]).await;
    let header = table.ok().lines().next().unwrap_or_default();
    assert!(
        header.starts_with("ID") && header.contains("NAME") && header.contains("ISSUER"),
        "{header}"
    );
    let row = table
        .ok()
        .lines()
        .find(|l| l.contains("cli-idp"))
        .expect("cli-idp listed");
    assert!(row.contains("rfc7591") && row.contains(issuer), "{row}");
    let providers = cli
        .run(&["providers", "list", "--output", "json"])
        .await
        .json();
    let provider = named(&providers, "cli-idp");
    assert_eq!(provider["labels"]["team"], "payments");
    assert_eq!(provider["active"], true);
    assert_eq!(
        provider["rfc7591"]["initial_access_token"], "",
        "a write-only secret is never returned"
    );
    assert!(
        cli.run(&["providers", "verify", "cli-idp"])
            .await
            .ok()
            .starts_with("ok")
    );

    let strategy = cli
        .run(&[
            "strategies",
            "create",
            "cli-strategy",
            "--provider",
            "cli-idp",
            "--scope",
            "read",
            "-o",
            "json",
        ])
        .await
        .json();
    assert_eq!(strategy["provider_id"], provider["id"]);
    assert_eq!(strategy["auto_approve"], false);
    let product = cli
        .run(&[
            "products",
            "create",
            "cli-product",
            "--strategy",
            "cli-strategy",
            "--audience",
            AUDIENCE,
            "--description",
            "made by dcrctl",
            "-o",
            "json",
        ])
        .await
        .json();
    assert_eq!(product["strategy_id"], strategy["id"]);
    let updated = cli
        .run(&[
            "products",
            "update",
            "cli-product",
            "--description",
            "payments API",
            "-o",
            "json",
        ])
        .await
        .json();
    assert_eq!(
        (&updated["description"], &updated["audience"]),
        (&"payments API".into(), &AUDIENCE.into())
    );
    let products = cli
        .run(&["products", "list", "--output", "json"])
        .await
        .json();
    assert_eq!(named(&products, "cli-product")["id"], product["id"]);

    // The developer: the app's credentials go into the environment, as with eval.
    let exports = cli
        .run(&[
            "apps",
            "create",
            "my-app",
            "--strategy",
            "cli-strategy",
            "--output",
            "env",
        ])
        .await;
    assert!(
        exports.ok().contains("will not be shown again"),
        "{exports:?}"
    );
    let cli = cli.eval(&exports);
    assert!(!cli.var("DCR_APP_ID").is_empty() && !cli.var("DCR_CLIENT_SECRET").is_empty());
    let apps = cli.run(&["apps", "list", "-o", "json"]).await.json();
    assert_eq!(named(&apps, "my-app")["state"], "APPLICATION_STATE_ACTIVE");
    assert_eq!(
        named(&apps, "my-app")["client_id"],
        cli.var("DCR_CLIENT_ID")
    );
    let again = cli
        .run(&["apps", "create", "my-app", "--strategy", "cli-strategy"])
        .await;
    assert!(again.fails(1).contains("already exists"), "{again:?}");

    let registration = cli
        .run(&[
            "registrations",
            "create",
            "--product",
            "cli-product",
            "-o",
            "json",
        ])
        .await
        .json();
    assert_eq!(registration["status"], "REGISTRATION_STATUS_PENDING");
    assert_eq!(registration["application_id"], cli.var("DCR_APP_ID"));
    let pending = cli
        .run(&["registrations", "list", "--status", "pending", "-o", "json"])
        .await
        .json();
    assert!(
        pending
            .as_array()
            .expect("list")
            .iter()
            .any(|r| r["id"] == registration["id"]),
        "{pending}"
    );
    let denied = cli
        .run(&["check", "--product", "cli-product", "--basic"])
        .await;
    assert!(
        denied.stdout.starts_with("DENY"),
        "not approved yet: {denied:?}"
    );
    assert_eq!(denied.code, 1);

    let registration_id = registration["id"].as_str().expect("id");
    let approved = cli
        .run(&["registrations", "approve", registration_id])
        .await;
    assert!(
        approved.ok().contains("REGISTRATION_STATUS_APPROVED"),
        "{approved:?}"
    );
    let by_product = cli
        .run(&["registrations", "list", "--product", "cli-product"])
        .await;
    let row = by_product
        .ok()
        .lines()
        .find(|l| l.contains(registration_id))
        .expect("listed");
    assert!(row.contains("APPROVED"), "{row}");

    let token = cli
        .run(&[
            "token",
            "--scope",
            "read",
            "--audience",
            AUDIENCE,
            "--output",
            "env",
        ])
        .await;
    let cli = cli.eval(&token);
    let wrong = cli
        .run(&["token", "--client-secret", "not-the-secret"])
        .await;
    let message = wrong.fails(1);
    assert!(
        message.contains(&format!(
            "token-svc at http://{} refused the client credentials",
            s.base.grpc_addr
        )),
        "{message}"
    );
    let allowed = cli
        .run_until(&["check", "--product", "cli-product"], 0)
        .await;
    assert!(allowed.ok().starts_with("ALLOW"), "{allowed:?}");
    assert!(allowed.ok().contains(cli.var("DCR_APP_ID")), "{allowed:?}");
    let basic = cli
        .run(&[
            "check",
            "--product",
            "cli-product",
            "--basic",
            "--scope",
            "read",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(basic.json()["decision"], "DECISION_ALLOW");
    assert_eq!(
        basic.json()["principal"]["credential_type"],
        "CREDENTIAL_TYPE_CLIENT_CREDENTIALS"
    );

    // Rotation: the old token stops working, with the reason; the new secret works.
    let old_token = cli.var("DCR_ACCESS_TOKEN").to_owned();
    let rotated = cli
        .run(&["credentials", "regenerate", "--output", "env"])
        .await;
    let cli = cli.eval(&rotated);
    let denied = cli
        .run_until(
            &["check", "--product", "cli-product", "--token", &old_token],
            1,
        )
        .await;
    assert!(
        denied.stdout.starts_with("DENY (HTTP 401): invalid_token"),
        "{denied:?}"
    );
    let allowed = cli
        .run_until(&["check", "--product", "cli-product", "--basic"], 0)
        .await;
    assert!(allowed.ok().starts_with("ALLOW"), "{allowed:?}");

    // An RFC 7591 client holds one secret: adding another is refused with the reason.
    let refused = cli
        .run(&["credentials", "add", "--expires-in", "30d"])
        .await;
    assert!(
        refused.fails(1).contains("cannot expire secrets"),
        "{refused:?}"
    );
    let refused = cli.run(&["credentials", "add"]).await;
    assert!(
        refused.fails(1).contains("exactly one client_secret"),
        "{refused:?}"
    );

    // Unregistering ends access too; then the app goes.
    cli.run(&["registrations", "delete", registration_id])
        .await
        .ok();
    let denied = cli
        .run_until(&["check", "--product", "cli-product", "--basic"], 1)
        .await;
    assert!(denied.stdout.contains("not_registered"), "{denied:?}");
    cli.run(&["apps", "delete", "my-app"]).await.ok();
    let gone = cli.run(&["apps", "get", "my-app"]).await;
    assert!(
        gone.fails(1).contains("no app named \"my-app\""),
        "{gone:?}"
    );

    revocation_at_an_idp_with_two_secrets(&cli).await;
    s.stop().await;
}

/// Okta (at the IdP emulator) holds two secrets per client: the second one added works,
/// the first one revoked is denied. The provider's API token comes from a file.
async fn revocation_at_an_idp_with_two_secrets(cli: &Dcrctl) {
    let emu = emulator().await;
    let token_file = std::env::temp_dir().join(format!("dcrctl-okta-{}", std::process::id()));
    std::fs::write(&token_file, format!("{OKTA_API_TOKEN}\n")).expect("write token file");
    let from_file = format!("dcr_token={}", token_file.display());
    let issuer = emu.urls.okta_issuer();
    cli.run(&[
        "providers",
        "create",
        "okta",
        "--type",
        "okta",
        "--issuer",
        &issuer,
        "--secret-from-file",
        &from_file,
    ])
    .await
    .ok();
    std::fs::remove_file(&token_file).expect("remove token file");
    assert!(
        cli.run(&["providers", "verify", "okta"])
            .await
            .ok()
            .starts_with("ok")
    );
    cli.run(&[
        "strategies",
        "create",
        "okta-strategy",
        "--provider",
        "okta",
        "--scope",
        "read",
        "--auto-approve",
    ])
    .await
    .ok();
    cli.run(&[
        "products",
        "create",
        "okta-api",
        "--strategy",
        "okta-strategy",
        "--audience",
        "api://default",
    ])
    .await
    .ok();
    let exports = cli
        .run(&[
            "apps",
            "create",
            "okta-app",
            "--strategy",
            "okta-strategy",
            "-o",
            "env",
        ])
        .await;
    let okta = cli.clone().eval(&exports);
    let registered = okta
        .run(&[
            "registrations",
            "create",
            "--product",
            "okta-api",
            "-o",
            "json",
        ])
        .await;
    assert_eq!(
        registered.json()["status"],
        "REGISTRATION_STATUS_APPROVED",
        "auto-approved"
    );
    let first = okta
        .run_until(&["check", "--product", "okta-api", "--basic"], 0)
        .await;
    assert!(first.ok().starts_with("ALLOW"), "{first:?}");

    let added = okta.run(&["credentials", "add", "-o", "json"]).await.json();
    let second = format!(
        "{}:{}",
        added["client_id"].as_str().expect("client id"),
        added["client_secret"].as_str().expect("secret")
    );
    let allowed = okta
        .run_until(&["check", "--product", "okta-api", "--basic", &second], 0)
        .await;
    assert!(allowed.ok().starts_with("ALLOW"), "{allowed:?}");
    let listed = okta.run(&["credentials", "list"]).await;
    assert_eq!(
        listed.ok().lines().count(),
        3,
        "a header and two credentials: {listed:?}"
    );
    let hint = added["secret_hint"].as_str().expect("hint");
    assert!(listed.ok().contains(&format!("...{hint}")), "{listed:?}");
    assert!(
        !listed
            .ok()
            .contains(added["client_secret"].as_str().expect("secret")),
        "a secret is shown once"
    );

    let credentials = okta
        .run(&["credentials", "list", "-o", "json"])
        .await
        .json();
    let first_id = credentials
        .as_array()
        .expect("credentials")
        .iter()
        .map(|c| c["id"].as_str().expect("id"))
        .find(|id| *id != added["id"])
        .expect("the first credential")
        .to_owned();
    okta.run(&["credentials", "revoke", &first_id]).await.ok();
    let denied = okta
        .run_until(&["check", "--product", "okta-api", "--basic"], 1)
        .await;
    assert!(
        denied.stdout.starts_with("DENY (HTTP 401): invalid_client"),
        "{denied:?}"
    );
    let allowed = okta
        .run(&["check", "--product", "okta-api", "--basic", &second])
        .await;
    assert!(
        allowed.ok().starts_with("ALLOW"),
        "the second secret still works: {allowed:?}"
    );

    let audit = okta
        .run(&[
            "audit",
            "list",
            "--action",
            "RevokeCredential",
            "-o",
            "json",
        ])
        .await
        .json();
    let event = &audit.as_array().expect("events")[0];
    assert_eq!(
        (&event["resource_id"], &event["actor"], &event["outcome"]),
        (
            &first_id.as_str().into(),
            &"developer:dev-cli".into(),
            &"ok".into()
        )
    );
}
