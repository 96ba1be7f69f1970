//! A TCP relay in front of an IdP that passes each request on at once and holds each
//! answer back: the IdP has already acted while registry-svc still waits, which is the
//! moment a SIGKILL does the most harm. Without it the peers answer within a
//! millisecond and the killer would almost never land there.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// Listens on 127.0.0.1 and relays to `upstream`, each answer chunk `delay` late.
pub async fn slow_link(upstream: &str, delay: Duration) -> String {
    let upstream: SocketAddr = url::Url::parse(upstream)
        .expect("upstream url")
        .socket_addrs(|| None)
        .expect("upstream address")[0];
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            tokio::spawn(relay(inbound, upstream, delay));
        }
    });
    format!("http://{addr}")
}

async fn relay(inbound: TcpStream, upstream: SocketAddr, delay: Duration) {
    let Ok(outbound) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = inbound.into_split();
    let (mut from_idp, mut to_idp) = outbound.into_split();
    let requests = tokio::io::copy(&mut from_client, &mut to_idp);
    let answers = async {
        let mut buffer = vec![0u8; 16 * 1024];
        loop {
            let read = from_idp.read(&mut buffer).await?;
            if read == 0 {
                return to_client.shutdown().await;
            }
            tokio::time::sleep(delay).await;
            to_client.write_all(&buffer[..read]).await?;
        }
    };
    let _ = tokio::join!(requests, answers);
}
