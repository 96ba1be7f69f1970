//! spawn_app_on_sqlite: registry-svc in-process on 127.0.0.1:0 over a SQLite file, as
//! `dcrctl dev` runs it: no Postgres needed. The caller owns the file (a temp dir), so a
//! test can stop the service and start it again on the same data.

use std::path::Path;

use crate::registry::{TestApp, spawn_app_on};

/// Starts registry-svc with `DATABASE_URL=sqlite://<file>` (created when missing).
pub async fn spawn_app_on_sqlite(file: &Path) -> TestApp {
    spawn_app_on(format!("sqlite://{}", file.display()), |_| {}).await
}
