//! The protos serve other languages: a Python grpcio client with stubs generated from
//! proto/ creates a provider and an application (tests/python/registry_client.py).

use crate::helpers::{ADMIN_TOKEN, PORTAL_TOKEN, spawn_app};
use crate::peers::{self, INITIAL_ACCESS_TOKEN};

#[tokio::test]
async fn a_python_grpcio_client_drives_the_registry() {
    let python = std::env::var("DCR_TEST_PYTHON")
        .expect("DCR_TEST_PYTHON is not set: run scripts/test, which prepares the grpcio venv");
    let stubs =
        std::env::var("DCR_TEST_PY_STUBS").expect("DCR_TEST_PY_STUBS is not set: run scripts/test");
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/registry_client.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(["--stubs", &stubs, "--addr", &app.addr.to_string()])
        .args(["--admin-token", ADMIN_TOKEN, "--portal-token", PORTAL_TOKEN])
        .args([
            "--issuer",
            &idp.base_url,
            "--initial-access-token",
            INITIAL_ACCESS_TOKEN,
        ])
        .output()
        .await
        .expect("run the python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "python client failed\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("all steps passed"), "{stdout}");
}
