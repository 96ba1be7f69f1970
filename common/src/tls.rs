//! TLS for every listener and every internal channel (rustls; no OpenSSL).
//!
//! Listeners: `DCR_TLS_CERT_FILE` + `DCR_TLS_KEY_FILE` (PEM) make a service TLS-only;
//! `DCR_TLS_CLIENT_CA_FILE` also requires client certificates signed by that CA (mTLS).
//! The files are checked at each new connection and re-read when they change, so a
//! rotated certificate is served to new connections while open ones go on; a file that
//! does not parse is logged and the previous certificate kept.
//!
//! Clients (dcr's channels to its other services, dcrctl, the `health` probe): `https://`
//! URLs trust `DCR_TLS_CA_FILE` (else the system roots) and present
//! `DCR_TLS_CLIENT_CERT_FILE` + `DCR_TLS_CLIENT_KEY_FILE` when set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use crate::config::{self, ConfigError};

/// A TLS handshake that takes longer is dropped: a slow or silent client cannot hold a
/// connection slot for long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Accepted connections waiting for the server to take them.
const BACKLOG: usize = 256;

/// The files a TLS listener serves from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Set: clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

impl ServerTlsFiles {
    /// From `DCR_TLS_CERT_FILE`, `DCR_TLS_KEY_FILE`, `DCR_TLS_CLIENT_CA_FILE`; None when
    /// TLS is off. The files are read once here, so a bad one stops the service at start.
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        let client_ca = config::optional("DCR_TLS_CLIENT_CA_FILE").map(PathBuf::from);
        let Some((cert, key)) = file_pair("DCR_TLS_CERT_FILE", "DCR_TLS_KEY_FILE")? else {
            if client_ca.is_some() {
                return Err(ConfigError::new(
                    "DCR_TLS_CLIENT_CA_FILE",
                    "needs DCR_TLS_CERT_FILE and DCR_TLS_KEY_FILE (client certificates need TLS)",
                ));
            }
            return Ok(None);
        };
        let files = Self {
            cert,
            key,
            client_ca,
        };
        files.server_config(&[])?;
        Ok(Some(files))
    }

    /// A rustls server config from the files, offering `alpn` (h2 for gRPC).
    fn server_config(&self, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, ConfigError> {
        let chain = read_certs("DCR_TLS_CERT_FILE", &self.cert)?;
        let key = PrivateKeyDer::from_pem_file(&self.key).map_err(|e| {
            ConfigError::new(
                "DCR_TLS_KEY_FILE",
                format!("{}: no PEM private key ({e})", self.key.display()),
            )
        })?;
        let builder = rustls::ServerConfig::builder();
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let roots = roots("DCR_TLS_CLIENT_CA_FILE", path)?;
                let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
                    .build()
                    .map_err(|e| {
                        ConfigError::new(
                            "DCR_TLS_CLIENT_CA_FILE",
                            format!("{}: {e}", path.display()),
                        )
                    })?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_single_cert(chain, key).map_err(|e| {
            ConfigError::new(
                "DCR_TLS_CERT_FILE",
                format!(
                    "{} and {} do not make a certificate and its key ({e})",
                    self.cert.display(),
                    self.key.display()
                ),
            )
        })?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(config)
    }

    fn stamps(&self) -> Vec<FileStamp> {
        let stamp = |path: &Path| {
            std::fs::metadata(path)
                .ok()
                .and_then(|m| Some((m.modified().ok()?, m.len())))
        };
        let mut stamps = vec![stamp(&self.cert), stamp(&self.key)];
        stamps.extend(self.client_ca.as_deref().map(stamp));
        stamps
    }
}

