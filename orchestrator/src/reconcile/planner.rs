//! The planner: desired state + observed state → a [`Plan`]. It does no I/O
//! and takes the time as data, so every decision is tested by comparing plans
//! as text (STYLE.md, "Decide, then act").

use std::collections::{BTreeMap, BTreeSet};

use super::desired::{DesiredProject, DesiredService};
use super::observed::{Health, Millis, Observed, ObservedContainer, Status};
use super::plan::{Action, Plan, StepId};
use super::selection::selected;
use crate::compose::model::{Condition, RestartPolicy};

/// What the plan is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `berth compose up`: converge now, starting whatever is stopped.
    Up(UpOptions),
    /// The daemon's continuous loop: bring back what died or vanished, by the
    /// restart policies, leaving alone what the user stopped. On the first pass
    /// after the daemon starts, `always` brings back even containers the user
    /// stopped, as Docker does (`unless-stopped` does not).
    Converge { now: Millis, daemon_start: bool },
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UpOptions {
    pub force_recreate: bool,
    pub no_recreate: bool,
    /// Only these services (and, unless `no_deps`, what they depend on); empty means all.
    pub services: Vec<String>,
    pub no_deps: bool,
    pub remove_orphans: bool,
    /// `compose run SERVICE`: plan what its one-off container needs (the
    /// project's networks and volumes and, unless `no_deps`, the service's
    /// dependencies, up to the conditions it waits for), not the service.
    pub run: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DownOptions {
    /// `-v`: also remove the project's named volumes.
    pub volumes: bool,
    pub remove_orphans: bool,
    /// `--rmi`: these images, once the containers are gone.
    pub images: Vec<String>,
}

/// A container that ran at least this long starts its backoff again from zero, as Docker does.
pub const BACKOFF_RESET_MS: Millis = 10_000;
const BACKOFF_FIRST_MS: Millis = 100;
const BACKOFF_CAP_MS: Millis = 60_000;

/// The delay before restart number `restarts + 1`: none for the first, then
/// 100 ms doubling up to a minute.
pub fn backoff(restarts: u32) -> Millis {
    match restarts {
        0 => 0,
        n => BACKOFF_FIRST_MS.saturating_mul(1 << (n - 1).min(20)).min(BACKOFF_CAP_MS),
    }
}

/// The planner's verdict on one existing container.
enum Decision {
    Keep,
    /// Nothing yet: a restart is due at this time.
    Wake(Millis),
    Recreate(String),
    Start(String),
    Restart(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    Recreated,
    Restarted,
}

struct Planner<'a> {
    desired: &'a DesiredProject,
    observed: &'a Observed,
    mode: &'a Mode,
    plan: Plan,
    /// Per service: the steps after which its containers are (re)started.
    started: BTreeMap<String, Vec<StepId>>,
    changed: BTreeMap<String, Change>,
    gates: BTreeMap<(String, Condition), Vec<StepId>>,
    /// Steps every container creation waits for (networks, volumes).
    resources: Vec<StepId>,
    /// The services this plan touches (`None`: all).
    selected: Option<BTreeSet<String>>,
}

pub fn plan(desired: &DesiredProject, observed: &Observed, mode: &Mode) -> Plan {
    let mut planner = Planner {
        desired,
        observed,
        mode,
        plan: Plan::default(),
        started: BTreeMap::new(),
        changed: BTreeMap::new(),
        gates: BTreeMap::new(),
        resources: Vec::new(),
        selected: None,
    };
    planner.selected = planner.up_options().and_then(|options| selected(desired, options));
    planner.resources();
    for service in &desired.services {
        if planner.is_selected(&service.name) {
            planner.service(service);
        }
    }
    // The one-off container starts once its dependencies meet their conditions.
    if let Some(run) = planner.up_options().and_then(|o| o.run.as_deref()).and_then(|run| desired.service(run)) {
        planner.service_gate(run);
    }
    planner.orphans();
    planner.plan
}

impl<'a> Planner<'a> {
    fn up_options(&self) -> Option<&'a UpOptions> {
        match self.mode {
            Mode::Up(options) => Some(options),
            Mode::Converge { .. } => None,
        }
    }

    fn is_selected(&self, service: &str) -> bool {
        self.selected.as_ref().is_none_or(|s| s.contains(service))
    }

    fn resources(&mut self) {
        for name in &self.desired.networks {
            if !self.observed.networks.contains(name) {
                let id = self.plan.push(Action::CreateNetwork { name: name.clone() }, "missing", vec![]);
                self.resources.push(id);
            }
        }
        for name in &self.desired.volumes {
            if !self.observed.volumes.contains(name) {
                let id = self.plan.push(Action::CreateVolume { name: name.clone() }, "missing", vec![]);
                self.resources.push(id);
            }
        }
    }

    fn containers_of(&self, service: &str) -> Vec<&'a ObservedContainer> {
        let mut containers: Vec<&ObservedContainer> =
            self.observed.containers.iter().filter(|c| c.service == service && !c.oneoff).collect();
        containers.sort_by_key(|c| (c.number, !c.is_running(), c.id.clone()));
        containers
    }

    /// What a dependent must wait for before it starts.
    fn gate(&mut self, dependency: &str, condition: Condition) -> Vec<StepId> {
        let key = (dependency.to_string(), condition);
        if let Some(gate) = self.gates.get(&key) {
            return gate.clone();
        }
        let started = self.started.get(dependency).cloned().unwrap_or_default();
        let containers = self.containers_of(dependency);
        let gate = match condition {
            Condition::ServiceStarted => started,
            Condition::ServiceHealthy => {
                let healthy = started.is_empty()
                    && !containers.is_empty()
                    && containers.iter().all(|c| c.is_running() && c.health == Some(Health::Healthy));
                if healthy {
                    Vec::new()
                } else {
                    let reason = "a dependent waits for service_healthy";
                    vec![self.plan.push(Action::WaitHealthy { service: dependency.into() }, reason, started)]
                }
            }
            Condition::ServiceCompletedSuccessfully => {
                let done = started.is_empty()
                    && !containers.is_empty()
                    && containers.iter().all(|c| c.status == Status::Exited { code: 0 });
                if done {
                    Vec::new()
                } else {
                    let reason = "a dependent waits for service_completed_successfully";
                    vec![self.plan.push(Action::WaitCompleted { service: dependency.into() }, reason, started)]
                }
            }
        };
        self.gates.insert(key, gate.clone());
        gate
    }

    /// What the service's containers must wait for: its dependencies' conditions
    /// (dependencies outside the selection, with `--no-deps`, are not waited for).
    fn service_gate(&mut self, service: &DesiredService) -> Vec<StepId> {
        let mut gate = Vec::new();
        for dep in &service.depends_on {
            if self.desired.service(&dep.service).is_some() && self.is_selected(&dep.service) {
                gate.extend(self.gate(&dep.service, dep.condition));
            }
        }
        gate
    }

    /// Why the service's running containers must restart because a dependency changed.
    fn dependency_changed(&self, service: &DesiredService) -> Option<String> {
        service.depends_on.iter().filter(|dep| dep.restart).find_map(|dep| {
            let what = match self.changed.get(&dep.service)? {
                Change::Recreated => "recreated",
                Change::Restarted => "restarted",
            };
            Some(format!("dependency {} {what} (restart: true)", dep.service))
        })
    }

    fn service(&mut self, service: &'a DesiredService) {
        let dependency_changed = self.dependency_changed(service);
        let containers = self.containers_of(&service.name);
        let mut gate: Option<Vec<StepId>> = None;
        let mut seen = BTreeSet::new();
        let mut started = Vec::new();
        for container in &containers {
            let duplicate = !seen.insert(container.number);
            if duplicate || container.number > service.replicas {
                let reason = if duplicate {
                    format!("a second container numbered {}", container.number)
                } else {
                    format!("scale {} down to {}", service.name, service.replicas)
                };
                self.remove(container, &reason, Vec::new());
                continue;
            }
            let decision = self.decide(service, container, dependency_changed.as_deref());
            let step = match decision {
                Decision::Keep => continue,
                Decision::Wake(at) => {
                    self.plan.wake(at);
                    continue;
                }
                Decision::Recreate(reason) => {
                    let removed = self.remove(container, &reason, Vec::new());
                    let mut after = gate.get_or_insert_with(|| self.service_gate(service)).clone();
                    after.push(removed);
                    self.changed.insert(service.name.clone(), Change::Recreated);
                    self.create_and_start(service, container.number, &reason, &after)
                }
                Decision::Start(reason) => {
                    let action = Action::Start { service: service.name.clone(), name: container.name.clone() };
                    self.start(service, action, reason, &mut gate)
                }
                Decision::Restart(reason) => {
                    let action = Action::Restart { service: service.name.clone(), name: container.name.clone() };
                    self.start(service, action, reason, &mut gate)
                }
            };
            started.push(step);
        }
        for number in (1..=service.replicas).filter(|n| !seen.contains(n)) {
            let reason = match (self.mode, containers.is_empty()) {
                (Mode::Converge { .. }, _) => "missing: removed outside berth".to_string(),
                (Mode::Up(_), true) => "not created yet".to_string(),
                (Mode::Up(_), false) => format!("scale {} up to {}", service.name, service.replicas),
            };
            let after = gate.get_or_insert_with(|| self.service_gate(service)).clone();
            started.push(self.create_and_start(service, number, &reason, &after));
        }
        self.started.insert(service.name.clone(), started);
    }

    /// A start or restart of an existing container, behind the service's gate.
    fn start(
        &mut self,
        service: &DesiredService,
        action: Action,
        reason: String,
        gate: &mut Option<Vec<StepId>>,
    ) -> StepId {
        let after = gate.get_or_insert_with(|| self.service_gate(service)).clone();
        self.changed.entry(service.name.clone()).or_insert(Change::Restarted);
        self.plan.push(action, reason, after)
    }

    fn create_and_start(&mut self, service: &DesiredService, number: u32, reason: &str, gate: &[StepId]) -> StepId {
        let name = self.desired.container_name(service, number);
        let mut after = self.resources.clone();
        after.extend_from_slice(gate);
        let create = Action::Create { service: service.name.clone(), number, name: name.clone() };
        let created = self.plan.push(create, reason, after);
        let mut after = vec![created];
        after.extend_from_slice(gate);
        self.plan.push(Action::Start { service: service.name.clone(), name }, reason, after)
    }

    fn remove(&mut self, container: &ObservedContainer, reason: &str, after: Vec<StepId>) -> StepId {
        let after = if container.is_running() {
            vec![self.plan.push(Action::Stop { name: container.name.clone() }, reason, after)]
        } else {
            after
        };
        self.plan.push(Action::Remove { name: container.name.clone() }, reason, after)
    }

    /// Why an existing container must be recreated, if it must.
    fn recreate_reason(&self, service: &DesiredService, container: &ObservedContainer) -> Option<String> {
        let options = self.up_options();
        if options.is_some_and(|o| o.force_recreate) {
            return Some("--force-recreate".into());
        }
        if options.is_some_and(|o| o.no_recreate) {
            return None;
        }
        if container.config_hash != service.config_hash {
            let short = |h: &str| h.chars().take(12).collect::<String>();
            return Some(format!(
                "config hash changed ({} -> {})",
                short(&container.config_hash),
                short(&service.config_hash)
            ));
        }
        match &service.image_id {
            Some(image) if *image != container.image_id => Some(format!("image changed ({})", short_id(image))),
            _ => None,
        }
    }

    /// What to do with a container that exists.
    fn decide(
        &self,
        service: &DesiredService,
        container: &ObservedContainer,
        dependency_changed: Option<&str>,
    ) -> Decision {
        if let Some(reason) = self.recreate_reason(service, container) {
            return Decision::Recreate(reason);
        }
        match (self.mode, container.status) {
            (_, Status::Running | Status::Paused) => {
                if let Some(reason) = dependency_changed {
                    Decision::Restart(reason.to_string())
                } else if container.status == Status::Running
                    && container.health == Some(Health::Unhealthy)
                    && service.restart_on_unhealthy
                {
                    Decision::Restart("unhealthy, and x-berth.restart_on_unhealthy is set".into())
                } else {
                    Decision::Keep
                }
            }
            (Mode::Up(_), Status::Created) => Decision::Start("created but not started".into()),
            (Mode::Up(_), Status::Exited { code }) => Decision::Start(format!("exited with code {code}")),
            (Mode::Converge { daemon_start, .. }, _)
                if container.stopped_by_user && !(*daemon_start && service.restart == RestartPolicy::Always) =>
            {
                Decision::Keep
            }
            (Mode::Converge { .. }, Status::Created) => Decision::Start("created but not started".into()),
            (Mode::Converge { now, .. }, Status::Exited { code }) => {
                let restarts = effective_restarts(container);
                let wanted = match service.restart {
                    RestartPolicy::No => false,
                    RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
                    RestartPolicy::OnFailure { max } => code != 0 && max.is_none_or(|max| restarts < max),
                };
                let due = container.finished_at.unwrap_or(0).saturating_add(backoff(restarts));
                if !wanted {
                    Decision::Keep
                } else if *now < due {
                    Decision::Wake(due)
                } else {
                    Decision::Start(format!(
                        "restart policy {}, exit code {code} (restart {})",
                        service.restart,
                        restarts + 1
                    ))
                }
            }
        }
    }

    /// Containers of services the file no longer declares.
    fn orphans(&mut self) {
        let remove = self.up_options().is_some_and(|o| o.remove_orphans);
        for container in &self.observed.containers {
            if container.oneoff || self.desired.service(&container.service).is_some() {
                continue;
            }
            if remove {
                self.remove(
                    container,
                    &format!("orphan: service {} is not in the compose file", container.service),
                    vec![],
                );
            } else {
                self.plan.notes.push(format!(
                    "orphan container {} (service {} is not in the compose file); --remove-orphans removes it",
                    container.name, container.service
                ));
            }
        }
    }
}

fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Restarts count from zero again after a run of [`BACKOFF_RESET_MS`].
fn effective_restarts(container: &ObservedContainer) -> u32 {
    match (container.started_at, container.finished_at) {
        (Some(start), Some(end)) if end.saturating_sub(start) >= BACKOFF_RESET_MS => 0,
        _ => container.restarts,
    }
}

/// `berth compose down`: stop dependents before their dependencies, remove
/// containers (`compose run` one-offs too), then the project's networks (and
/// volumes with `-v`, images with `--rmi`).
pub fn plan_down(desired: &DesiredProject, observed: &Observed, options: &DownOptions) -> Plan {
    let mut plan = Plan::default();
    let mut stopped_by_service: BTreeMap<&str, Vec<StepId>> = BTreeMap::new();
    // Reverse start order; orphans (not in the file) first, as nothing declared depends on them.
    let order: Vec<&str> = desired.services.iter().rev().map(|s| s.name.as_str()).collect();
    let mut containers: Vec<&ObservedContainer> = observed.containers.iter().collect();
    containers.sort_by_key(|c| (order.iter().position(|s| *s == c.service).map_or(0, |p| p + 1), c.number));
    let mut removed = Vec::new();
    for container in containers {
        let declared = desired.service(&container.service);
        if declared.is_none() && !options.remove_orphans && !container.oneoff {
            plan.notes.push(format!(
                "orphan container {} (service {} is not in the compose file); --remove-orphans removes it",
                container.name, container.service
            ));
            continue;
        }
        // Wait for the containers of services that depend on this one.
        let after: Vec<StepId> = desired
            .services
            .iter()
            .filter(|s| s.depends_on.iter().any(|d| d.service == container.service))
            .flat_map(|s| stopped_by_service.get(s.name.as_str()).cloned().unwrap_or_default())
            .collect();
        let reason = match (container.oneoff, declared) {
            (true, _) => "down: one-off container",
            (false, Some(_)) => "down",
            (false, None) => "orphan (--remove-orphans)",
        };
        let last = if container.is_running() {
            let stop = plan.push(Action::Stop { name: container.name.clone() }, reason, after);
            stopped_by_service.entry(container.service.as_str()).or_default().push(stop);
            plan.push(Action::Remove { name: container.name.clone() }, reason, vec![stop])
        } else {
            plan.push(Action::Remove { name: container.name.clone() }, reason, after)
        };
        removed.push(last);
    }
    for name in desired.networks.iter().filter(|n| observed.networks.contains(*n)) {
        plan.push(Action::RemoveNetwork { name: name.clone() }, "down", removed.clone());
    }
    if options.volumes {
        for name in desired.volumes.iter().filter(|v| observed.volumes.contains(*v)) {
            plan.push(Action::RemoveVolume { name: name.clone() }, "down -v", removed.clone());
        }
    }
    for name in &options.images {
        plan.push(Action::RemoveImage { name: name.clone() }, "down --rmi", removed.clone());
    }
    plan
}
