//! `berth daemon`: the API server on the Unix socket and, behind it, the
//! reconciler that keeps every project converged (DESIGN.md, "Process model").
//! Containers do not depend on it: each has its own monitor, so stopping or
//! killing the daemon leaves them running, and a new daemon adopts them.

mod archive;
mod compose;
mod container_info;
mod containers;
mod converge;
mod events;
mod exec;
mod execute;
mod health;
mod idle;
mod images;
mod logs;
mod networks;
mod observe;
mod oneoff;
mod ops;
mod pause;
mod projects;
mod reply;
mod routes;
mod top;
mod upgrade;
mod watch;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex as SyncMutex};

use berth_runtime::store::{Db, DbError, Root};
use nix::unistd::Gid;
use tokio::net::UnixListener;
use tokio::sync::{Mutex, broadcast, mpsc};

use crate::api::socket_path;
use crate::engine::{Engine, EngineError};
pub use events::Event;
pub use health::HealthRegistry;
pub use idle::limit_malloc_arenas;
pub use projects::{ProjectRecord, ProjectStore};

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("a berth daemon already answers on {0}")]
    AlreadyRunning(String),
    #[error("cannot listen on {path}: {source}")]
    Listen { path: String, source: std::io::Error },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the project store: {0}")]
    Projects(#[from] projects::ProjectStoreError),
    #[error("serving the API: {0}")]
    Serve(std::io::Error),
}

/// One project's converge loop and the lock its operations take.
#[derive(Debug, Default)]
struct ProjectHandle {
    /// Held while a plan for the project is made and carried out.
    operation: Arc<Mutex<()>>,
    /// Wakes the converge loop; `None` while none runs.
    wake: Option<mpsc::UnboundedSender<()>>,
}

/// What the request handlers and background tasks share.
#[derive(Debug)]
pub struct Daemon {
    pub root: Root,
    pub engine: Arc<Engine>,
    pub projects: Mutex<ProjectStore>,
    pub health: HealthRegistry,
    /// Every event, for `compose events` (subscribers that fall behind lose the oldest).
    pub events: broadcast::Sender<events::Event>,
    handles: SyncMutex<HashMap<String, ProjectHandle>>,
    /// Held (shared) while an exited container is being settled (its network
    /// freed); shutdown takes it exclusively, so that it does not leave a
    /// `--rm` container's namespace behind.
    pub settling: tokio::sync::RwLock<()>,
    /// When the daemon last worked (requests, reconcile passes): it gives
    /// memory back once quiet.
    pub activity: idle::Activity,
}

impl Daemon {
    fn handles(&self) -> std::sync::MutexGuard<'_, HashMap<String, ProjectHandle>> {
        self.handles.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The lock every plan for `project` runs under.
    pub fn operation_lock(&self, project: &str) -> Arc<Mutex<()>> {
        self.handles().entry(project.to_string()).or_default().operation.clone()
    }

    /// Something happened to `project`: plan again.
    pub fn wake(&self, project: &str) {
        if let Some(wake) = self.handles().get(project).and_then(|h| h.wake.as_ref()) {
            let _ = wake.send(());
        }
    }

    /// Starts the converge loop of `project` unless it runs.
    pub fn ensure_converging(self: &Arc<Self>, project: &str) {
        self.converge(project, false);
    }

    fn converge(self: &Arc<Self>, project: &str, daemon_start: bool) {
        let mut handles = self.handles();
        let handle = handles.entry(project.to_string()).or_default();
        if handle.wake.as_ref().is_some_and(|w| !w.is_closed()) {
            return;
        }
        let (wake, receiver) = mpsc::unbounded_channel();
        handle.wake = Some(wake);
        tokio::spawn(converge::run(self.clone(), project.to_string(), receiver, daemon_start));
    }

    /// Stops the converge loop of `project` (before `down`).
    pub fn stop_converging(&self, project: &str) {
        if let Some(handle) = self.handles().get_mut(project) {
            handle.wake = None;
        }
    }

    pub fn emit(&self, event: events::Event) {
        // No subscriber is fine: nobody is listening.
        let _ = self.events.send(event);
    }

    /// A container was started: watch for its exit, and check its health if it
    /// has a check (its compose service's, found from its labels, over its image's;
    /// none for the one-off containers of `compose run`, as compose runs them).
    pub async fn started(self: &Arc<Self>, id: &str, pid: i32) {
        let engine = self.engine.clone();
        let reference = id.to_string();
        let labels =
            tokio::task::spawn_blocking(move || engine.containers().lookup(&reference).map(|r| r.config.labels))
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
        use crate::reconcile::container_spec::labels::{ONEOFF, PROJECT, SERVICE};
        let project = labels.get(PROJECT).cloned();
        let service = labels.get(SERVICE).cloned().unwrap_or_default();
        if labels.get(ONEOFF).is_none_or(|o| o != "True") {
            let check =
                match &project {
                    Some(project) => {
                        self.projects.lock().await.get(project).ok().flatten().and_then(|record| {
                            record.project.services.get(&service).and_then(|s| s.healthcheck.clone())
                        })
                    }
                    None => None,
                };
            health::watch(self, id, pid, check, project.clone(), service).await;
        }
        watch::watch(self, id.to_string(), pid, project);
    }
}

