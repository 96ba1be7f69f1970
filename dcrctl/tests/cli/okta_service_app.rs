//! An Okta provider managed by a service app, with dcrctl only: created with the private
//! key from a file, verified, shown without the key, exported with the key as a
//! reference (and no API token), and a file giving both an API token and a service app
//! refused before any change.

use dcr_testkit::emulator::{OKTA_DCR_SCOPES, emulator, okta_service_app};
use dcr_testkit::registry::{ADMIN_TOKEN, spawn_app};
use serde_json::json;

use crate::Dcrctl;

#[tokio::test]
async fn an_okta_service_app_provider_with_dcrctl_only() {
    let emu = emulator().await;
    let service = okta_service_app(&emu, json!({ "scopes": OKTA_DCR_SCOPES })).await;
    let app = spawn_app().await;
    let dir = std::env::temp_dir().join(format!("dcrctl-okta-sa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("okta-service-app.pem");
    std::fs::write(&key, &service.private_key_pem).unwrap();
    let cli = Dcrctl::default()
        .env("DCR_REGISTRY_URL", &format!("http://{}", app.addr))
        .env("DCR_ADMIN_TOKEN", ADMIN_TOKEN);

    let config = json!({
        "management_client_id": service.client_id,
        "management_key_id": service.kid,
    })
    .to_string();
    let key_arg = format!("management_private_key={}", key.display());
    let issuer = emu.urls.okta_issuer();
    cli.run(&[
        "providers",
        "create",
        "okta-sa",
        "--type",
        "okta",
        "--issuer",
        &issuer,
        "--config-json",
        &config,
        "--secret-from-file",
        &key_arg,
    ])
    .await
    .ok();
    let verified = cli.run(&["providers", "verify", "okta-sa"]).await;
    assert!(verified.ok().contains("service app"), "{verified:?}");
    let shown = cli
        .run(&["providers", "get", "okta-sa", "--output", "json"])
        .await
        .json();
    assert_eq!(shown["okta"]["management_client_id"], service.client_id);
    let key_line = service.private_key_pem.lines().nth(1).unwrap();
    assert!(!shown.to_string().contains(key_line), "{shown}");

    let exported = dir.join("exported.yaml");
    cli.run(&["export", "-f", exported.to_str().unwrap()])
        .await
        .ok();
    let yaml = std::fs::read_to_string(&exported).unwrap();
    assert!(
        yaml.contains("management_private_key:\n      env: DCR_OKTA_SA_MANAGEMENT_PRIVATE_KEY"),
        "{yaml}"
    );
    assert!(
        !yaml.contains("dcr_token") && !yaml.contains(key_line),
        "{yaml}"
    );
    let plan = cli.run(&["plan", "-f", exported.to_str().unwrap()]).await;
    assert!(plan.ok().contains("no changes"), "{plan:?}");

    let both = dir.join("both.yaml");
    // An API token beside the service app, at the indentation of the block's fields.
    let field = yaml
        .lines()
        .find(|l| l.trim_start().starts_with("management_client_id:"))
        .unwrap();
    let indent = &field[..field.len() - field.trim_start().len()];
    let text = yaml.replacen(
        field,
        &format!("{indent}dcr_token:\n{indent}  env: OKTA_API_TOKEN\n{field}"),
        1,
    );
    std::fs::write(&both, text).unwrap();
    let refused = cli
        .clone()
        .env("OKTA_API_TOKEN", "00token")
        .run(&["plan", "-f", both.to_str().unwrap()])
        .await;
    let stderr = refused.fails(1);
    assert!(
        stderr.contains("give dcr_token or management_client_id, not both"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    app.stop().await;
}
