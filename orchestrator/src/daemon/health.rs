//! Container health in the daemon: a health monitor (crate::health) per
//! running container that has a check, and the latest status of each, read by
//! the planner, the `service_healthy` gates and `ps`. A change of status is an
//! event and wakes the project's reconciler (restart on unhealthy, gates).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::{Daemon, Event};
use crate::compose::model::Healthcheck;
use crate::health::{HealthMonitor, ImageHealth, StopReason, resolve};
use crate::reconcile::observed::Health;

/// Statuses and monitors by container ID. Each is tagged with the PID of the
/// run it checks: a restarted container keeps its ID, and the exit of the old
/// run must not end the checks of the new one.
#[derive(Debug, Default)]
pub struct HealthRegistry {
    statuses: Mutex<HashMap<String, (i32, Health)>>,
    monitors: Mutex<HashMap<String, (i32, HealthMonitor)>>,
}

impl HealthRegistry {
    fn statuses(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i32, Health)>> {
        self.statuses.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn monitors(&self) -> std::sync::MutexGuard<'_, HashMap<String, (i32, HealthMonitor)>> {
        self.monitors.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, id: &str, pid: i32, health: Health) {
        let mut statuses = self.statuses();
        match statuses.get_mut(id) {
            Some((run, status)) if *run == pid => *status = health,
            Some(_) => {}
            None => {
                statuses.insert(id.to_string(), (pid, health));
            }
        }
    }

    /// Whether the daemon checks this container's health.
    pub fn is_watched(&self, id: &str) -> bool {
        self.statuses().contains_key(id)
    }

    pub fn snapshot(&self) -> HashMap<String, Health> {
        self.statuses().iter().map(|(id, (_, health))| (id.clone(), *health)).collect()
    }

    /// The run `pid` of the container ended: its checks stop too (health saved
    /// as unhealthy, as Docker does). Checks of a later run are left alone.
    pub async fn forget(&self, id: &str, pid: i32) {
        {
            let mut statuses = self.statuses();
            if statuses.get(id).is_some_and(|(run, _)| *run == pid) {
                statuses.remove(id);
            }
        }
        let monitor = {
            let mut monitors = self.monitors();
            match monitors.get(id) {
                Some((run, _)) if *run == pid => monitors.remove(id),
                _ => None,
            }
        };
        if let Some((_, monitor)) = monitor {
            monitor.stop(StopReason::ContainerStopped).await;
        }
    }
}

/// Starts checking the health of the running container `id` when it has a
/// check: the compose service's `healthcheck` over the image's HEALTHCHECK.
pub async fn watch(
    daemon: &Arc<Daemon>,
    id: &str,
    pid: i32,
    service_check: Option<Healthcheck>,
    project: Option<String>,
    service: String,
) {
    let previous = daemon.health.monitors().remove(id);
    if let Some((_, previous)) = previous {
        previous.stop(StopReason::Detach).await;
    }
    daemon.health.statuses().remove(id);
    let engine = daemon.engine.clone();
    let reference = id.to_string();
    let config = tokio::task::spawn_blocking(move || {
        let record = engine.containers().lookup(&reference).map_err(|e| e.to_string())?;
        let image = ImageHealth::of_image(engine.images(), &record.config.image_id).map_err(|e| e.to_string())?;
        resolve(service_check.as_ref(), &image).map_err(|e| e.to_string())
    })
    .await;
    let config = match config {
        Ok(Ok(Some(config))) => config,
        Ok(Ok(None)) => return,
        Ok(Err(error)) => return tracing::warn!(container = id, %error, "cannot read the healthcheck"),
        Err(error) => return tracing::warn!(container = id, %error, "healthcheck lookup failed"),
    };
    let (events, mut changes) = mpsc::unbounded_channel();
    let spawned = HealthMonitor::spawn(&daemon.engine.containers(), id, config, events);
    let monitor = match spawned {
        Ok(monitor) => monitor,
        Err(error) => return tracing::warn!(container = id, %error, "cannot start health checks"),
    };
    daemon.health.set(id, pid, monitor.health().status.into());
    daemon.health.monitors().insert(id.to_string(), (pid, monitor));
    let daemon = daemon.clone();
    let id = id.to_string();
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            daemon.health.set(&id, pid, change.to.into());
            let name = daemon.engine.containers().lookup(&id).map(|r| r.name).unwrap_or_else(|_| id.clone());
            let action = format!("health_status: {}", change.to.as_str());
            daemon.emit(Event::new("container", &action, &name, project.as_deref().unwrap_or_default(), &service));
            if let Some(project) = &project {
                daemon.wake(project);
            }
        }
    });
}
