//! The accept loop. It is hand-rolled over hyper (rather than `axum::serve`) for one
//! reason: a `drop` fault must close the TCP connection without answering, so each
//! connection gets a kill switch the fault middleware can pull.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use tower::ServiceExt;

use crate::faults::ConnKill;
use crate::state::EmulatorState;
use crate::urls::Urls;

/// Serves `state` on `listener` until `shutdown` resolves; open connections then finish
/// their current request and close.
pub async fn serve(
    listener: TcpListener,
    state: EmulatorState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = crate::router(state);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let kill = Arc::new(Notify::new());
        let conn_kill = ConnKill(kill.clone());
        let app = app.clone();
        let service = tower::service_fn(move |mut req: Request<Incoming>| {
            req.extensions_mut().insert(conn_kill.clone());
            app.clone().oneshot(req)
        });
        let mut stop_rx = stop_rx.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let mut conn = std::pin::pin!(conn);
            let mut stopping = false;
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    // Dropping the connection future closes the socket unanswered.
                    () = kill.notified() => break,
                    _ = stop_rx.changed(), if !stopping => {
                        stopping = true;
                        conn.as_mut().graceful_shutdown();
                    }
                }
            }
        });
    }
    let _ = stop_tx.send(true);
    Ok(())
}

/// A running emulator. Dropping it stops the server.
pub struct Emulator {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub root: String,
    pub addr: SocketAddr,
    /// Every vendor URL under `root`.
    pub urls: Urls,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Starts an emulator on `127.0.0.1:0` (a free port) in the current tokio runtime.
pub async fn spawn() -> std::io::Result<Emulator> {
    spawn_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
}

/// Starts an emulator on `addr`; the listener is bound before this returns, so the
/// emulator is reachable as soon as it does.
pub async fn spawn_on(addr: SocketAddr) -> std::io::Result<Emulator> {
    let listener = TcpListener::bind(addr).await?;
    let root = format!("http://{}", listener.local_addr()?);
    let state = EmulatorState::new(&root)?;
    start(listener, state)
}

/// Starts an emulator on `addr` whose state lives in the file at `path` (see
/// [`EmulatorState::open`]): clients, secrets, grants and signing keys survive a restart
/// on the same file. Issuers embed the root URL `http://{addr}`, so restart on the same
/// address (a fixed port, not 0) for tokens issued before to keep verifying.
pub async fn spawn_with_state_file(
    addr: SocketAddr,
    path: impl AsRef<Path>,
) -> std::io::Result<Emulator> {
    let listener = TcpListener::bind(addr).await?;
    let root = format!("http://{}", listener.local_addr()?);
    let state = EmulatorState::open(&root, path)?;
    start(listener, state)
}

fn start(listener: TcpListener, state: EmulatorState) -> std::io::Result<Emulator> {
    let addr = listener.local_addr()?;
    let urls = state.urls().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async move {
        let _ = stopped.await;
    }));
    Ok(Emulator {
        root: urls.root.clone(),
        urls,
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}
