//! The health task of one running container: probes on schedule, saves the
//! health after every probe (atomically, in the container's directory) and
//! reports changes of status, until it is stopped.
//!
//! It notices by itself when the container stops (it ends, `unhealthy` as
//! Docker reports a stopped container) or is restarted by its monitor
//! (`starting` again), and ignores a failure of a probe that the container's
//! stop or restart caused.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use berth_runtime::container::layout::ContainerDir;
use berth_runtime::container::{ContainerError, ContainerId, Containers, ExecOptions, State, Status};
use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use super::config::HealthConfig;
use super::error::HealthError;
use super::persist;
use super::probe::run_probe;
use super::state::{Health, HealthState, HealthStatus, ProbeOutcome, Transition};

/// A change of a container's health status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthEvent {
    pub container: ContainerId,
    pub from: HealthStatus,
    pub to: HealthStatus,
    /// The health after the change (its log says why).
    pub health: Health,
}

/// Why a monitor stops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The container stopped: its health is saved as `unhealthy`, as Docker
    /// reports a stopped container (no event is sent for it).
    ContainerStopped,
    /// The daemon lets go (shutting down): the saved health stays as it is,
    /// for the next daemon to take up. Dropping the monitor does the same.
    Detach,
}

/// What the container is doing, as its runtime state says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Observed {
    /// Running, since this start.
    Running(DateTime<Utc>),
    /// Between two runs (a restart policy's wait).
    Restarting,
    /// Frozen by `pause`: no probe runs (it could not answer) and none fails.
    Paused,
    Stopped,
}

/// Where probes run and how the container is observed: the container
/// through berth's exec helper, or host processes in tests.
pub(super) trait Target: Send + Sync + 'static {
    /// The probe's process, ready to spawn.
    fn probe(&self) -> Command;
    /// The container's state now (blocking file I/O; called off the runtime's threads).
    fn observe(&self) -> Observed;
}

/// `exec_command`'s result, kept to build the same command for every probe
/// (without the database the lookup needs).
#[derive(Debug)]
struct ExecTarget {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, Option<OsString>)>,
    current_dir: Option<PathBuf>,
    dir: ContainerDir,
}

impl ExecTarget {
    fn new(command: &Command, dir: ContainerDir) -> ExecTarget {
        ExecTarget {
            program: command.get_program().to_owned(),
            args: command.get_args().map(ToOwned::to_owned).collect(),
            envs: command.get_envs().map(|(k, v)| (k.to_owned(), v.map(ToOwned::to_owned))).collect(),
            current_dir: command.get_current_dir().map(ToOwned::to_owned),
            dir,
        }
    }
}

impl Target for ExecTarget {
    fn probe(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args);
        for (key, value) in &self.envs {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command
    }

    fn observe(&self) -> Observed {
        match State::load(&self.dir) {
            Ok(State { status: Status::Running, started_at: Some(started), .. }) => Observed::Running(started),
            Ok(State { status: Status::Running | Status::Restarting, .. }) => Observed::Restarting,
            Ok(State { status: Status::Paused, .. }) => Observed::Paused,
            Ok(_) => Observed::Stopped,
            Err(error) => {
                tracing::warn!(%error, "cannot read the container's state; stopping its healthcheck");
                Observed::Stopped
            }
        }
    }
}

/// The health task of one container. Dropping it detaches (see [`StopReason::Detach`]).
#[derive(Debug)]
pub struct HealthMonitor {
    container: ContainerId,
    current: watch::Receiver<Health>,
    stop: Option<oneshot::Sender<StopReason>>,
    task: JoinHandle<()>,
}

impl HealthMonitor {
    /// Starts health checking the running container `reference` (ID, name or
    /// ID prefix) with `config`; changes of status go to `events`. Must be
    /// called within a tokio runtime. A health saved for this same run of the
    /// container (by an earlier daemon) is taken up; otherwise the container
    /// is `starting`, with the log of its earlier runs kept. The health is
    /// saved before this returns (small blocking file I/O, as the lookup).
    /// One monitor per container: await [`HealthMonitor::stop`] of the old one
    /// before spawning another (both would write the same file).
    pub fn spawn(
        containers: &Containers,
        reference: &str,
        config: HealthConfig,
        events: mpsc::UnboundedSender<HealthEvent>,
    ) -> Result<HealthMonitor, HealthError> {
        let record = containers.lookup(reference)?;
        let state = containers.state(&record)?;
        // A paused container is checked again once it is unpaused.
        if !matches!(state.status, Status::Running | Status::Paused) {
            return Err(ContainerError::NotRunning(record.name).into());
        }
        let started_at = state.started_at.ok_or_else(|| HealthError::NotStarted(record.name.clone()))?;
        let options = ExecOptions { cmd: config.test.argv(), ..Default::default() };
        let command = containers.exec_command(record.id.as_str(), &options)?;
        let target = ExecTarget::new(&command, ContainerDir::new(containers.root(), &record.id));
        let path = persist::health_path(containers.root(), &record.id);
        let state = initial_state(&path, started_at);
        Ok(HealthMonitor::start(record.id, target, path, config, state, events))
    }