/// A certificate file and its key file: both set, or neither (None).
fn file_pair(
    cert_var: &'static str,
    key_var: &'static str,
) -> Result<Option<(PathBuf, PathBuf)>, ConfigError> {
    match (config::optional(cert_var), config::optional(key_var)) {
        (None, None) => Ok(None),
        (Some(cert), Some(key)) => Ok(Some((cert.into(), key.into()))),
        (Some(_), None) => Err(ConfigError::new(
            key_var,
            format!("is required when {cert_var} is set"),
        )),
        (None, Some(_)) => Err(ConfigError::new(
            cert_var,
            format!("is required when {key_var} is set"),
        )),
    }
}

fn read_certs(var: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| ConfigError::new(var, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            var,
            format!("{}: no PEM certificate in it", path.display()),
        ));
    }
    Ok(certs)
}

fn roots(var: &'static str, path: &Path) -> Result<rustls::RootCertStore, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in read_certs(var, path)? {
        roots
            .add(cert)
            .map_err(|e| ConfigError::new(var, format!("{}: {e}", path.display())))?;
    }
    Ok(roots)
}

/// A TLS acceptor whose certificate follows its files.
#[derive(Clone)]
pub struct ReloadingAcceptor {
    files: ServerTlsFiles,
    alpn: &'static [&'static [u8]],
    current: Arc<Mutex<(Vec<FileStamp>, tokio_rustls::TlsAcceptor)>>,
}

/// A file's modification time and size when last read; None when it could not be read.
type FileStamp = Option<(SystemTime, u64)>;

impl std::fmt::Debug for ReloadingAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingAcceptor")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// ALPN for gRPC listeners.
pub const GRPC_ALPN: &[&[u8]] = &[b"h2"];
/// ALPN for HTTP listeners (token-svc's OAuth endpoint).
pub const HTTP_ALPN: &[&[u8]] = &[b"h2", b"http/1.1"];

impl ReloadingAcceptor {
    pub fn new(files: ServerTlsFiles, alpn: &'static [&'static [u8]]) -> Result<Self, ConfigError> {
        let stamps = files.stamps();
        let acceptor = Arc::new(files.server_config(alpn)?).into();
        Ok(Self {
            files,
            alpn,
            current: Arc::new(Mutex::new((stamps, acceptor))),
        })
    }

    /// The acceptor for the next connection: rebuilt when a file changed since the last
    /// one (size or modification time), the old one kept when the new files are broken.
    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let stamps = self.files.stamps();
        let Ok(mut current) = self.current.lock() else {
            // A poisoned lock means a panic elsewhere; fail closed for this connection.
            return tokio_rustls::TlsAcceptor::from(Arc::new(
                rustls::ServerConfig::builder()
                    .with_no_client_auth()
                    .with_cert_resolver(Arc::new(NoCertificate)),
            ));
        };
        if current.0 != stamps {
            match self.files.server_config(self.alpn) {
                Ok(config) => {
                    tracing::info!(cert = %self.files.cert.display(), "TLS files changed: serving the new certificate to new connections");
                    current.1 = Arc::new(config).into();
                }
                Err(error) => {
                    tracing::error!(%error, "TLS files changed but cannot be used: still serving the previous certificate");
                }
            }
            current.0 = stamps;
        }
        current.1.clone()
    }
}

/// Serves no certificate: every handshake fails.
#[derive(Debug)]
struct NoCertificate;

impl rustls::server::ResolvesServerCert for NoCertificate {
    fn resolve(
        &self,
        _: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        None
    }
}

