//! The demo's `upstream` on this host: like the echo image compose runs, it answers every
//! request with what it received, as JSON `{"method", "path", "headers"}` (lower-case
//! header names).

use axum::Json;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;

async fn echo(method: Method, uri: Uri, headers: HeaderMap) -> Json<Value> {
    let headers: Map<String, Value> = headers
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), Value::String(value))
        })
        .collect();
    Json(json!({ "method": method.as_str(), "path": uri.path(), "headers": headers }))
}

/// Serves on 127.0.0.1:`port` until the returned task is aborted (or the runtime ends).
pub async fn serve(port: u16) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    let app = axum::Router::new().fallback(echo);
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app).await {
            eprintln!("echo upstream stopped: {error}");
        }
    }))
}
