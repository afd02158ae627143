//! `berth daemon`: the API server on the Unix socket and, behind it, the
//! reconciler that keeps every project converged (DESIGN.md, "Process model").
//! Containers do not depend on it: each has its own monitor, so stopping or
//! killing the daemon leaves them running, and a new daemon adopts them.

mod projects;
mod routes;

use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;

use berth_runtime::store::{Db, DbError, Root};
use tokio::net::UnixListener;
use tokio::sync::Mutex;

use crate::api::socket_path;
pub use projects::{ProjectRecord, ProjectStore};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("a berth daemon already answers on {0}")]
    AlreadyRunning(String),
    #[error("cannot listen on {path}: {source}")]
    Listen { path: String, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("serving the API: {0}")]
    Serve(std::io::Error),
}

/// What the request handlers share.
#[derive(Debug)]
pub struct Daemon {
    pub root: Root,
    pub projects: Mutex<ProjectStore>,
}

/// Runs the daemon until SIGTERM or SIGINT. In-flight requests finish;
/// containers keep running.
pub async fn run(root: Root) -> Result<(), DaemonError> {
    let listener = bind(&root).await?;
    let db = Db::open(&root.db(), &[projects::MIGRATION])?;
    let daemon = Arc::new(Daemon { projects: Mutex::new(ProjectStore::new(db)), root: root.clone() });
    tracing::info!(socket = %socket_path(&root).display(), pid = std::process::id(), "berth daemon listening");
    let app = routes::router(daemon);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await.map_err(DaemonError::Serve)?;
    let _ = std::fs::remove_file(socket_path(&root));
    tracing::info!("berth daemon stopped; containers keep running");
    Ok(())
}

/// Binds the socket (mode 0660), replacing a stale one a crashed daemon left.
async fn bind(root: &Root) -> Result<UnixListener, DaemonError> {
    let path = socket_path(root);
    let display = path.display().to_string();
    let listen_err = |source| DaemonError::Listen { path: display.clone(), source };
    std::fs::create_dir_all(root.run()).map_err(listen_err)?;
    if path.exists() {
        if tokio::net::UnixStream::connect(&path).await.is_ok() {
            return Err(DaemonError::AlreadyRunning(display));
        }
        std::fs::remove_file(&path).map_err(listen_err)?;
    }
    let listener = UnixListener::bind(&path).map_err(listen_err)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660)).map_err(listen_err)?;
    Ok(listener)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        tracing::warn!("cannot watch for SIGTERM/SIGINT; stop the daemon with SIGKILL");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}
