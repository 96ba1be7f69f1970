//! Certificates for TLS tests: a private CA with a server certificate (localhost and
//! 127.0.0.1) and a client certificate, in a folder of their own; the server's can be
//! replaced on disk to test rotation.

use std::path::{Path, PathBuf};

use dcr_common::pki::{Ca, SetFiles};
use dcr_common::tls::ClientTlsFiles;

pub struct TestCerts {
    pub dir: PathBuf,
    pub files: SetFiles,
    ca: Ca,
}

fn server_names() -> Vec<String> {
    vec!["localhost".into(), "127.0.0.1".into()]
}

impl TestCerts {
    pub fn new() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "dcr-tls-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4()
        ));
        let ca = Ca::new("dcr test CA").expect("CA");
        let files = dcr_common::pki::write_set_of(&ca, &dir, &server_names(), "dcr-test-client")
            .expect("certificates");
        Self { dir, files, ca }
    }

    /// A new server certificate (new key) from the same CA, written over the old files;
    /// returns its PEM.
    pub fn replace_server_certificate(&self) -> String {
        let server = self.ca.server(&server_names()).expect("server cert");
        // Key first: a listener that reads between the two writes sees a mismatch and
        // keeps the old pair (logged), then picks up the pair at its next connection.
        write(&self.files.server_key, &server.key);
        write(&self.files.server_cert, &server.cert);
        server.cert
    }

    /// A client that trusts this CA but presents no certificate.
    pub fn client_without_certificate(&self) -> ClientTlsFiles {
        ClientTlsFiles {
            ca: Some(self.files.ca_cert.clone()),
            identity: None,
        }
    }
}

impl Default for TestCerts {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, text: &str) {
    dcr_common::private_files::write(path, text.as_bytes()).expect("write cert");
}

/// The URL of a listener at `addr`: `https://localhost:port` when `tls` is on.
pub fn url(addr: std::net::SocketAddr, tls: Option<&SetFiles>) -> String {
    match tls {
        Some(_) => format!("https://localhost:{}", addr.port()),
        None => format!("http://{addr}"),
    }
}

/// The client side of `tls` (the CA and the client certificate), or plaintext.
pub fn client(tls: Option<&SetFiles>) -> ClientTlsFiles {
    tls.map(SetFiles::client_tls).unwrap_or_default()
}
