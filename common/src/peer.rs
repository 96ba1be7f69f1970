//! The TCP peer of an HTTP request served by axum, over plaintext or TLS: what per-source
//! rate limits key on (token-svc's `/oauth2/token`, portal-svc's sign-in). Behind a proxy
//! it is the proxy.

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;

#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl Connected<IncomingStream<'_, tokio::net::TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tokio::net::TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsIncoming>> for Peer {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsIncoming>) -> Self {
        Self(*stream.remote_addr())
    }
}
