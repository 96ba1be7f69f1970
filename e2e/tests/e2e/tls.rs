//! TLS on every hop: the three services with mTLS listeners, talking to each other over
//! https with client certificates. A gateway's Check goes through (authz-svc -> registry
//! and token-svc), curl gets a token from `/oauth2/token`; plaintext, a stranger's CA and
//! a missing client certificate are refused; a certificate replaced on disk is served to
//! new connections while open ones go on.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use dcr_common::tls::{ClientTlsFiles, error_chain};
use dcr_proto::authz::v1 as pb;
use dcr_testkit::authz::authz_stack_with;
use dcr_testkit::tls::TestCerts;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

fn basic(client_id: &str, secret: &str) -> String {
    use base64::Engine as _;
    let raw = format!("{client_id}:{secret}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// authz-svc's answer to a gateway asking about the app's Basic credentials.
async fn check_basic(
    s: &dcr_testkit::authz::AuthzStack,
    client_id: &str,
    secret: &str,
) -> pb::CheckResponse {
    s.check(
        &s.base.product_id,
        &[("authorization", &basic(client_id, secret))],
        &[],
    )
    .await
}

/// A health call to `url` with `tls`: Ok, or the whole chain of what went wrong.
async fn health(url: &str, tls: &ClientTlsFiles) -> Result<(), String> {
    let channel = tls
        .endpoint(url, "test")
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| error_chain(&e))?;
    HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await
        .map(|_| ())
        .map_err(|status| format!("{status:?}"))
}

/// The certificate the listener at `port` presents to a new connection.
async fn presented_certificate(port: u16, certs: &TestCerts) -> CertificateDer<'static> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&certs.files.ca_cert).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let chain: Vec<_> = CertificateDer::pem_file_iter(&certs.files.client_cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(&certs.files.client_key).unwrap();
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("handshake");
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

#[tokio::test]
async fn every_hop_speaks_mtls_and_strangers_are_refused() {
    let certs = TestCerts::new();
    let s = authz_stack_with(&[], Some(&certs.files)).await;
    let (app_id, client_id, secret) = s.registered_app("dev-tls", "over-tls").await;

    // A gateway's Check: authz-svc asks the registry (and token-svc) over mTLS.
    let answer = check_basic(&s, &client_id, &secret).await;
    assert_eq!(answer.decision(), pb::Decision::Allow, "{answer:?}");
    assert_eq!(answer.principal.unwrap().application_id, app_id);

    // curl with the CA and the client certificate gets a token from /oauth2/token.
    let token_url = format!("{}/oauth2/token", s.base.http_base);
    let curl = |extra: &[&str]| {
        let mut command = tokio::process::Command::new("curl");
        command
            .args([
                "-sS",
                "--max-time",
                "20",
                "-u",
                &format!("{client_id}:{secret}"),
            ])
            .args([
                "-d",
                "grant_type=client_credentials",
                "-d",
                "resource=https://api.example.com",
            ])
            .args(extra)
            .arg(&token_url);
        async move { command.output().await.expect("run curl") }
    };
    let ca = certs.files.ca_cert.display().to_string();
    let cert = certs.files.client_cert.display().to_string();
    let key = certs.files.client_key.display().to_string();
    let token = curl(&["--cacert", &ca, "--cert", &cert, "--key", &key]).await;
    let body = String::from_utf8_lossy(&token.stdout);
    assert!(
        token.status.success() && body.contains("\"access_token\""),
        "{body}\n{}",
        String::from_utf8_lossy(&token.stderr)
    );
    // Without the client certificate, or trusting the system roots: no token.
    for extra in [
        &["--cacert", &ca][..],
        &["--cert", &cert, "--key", &key][..],
    ] {
        let refused = curl(extra).await;
        assert!(
            !String::from_utf8_lossy(&refused.stdout).contains("access_token"),
            "{extra:?} got a token"
        );
    }

    // Each gRPC listener: plaintext, a stranger's CA, no client certificate: refused.
    let stranger = TestCerts::new();
    for addr in [s.base.registry.addr, s.base.grpc_addr, s.addr] {
        let https = format!("https://localhost:{}", addr.port());
        health(&https, &certs.files.client_tls())
            .await
            .expect("mTLS with the right CA and certificate");
        let plaintext = health(&format!("http://{addr}"), &ClientTlsFiles::default()).await;
        assert!(plaintext.is_err(), "plaintext got through to {addr}");
        let strange = health(&https, &stranger.files.client_tls())
            .await
            .unwrap_err();
        assert!(
            strange.contains("UnknownIssuer") || strange.contains("invalid peer certificate"),
            "a stranger's CA: {strange}"
        );
        let anonymous = health(&https, &certs.client_without_certificate()).await;
        assert!(
            anonymous.is_err(),
            "no client certificate got through to {addr}"
        );
    }
}

#[tokio::test]
async fn a_replaced_certificate_is_served_to_new_connections_while_old_ones_go_on() {
    let certs = TestCerts::new();
    let s = authz_stack_with(&[], Some(&certs.files)).await;
    let port = s.base.registry.addr.port();
    let before = presented_certificate(port, &certs).await;
    let on_disk = CertificateDer::from_pem_file(&certs.files.server_cert).unwrap();
    assert_eq!(before, on_disk);

    // An open connection (the test's registry channel) before the swap.
    let mut open = HealthClient::new(s.base.registry.channel.clone());
    open.check(HealthCheckRequest::default())
        .await
        .expect("health before");

    let replaced = certs.replace_server_certificate();
    let after = presented_certificate(port, &certs).await;
    let replaced = CertificateDer::from_pem_slice(replaced.as_bytes()).unwrap();
    assert_eq!(after, replaced, "a new connection gets the new certificate");
    assert_ne!(after, before);

    // The connection opened before goes on, and the whole chain still works.
    open.check(HealthCheckRequest::default())
        .await
        .expect("health on the old connection");
    let (_, client_id, secret) = s.registered_app("dev-rotate", "after-rotation").await;
    let answer = check_basic(&s, &client_id, &secret).await;
    assert_eq!(answer.decision(), pb::Decision::Allow, "{answer:?}");
}
