//! Knowing at once when a container's process ends, without a thread per
//! container: a pidfd (readable when the process exits) per running container,
//! polled by tokio. The monitor records the exit; the watcher then frees the
//! container's network (ports, names) and wakes its project's reconciler.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use rustix::process::{Pid, PidfdFlags, pidfd_open};
use tokio::io::unix::AsyncFd;

use std::time::{Duration, Instant};

use berth_runtime::container::{ContainerError, ContainerRecord, Containers};

use super::{Daemon, Event};

/// Watches the container `id` (running, its process `pid`) until it exits.
pub fn watch(daemon: &Arc<Daemon>, id: String, pid: i32, project: Option<String>) {
    let daemon = daemon.clone();
    tokio::spawn(async move {
        if let Some(pid) = Pid::from_raw(pid) {
            match pidfd_open(pid, PidfdFlags::empty()) {
                Ok(fd) => wait_readable(fd).await,
                // Already gone (ESRCH): it exited before we looked.
                Err(error) => tracing::debug!(container = %id, %error, "no pidfd; the process has ended"),
            }
        }
        // The monitor records the exit after the process ends; `wait` returns once it has.
        let settling = daemon.settling.read().await;
        let engine = daemon.engine.clone();
        let reference = id.clone();
        let recorded = tokio::task::spawn_blocking(move || {
            let containers = engine.own_containers()?;
            let gone = |error: &ContainerError| matches!(error, ContainerError::NotFound(_));
            // A `--rm` container's monitor removes it now (its directory first,
            // its record last): what the store shows meanwhile is half of it.
            if removed_by_its_monitor(&containers, &reference) {
                engine.network().release(&reference)?;
                return Ok(Settled::Removed);
            }
            let settled = containers.wait(&reference).and_then(|status| {
                let record = containers.lookup(&reference)?;
                let state = containers.state(&record)?;
                Ok((record, status, state))
            });
            let (record, status, state) = match settled {
                Ok(settled) => settled,
                // Removed as it exited (`run --rm`): its network goes with it.
                Err(error) if gone(&error) => {
                    engine.network().release(&reference)?;
                    return Ok(Settled::Removed);
                }
                Err(error) => return Err(error.into()),
            };
            // Its monitor restarts it by its own policy (`run --restart`): it
            // keeps its ports and names until the monitor is done with it.
            if state.is_running() && state.monitor_pid > 0 {
                return Ok(Settled::Restarting { monitor: state.monitor_pid });
            }
            engine.stopped(&record.id)?;
            Ok::<_, crate::engine::EngineError>(Settled::Exited(Box::new(record), status.exit_code))
        })
        .await;
        drop(settling);
        if let Ok(Ok(Settled::Restarting { monitor })) = recorded {
            watch(&daemon, id, monitor, project);
            return;
        }
        let exit = match &recorded {
            Ok(Ok(Settled::Removed | Settled::Restarting { .. })) => Ok(()),
            Ok(Ok(Settled::Exited(record, code))) => {
                let labels = &record.config.labels;
                let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
                let project = label(crate::reconcile::container_spec::labels::PROJECT);
                let service = label(crate::reconcile::container_spec::labels::SERVICE);
                daemon.emit(
                    Event::new("container", "die", &record.name, &project, &service).with("exitCode", code.to_string()),
                );
                Ok(())
            }
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match exit {
            Ok(()) => tracing::debug!(container = %id, "exited"),
            Err(error) => tracing::warn!(container = %id, %error, "cannot settle an exited container"),
        }
        daemon.health.forget(&id, pid).await;
        if let Some(project) = project {
            daemon.wake(&project);
        }
    });
}

/// What became of a container whose process ended.
enum Settled {
    Exited(Box<ContainerRecord>, i32),
    /// Its monitor runs it again: watched further through the monitor's PID.
    Restarting {
        monitor: i32,
    },
    Removed,
}

/// How long a `--rm` container's monitor may take to remove it.
const REMOVAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the container is gone, or is a `--rm` one that its monitor
/// removes within [`REMOVAL_TIMEOUT`] (false if that removal fails: it stays).
fn removed_by_its_monitor(containers: &Containers, reference: &str) -> bool {
    let deadline = Instant::now() + REMOVAL_TIMEOUT;
    loop {
        match containers.lookup(reference) {
            Err(ContainerError::NotFound(_)) => return true,
            Ok(record) if record.config.auto_remove && Instant::now() < deadline => {
                // It usually takes the monitor a millisecond or two.
                std::thread::sleep(Duration::from_millis(1));
            }
            _ => return false,
        }
    }
}

async fn wait_readable(fd: OwnedFd) {
    // `AsyncFd::new` is deprecated for fds that may be closed while registered;
    // this one is owned by the AsyncFd and closed only when it is dropped, and
    // its replacement (`register`) is an unsafe fn.
    #[allow(deprecated)]
    let registered = AsyncFd::new(fd);
    match registered {
        Ok(fd) => {
            if let Err(error) = fd.readable().await {
                tracing::warn!(%error, "pidfd poll failed");
            }
        }
        Err(error) => tracing::warn!(%error, "cannot poll a pidfd"),
    }
}
