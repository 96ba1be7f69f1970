//! The TCP peer of an HTTP request served by axum, over plaintext or TLS: what per-source
//! rate limits key on (token-svc's `/oauth2/token`, portal-svc's sign-in). Behind a proxy
//! it is the proxy.

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone, Copy)]
pub struct Peer(pub std::net::SocketAddr);

impl Connected<IncomingStream<'_, TcpListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TcpListener>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, NoDelay>> for Peer {
    fn connect_info(stream: IncomingStream<'_, NoDelay>) -> Self {
        Self(*stream.remote_addr())
    }
}

impl Connected<IncomingStream<'_, crate::tls::TlsIncoming>> for Peer {
    fn connect_info(stream: IncomingStream<'_, crate::tls::TlsIncoming>) -> Self {
        Self(*stream.remote_addr())
    }
}

/// A plain TCP listener for axum whose connections have TCP_NODELAY: without it a response
/// larger than one segment waits for the client's delayed ACK (about 40 ms) before its last
/// part leaves. (`TlsIncoming` sets it too.)
pub struct NoDelay(pub TcpListener);

impl Listener for NoDelay {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        let _ = stream.set_nodelay(true);
        (stream, addr)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Listener::local_addr(&self.0)
    }
}
