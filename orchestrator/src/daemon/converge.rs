//! The continuous part of the reconciler: one task per project that is up,
//! planning in `Converge` mode whenever something happens to the project (a
//! container exited, health changed) or a held-back restart falls due, and
//! carrying the plan out. It shares the project's operation lock with `up`
//! and `down`, so only one plan runs for a project at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::Daemon;
use super::compose::{graph, local_images};
use super::execute::{Context, execute};
use super::observe::{now, observe, project_containers};
use crate::api::compose::Progress;
use crate::reconcile::desired::DesiredProject;
use crate::reconcile::observed::Status;
use crate::reconcile::plan::Action;
use crate::reconcile::planner::{BACKOFF_RESET_MS, Mode, plan};
use crate::reconcile::selection::keep_only;

/// With nothing happening, look again this often (drift: a container removed behind berth's back).
const IDLE_CHECK: Duration = Duration::from_secs(2);

/// Runs until the project is gone from the store or the wake channel closes.
pub async fn run(daemon: Arc<Daemon>, name: String, mut wake: mpsc::UnboundedReceiver<()>, daemon_start: bool) {
    let mut first = daemon_start;
    // Restarts by policy per container, for the backoff.
    let mut restarts: HashMap<String, u32> = HashMap::new();
    loop {
        let wake_at = match pass(&daemon, &name, first, &mut restarts).await {
            Ok(Some(wake_at)) => wake_at,
            Ok(None) => return,
            Err(error) => {
                tracing::warn!(project = %name, %error, "reconcile pass failed");
                None
            }
        };
        first = false;
        let idle = match wake_at {
            Some(at) => Duration::from_millis(at.saturating_sub(now())).min(IDLE_CHECK),
            None => IDLE_CHECK,
        };
        tokio::select! {
            received = wake.recv() => if received.is_none() { return },
            () = tokio::time::sleep(idle) => {}
        }
        // Several events at once make one pass.
        while wake.try_recv().is_ok() {}
    }
}

/// One observe-plan-execute pass. `Ok(None)`: the project is gone; stop.
async fn pass(
    daemon: &Arc<Daemon>,
    name: &str,
    daemon_start: bool,
    restarts: &mut HashMap<String, u32>,
) -> Result<Option<Option<u64>>, String> {
    let operation = daemon.operation_lock(name);
    let _operation = operation.lock().await;
    let Some(record) = daemon.projects.lock().await.get(name).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let graph = graph(&record.project)?;
    let (images, ids) = local_images(daemon, &record.project);
    let mut desired = DesiredProject::from_project(&record.project, &graph, &ids, &record.scale);
    // Services no `up` asked for stay down (`up SERVICE`, and the service of a `compose run`).
    keep_only(&mut desired, &record.services);
    let engine = daemon.engine.clone();
    let health = daemon.health.snapshot();
    let (project_name, counts) = (name.to_string(), restarts.clone());
    let (containers, observed) = tokio::task::spawn_blocking(move || {
        let containers = project_containers(&engine, &project_name, &health, &counts)?;
        let observed = observe(&engine, &containers)?;
        Ok::<_, crate::engine::EngineError>((containers, observed))
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    // A run long enough resets the backoff, as Docker does.
    for c in &containers {
        if let (Some(start), Some(end)) = (c.observed.started_at, c.observed.finished_at)
            && end.saturating_sub(start) >= BACKOFF_RESET_MS
        {
            restarts.remove(&c.record.name);
        }
    }
    let plan = plan(&desired, &observed, &Mode::Converge { now: now(), daemon_start });
    if plan.is_empty() {
        return Ok(Some(plan.wake_at));
    }
    tracing::info!(project = name, "converging:\n{plan}");
    for step in &plan.steps {
        if let Action::Start { name: container, .. } = &step.action
            && containers
                .iter()
                .any(|c| c.record.name == *container && matches!(c.observed.status, Status::Exited { .. }))
        {
            *restarts.entry(container.clone()).or_default() += 1;
        }
    }
    let context = Arc::new(Context {
        project: record.project,
        desired,
        working_dir: record.working_dir,
        config_files: record.config_files,
        images,
        timeout: None,
        remove_volumes: false,
    });
    let (progress, mut lines) = mpsc::unbounded_channel();
    let project = name.to_string();
    let logger = tokio::spawn(async move {
        while let Some(line) = lines.recv().await {
            if let Progress::Step { resource, name, status, detail } = line {
                tracing::info!(project = %project, "{resource} {name} {status}{}", detail.map(|d| format!(": {d}")).unwrap_or_default());
            }
        }
    });
    let result = execute(daemon, context, &plan, &progress).await;
    drop(progress);
    let _ = logger.await;
    if let Err(error) = result {
        tracing::warn!(project = name, %error, "a converge step failed; retrying later");
    }
    Ok(Some(plan.wake_at))
}
