//! The protos serve other languages: a Python grpcio client with stubs generated from
//! proto/ creates a provider and an application (tests/python/registry_client.py).

use dcr_testkit::tls::TestCerts;

use crate::helpers::{ADMIN_TOKEN, PORTAL_TOKEN, spawn_app, spawn_app_with};
use crate::peers::{self, INITIAL_ACCESS_TOKEN};

/// Runs tests/python/registry_client.py against `addr` with `extra` arguments.
async fn run_python_client(addr: &str, issuer: &str, extra: &[&str]) -> (bool, String) {
    let python = std::env::var("DCR_TEST_PYTHON")
        .expect("DCR_TEST_PYTHON is not set: run scripts/test, which prepares the grpcio venv");
    let stubs =
        std::env::var("DCR_TEST_PY_STUBS").expect("DCR_TEST_PY_STUBS is not set: run scripts/test");
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/python/registry_client.py");
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args(["--stubs", &stubs, "--addr", addr])
        .args(["--admin-token", ADMIN_TOKEN, "--portal-token", PORTAL_TOKEN])
        .args([
            "--issuer",
            issuer,
            "--initial-access-token",
            INITIAL_ACCESS_TOKEN,
        ])
        .args(extra)
        .output()
        .await
        .expect("run the python client");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    (
        output.status.success() && stdout.contains("all steps passed"),
        format!("{stdout}\n{stderr}"),
    )
}

#[tokio::test]
async fn a_python_grpcio_client_drives_the_registry() {
    let idp = peers::oidc_provider().await;
    let app = spawn_app().await;
    let (passed, output) = run_python_client(&app.addr.to_string(), &idp.base_url, &[]).await;
    assert!(passed, "python client failed\n{output}");
}

#[tokio::test]
async fn a_python_grpcio_client_speaks_mtls_with_the_ca_and_is_refused_without_it() {
    let idp = peers::oidc_provider().await;
    let certs = TestCerts::new();
    let app = spawn_app_with(|c| c.tls = Some(certs.files.server_tls(true))).await;
    let addr = format!("localhost:{}", app.addr.port());
    let ca = certs.files.ca_cert.display().to_string();
    let cert = certs.files.client_cert.display().to_string();
    let key = certs.files.client_key.display().to_string();
    let mtls = ["--ca", &ca, "--client-cert", &cert, "--client-key", &key];
    let (passed, output) = run_python_client(&addr, &idp.base_url, &mtls).await;
    assert!(passed, "python client over mTLS failed\n{output}");

    // Plaintext, and TLS without a client certificate: refused before any step passes.
    // (A short deadline: the channel never becomes ready.)
    let plaintext = ["--timeout", "3"];
    let no_client_cert = ["--timeout", "3", "--ca", &ca];
    for (what, args) in [
        ("plaintext", &plaintext[..]),
        ("no client certificate", &no_client_cert[..]),
    ] {
        let (passed, output) = run_python_client(&addr, &idp.base_url, args).await;
        assert!(!passed, "{what} was let through\n{output}");
        // Nothing was created ("id=..." is the first step's output).
        assert!(!output.contains("id="), "{what}: {output}");
    }
}