    pub(super) fn start<T: Target>(
        container: ContainerId,
        target: T,
        path: PathBuf,
        config: HealthConfig,
        state: HealthState,
        events: mpsc::UnboundedSender<HealthEvent>,
    ) -> HealthMonitor {
        // Saved at once, so that `inspect` shows `starting` from now on.
        if let Err(error) = persist::save(&path, &state) {
            tracing::warn!(%error, "cannot save the container's health");
        }
        let (current_tx, current) = watch::channel(state.health().clone());
        let (stop_tx, stop) = oneshot::channel();
        let span = tracing::info_span!("health", container = %container.short());
        let task =
            Task { container: container.clone(), target: Arc::new(target), path, config, state, current_tx, events };
        let task = tokio::spawn(task.run(stop).instrument(span));
        HealthMonitor { container, current, stop: Some(stop_tx), task }
    }

    pub fn container(&self) -> &ContainerId {
        &self.container
    }

    /// The health now.
    pub fn health(&self) -> Health {
        self.current.borrow().clone()
    }

    /// The health after every probe (`changed()`, `wait_for(...)`).
    pub fn subscribe(&self) -> watch::Receiver<Health> {
        self.current.clone()
    }

    /// Whether the task ended by itself (the container stopped).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the task (killing a probe under way) and waits for it.
    pub async fn stop(mut self, reason: StopReason) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(reason);
        }
        if let Err(error) = (&mut self.task).await {
            tracing::error!(container = %self.container, %error, "the health task failed");
        }
    }
}

impl Drop for HealthMonitor {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(StopReason::Detach);
        }
    }
}

/// The saved state if it is about this run; else a fresh start with the saved log.
fn initial_state(path: &std::path::Path, started_at: DateTime<Utc>) -> HealthState {
    match persist::load_state(path) {
        Ok(Some(saved)) if saved.started_at() == started_at => saved,
        Ok(Some(saved)) => HealthState::new(started_at, saved.health().log.clone()),
        Ok(None) => HealthState::new(started_at, Vec::new()),
        Err(error) => {
            tracing::warn!(%error, "starting the health over");
            HealthState::new(started_at, Vec::new())
        }
    }
}

struct Task<T> {
    container: ContainerId,
    target: Arc<T>,
    path: PathBuf,
    config: HealthConfig,
    state: HealthState,
    current_tx: watch::Sender<Health>,
    events: mpsc::UnboundedSender<HealthEvent>,
}

impl<T: Target> Task<T> {
    async fn run(mut self, mut stop: oneshot::Receiver<StopReason>) {
        // Probes are timed from the end of the last one in this run, or from the start.
        let started = self.state.started_at();
        let mut after = self.state.health().log.last().map(|l| l.end).filter(|&end| end > started).unwrap_or(started);
        loop {
            let due = self.state.next_probe_at(&self.config, after);
            let wait = (due - Utc::now()).to_std().unwrap_or_default();
            tokio::select! {
                reason = &mut stop => return self.finish(reason.unwrap_or(StopReason::Detach)).await,
                () = tokio::time::sleep(wait) => {}
            }
            match self.observe().await {
                Observed::Stopped => return self.finish(StopReason::ContainerStopped).await,
                Observed::Restarting | Observed::Paused => {
                    after = Utc::now();
                    continue;
                }
                Observed::Running(started) if started != self.state.started_at() => {
                    tracing::debug!("the container was restarted");
                    let transition = self.state.restarted(started);
                    self.publish(transition).await;
                    after = started;
                    continue;
                }
                Observed::Running(_) => {}
            }
            let result = tokio::select! {
                reason = &mut stop => return self.finish(reason.unwrap_or(StopReason::Detach)).await,
                result = run_probe(self.target.probe(), self.config.timeout) => result,
            };
            after = result.end;
            let failed = result.outcome != ProbeOutcome::Exited(0);
            if failed && self.observe().await != Observed::Running(self.state.started_at()) {
                tracing::debug!("the container stopped or restarted under the probe; its failure is not counted");
                continue;
            }
            let transition = self.state.record(&self.config, result);
            self.publish(transition).await;
        }
    }

    async fn observe(&self) -> Observed {
        let target = Arc::clone(&self.target);
        tokio::task::spawn_blocking(move || target.observe()).await.unwrap_or(Observed::Stopped)
    }

    /// Saves the health, then tells watchers and, on a change, the events channel.
    async fn publish(&mut self, transition: Option<Transition>) {
        let (path, state) = (self.path.clone(), self.state.clone());
        match tokio::task::spawn_blocking(move || persist::save(&path, &state)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot save the container's health"),
            Err(error) => tracing::warn!(%error, "cannot save the container's health"),
        }
        let health = self.state.health().clone();
        self.current_tx.send_replace(health.clone());
        if let Some(Transition { from, to }) = transition {
            tracing::info!(%from, %to, "health status changed");
            let _ = self.events.send(HealthEvent { container: self.container.clone(), from, to, health });
        }
    }

    async fn finish(mut self, reason: StopReason) {
        tracing::debug!(?reason, "health checks stop");
        if reason == StopReason::ContainerStopped {
            self.state.stopped();
            self.publish(None).await;
        }
    }
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