/// Connections of a TLS listener, each handshaken on its own task: a tonic incoming
/// stream and an axum listener.
pub struct TlsIncoming {
    local_addr: SocketAddr,
    accepted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accept_loop: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for TlsIncoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIncoming")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Drop for TlsIncoming {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl TlsIncoming {
    pub fn new(listener: TcpListener, acceptor: ReloadingAcceptor) -> std::io::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (tx, accepted) = mpsc::channel(BACKLOG);
        let accept_loop = tokio::spawn(async move {
            loop {
                let (tcp, peer) = match listener.accept().await {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors and the like: wait a little, go on.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Small gRPC frames must leave at once (see server.rs).
                let _ = tcp.set_nodelay(true);
                if tx.is_closed() {
                    return;
                }
                let tls = acceptor.acceptor();
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        Ok(Err(error)) => {
                            tracing::debug!(%peer, %error, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            local_addr,
            accepted,
            accept_loop,
        })
    }
}

impl tokio_stream::Stream for TlsIncoming {
    type Item = std::io::Result<TlsStream<TcpStream>>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.accepted
            .poll_recv(cx)
            .map(|next| next.map(|(stream, _)| Ok(stream)))
    }
}

impl axum::serve::Listener for TlsIncoming {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends with this listener.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

/// What a dcr client presents and trusts on `https://` URLs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTlsFiles {
    /// Trusted CA certificates; None: the system roots.
    pub ca: Option<PathBuf>,
    /// The client certificate and key, for servers that require one (mTLS).
    pub identity: Option<(PathBuf, PathBuf)>,
}

impl ClientTlsFiles {
    /// From `DCR_TLS_CA_FILE`, `DCR_TLS_CLIENT_CERT_FILE`, `DCR_TLS_CLIENT_KEY_FILE`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let ca = config::optional("DCR_TLS_CA_FILE").map(PathBuf::from);
        let identity = file_pair("DCR_TLS_CLIENT_CERT_FILE", "DCR_TLS_CLIENT_KEY_FILE")?;
        let files = Self { ca, identity };
        files.tonic_config()?;
        Ok(files)
    }

    /// tonic's client TLS settings from the files.
    pub fn tonic_config(&self) -> Result<tonic::transport::ClientTlsConfig, ConfigError> {
        let read = |var: &'static str, path: &Path| {
            std::fs::read(path)
                .map_err(|e| ConfigError::new(var, format!("cannot read {}: {e}", path.display())))
        };
        let mut config = tonic::transport::ClientTlsConfig::new();
        config = match &self.ca {
            Some(ca) => {
                // Parsed here so a file without a certificate is named at start.
                read_certs("DCR_TLS_CA_FILE", ca)?;
                config.ca_certificate(tonic::transport::Certificate::from_pem(read(
                    "DCR_TLS_CA_FILE",
                    ca,
                )?))
            }
            None => config.with_native_roots(),
        };
        if let Some((cert, key)) = &self.identity {
            read_certs("DCR_TLS_CLIENT_CERT_FILE", cert)?;
            config = config.identity(tonic::transport::Identity::from_pem(
                read("DCR_TLS_CLIENT_CERT_FILE", cert)?,
                read("DCR_TLS_CLIENT_KEY_FILE", key)?,
            ));
        }
        Ok(config)
    }

    /// An endpoint for `url` (`http://` or `https://`); `var` names the setting it came
    /// from in errors. TLS settings apply to `https://` URLs only.
    pub fn endpoint(
        &self,
        url: &str,
        var: &'static str,
    ) -> Result<tonic::transport::Endpoint, ConfigError> {
        let endpoint = tonic::transport::Endpoint::from_shared(url.to_owned())
            .map_err(|e| ConfigError::new(var, format!("{url:?} is not a URL ({e})")))?;
        if url.starts_with("https://") {
            endpoint
                .tls_config(self.tonic_config()?)
                .map_err(|e| ConfigError::new(var, format!("TLS for {url}: {e}")))
        } else {
            Ok(endpoint)
        }
    }
}

/// The causes inside a transport error, outermost first ("tls handshake eof",
/// "invalid peer certificate: UnknownIssuer", ...): what a person needs to fix a failed
/// connection, which tonic's own message ("transport error") hides.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    chain_from(error.to_string(), error.source())
}

/// [`error_chain`] of a failed call: the status message, then what caused it.
pub fn status_cause(status: &tonic::Status) -> String {
    chain_from(
        status.message().to_owned(),
        std::error::Error::source(status),
    )
}

fn chain_from(first: String, mut source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut parts = vec![first];
    while let Some(cause) = source {
        let text = cause.to_string();
        // Wrappers often repeat their cause's text, or end with it.
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}
