//! Binding a listener. Its own module so that both the gRPC server (`server`) and the
//! metrics endpoint (`metrics`) use it without depending on each other.

use std::net::SocketAddr;

use tokio::net::TcpListener;

/// Binds `addr`; a bind failure names the address so the operator knows which one.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
}