/// Runs blocking engine work off the async threads; a failure as the text the API reports.
pub(crate) async fn blocking<T, E>(work: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, String>
where
    T: Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    run_blocking(work).await.and_then(|result| result.map_err(|e| e.to_string()))
}

/// Runs blocking work off the async threads, keeping its error as it is (for
/// [`reply::answer`]); the outer error says the work panicked.
pub(crate) async fn run_blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, String>
where
    T: Send + 'static,
    E: Send + 'static,
{
    tokio::task::spawn_blocking(work).await.map_err(|e| e.to_string())
}

/// How long open connections may go on after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs the daemon until SIGTERM or SIGINT. In-flight requests finish;
/// containers keep running. The socket is root's and, with `socket_group`,
/// that group's (mode 0660), as Docker's `-G`.
pub async fn run(root: Root, socket_group: Option<Gid>) -> Result<(), DaemonError> {
    let listener = bind(&root, socket_group).await?;
    let db = Db::open(&root.db(), &[projects::MIGRATION])?;
    let engine_root = root.clone();
    let engine = tokio::task::spawn_blocking(move || Engine::open(&engine_root))
        .await
        .map_err(|e| DaemonError::Serve(std::io::Error::other(e)))??;
    let daemon = Arc::new(Daemon {
        projects: Mutex::new(ProjectStore::new(db)),
        engine: Arc::new(engine),
        health: HealthRegistry::default(),
        events: broadcast::channel(1024).0,
        root: root.clone(),
        handles: SyncMutex::default(),
        settling: tokio::sync::RwLock::new(()),
        activity: idle::Activity::new(),
    });
    adopt(&daemon).await?;
    // For service managers and tests: which process to signal.
    let pid_file = root.run().join("berth.pid");
    berth_runtime::store::write_atomic(&pid_file, format!("{}\n", std::process::id()).as_bytes())
        .map_err(|source| DaemonError::Listen { path: pid_file.display().to_string(), source })?;
    tracing::info!(socket = %socket_path(&root).display(), pid = std::process::id(), "berth daemon listening");
    let activity = daemon.activity.clone();
    tokio::spawn(activity.clone().release_when_quiet());
    let app = routes::router(daemon.clone()).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            activity.touch();
            next.run(request)
        },
    ));
    // In-flight requests may finish, but streams that never end on their own
    // (`logs -f`, `events`) must not keep the daemon from stopping.
    let (stopping, stopped) = tokio::sync::oneshot::channel();
    let server = axum::serve(listener, app).with_graceful_shutdown(async {
        shutdown_signal().await;
        let _ = stopping.send(());
    });
    let grace = async {
        if stopped.await.is_ok() {
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::pin!(grace);
    tokio::select! {
        served = server.into_future() => served.map_err(DaemonError::Serve)?,
        () = &mut grace => tracing::warn!("connections still open {} s after the signal: closing them", SHUTDOWN_GRACE.as_secs()),
    }
    tokio::select! {
        _settled = daemon.settling.write() => {}
        () = &mut grace => tracing::warn!("containers still being settled {} s after the signal", SHUTDOWN_GRACE.as_secs()),
    }
    let _ = std::fs::remove_file(socket_path(&root));
    let _ = std::fs::remove_file(&pid_file);
    tracing::info!("berth daemon stopped; containers keep running");
    Ok(())
}

/// Takes over what a previous daemon left: watches every running container of
/// a known project and starts each project's converge loop (which brings back,
/// in dependency order, what stopped while no daemon ran).
async fn adopt(daemon: &Arc<Daemon>) -> Result<(), DaemonError> {
    let projects = daemon.projects.lock().await.list()?;
    for record in &projects {
        let engine = daemon.engine.clone();
        let name = record.project.name.clone();
        let running = tokio::task::spawn_blocking(move || {
            observe::project_containers(&engine, &name, &HashMap::new(), &HashMap::new())
        })
        .await
        .map_err(|e| DaemonError::Serve(std::io::Error::other(e)))??;
        for container in running.iter().filter(|c| c.observed.is_running()) {
            daemon.started(container.record.id.as_str(), container.state.pid).await;
        }
        daemon.converge(&record.project.name, true);
    }
    // Containers of no project (`berth run -d`): watched so that their network is freed when they end.
    let engine = daemon.engine.clone();
    let loose = tokio::task::spawn_blocking(move || {
        let containers = engine.containers();
        let mut running = Vec::new();
        for record in containers.all()? {
            if record.config.labels.contains_key(crate::reconcile::container_spec::labels::PROJECT) {
                continue;
            }
            let state = containers.state(&record)?;
            if state.is_running() {
                // A container between two runs of its own restart policy has no process: watch its monitor.
                let pid = if state.pid > 0 { state.pid } else { state.monitor_pid };
                running.push((record.id.to_string(), pid));
            }
        }
        Ok::<_, EngineError>(running)
    })
    .await
    .map_err(|e| DaemonError::Serve(std::io::Error::other(e)))??;
    for (id, pid) in loose {
        watch::watch(daemon, id, pid, None);
    }
    Ok(())
}

/// Binds the socket (mode 0660, owned by `group` when given), replacing a
/// stale one a crashed daemon left.
async fn bind(root: &Root, group: Option<Gid>) -> Result<UnixListener, DaemonError> {
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
    if let Some(group) = group {
        nix::unistd::chown(&path, None, Some(group)).map_err(|e| listen_err(e.into()))?;
    }
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
