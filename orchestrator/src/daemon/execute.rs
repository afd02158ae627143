//! Carrying out a plan: each step runs when the steps it waits for are done,
//! independent steps in parallel; a failed step skips what depends on it and
//! the others go on. Every change is reported as [`Progress`].

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use berth_network::NetworkSpec;
use berth_runtime::container::{RemoveOptions, volumes};
use berth_runtime::image::ImageError;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use super::Daemon;
use super::observe::project_containers;
use crate::api::compose::Progress;
use crate::compose::model::{Project, Service};
use crate::engine::{Engine, EngineError, NetworkChoice, RunRequest};
use crate::reconcile::container_spec::{ContainerSpec, Identity, container_spec, network_name};
use crate::reconcile::desired::DesiredProject;
use crate::reconcile::observed::Health;
use crate::reconcile::plan::{Action, Plan, Step};

/// Label recording why the container was (re)created, for `compose ps`.
pub const CREATED_BECAUSE: &str = "berth.created-because";

/// How long a gate waits at most for a dependency to become healthy or finish.
const GATE_TIMEOUT: Duration = Duration::from_secs(600);
const GATE_POLL: Duration = Duration::from_millis(25);

/// What the steps need besides the plan.
#[derive(Debug)]
pub struct Context {
    pub project: Project,
    pub desired: DesiredProject,
    pub working_dir: String,
    pub config_files: Vec<String>,
    /// Image reference per service (what `create` resolves).
    pub images: BTreeMap<String, String>,
    /// Seconds to let containers stop before SIGKILL.
    pub timeout: Option<u32>,
    /// `down -v`: remove anonymous volumes with the containers.
    pub remove_volumes: bool,
}

/// Runs `plan`; the first error, if any step failed.
pub async fn execute(
    daemon: &Arc<Daemon>,
    context: Arc<Context>,
    plan: &Plan,
    progress: &UnboundedSender<Progress>,
) -> Result<(), String> {
    let count = plan.steps.len();
    let mut outcome: Vec<Option<bool>> = vec![None; count];
    let mut launched = vec![false; count];
    let mut running = JoinSet::new();
    let mut first_error: Option<String> = None;
    loop {
        // Launch every step whose predecessors are done; skip those after a failure.
        let mut changed = true;
        while changed {
            changed = false;
            for (id, step) in plan.steps.iter().enumerate() {
                if launched[id] {
                    continue;
                }
                if step.after.iter().any(|a| outcome[*a] == Some(false)) {
                    launched[id] = true;
                    outcome[id] = Some(false);
                    changed = true;
                } else if step.after.iter().all(|a| outcome[*a] == Some(true)) {
                    launched[id] = true;
                    let (daemon, context, step, progress) =
                        (daemon.clone(), context.clone(), step.clone(), progress.clone());
                    running.spawn(async move { (id, run_step(&daemon, &context, &step, &progress).await) });
                }
            }
        }
        let Some(joined) = running.join_next().await else { break };
        let (id, result) = joined.map_err(|e| format!("a step panicked: {e}"))?;
        if let Err(error) = &result {
            first_error.get_or_insert_with(|| error.clone());
        }
        outcome[id] = Some(result.is_ok());
    }
    first_error.map_or(Ok(()), Err)
}

/// Where a step's progress goes: the client, and the event stream when a step finished.
struct Reporter<'a> {
    daemon: &'a Daemon,
    project: &'a str,
    service: &'a str,
    sender: &'a UnboundedSender<Progress>,
}

fn report(reporter: &Reporter<'_>, resource: &str, name: &str, status: &str, detail: Option<String>) {
    if let Some((kind, action)) = super::events::action_of(resource, status) {
        reporter.daemon.emit(super::events::Event::new(kind, action, name, reporter.project, reporter.service));
    }
    let step = Progress::Step { resource: resource.into(), name: name.into(), status: status.into(), detail };
    let _ = reporter.sender.send(step);
}

/// The service a step is about, when the plan says.
fn service_of(action: &Action) -> &str {
    match action {
        Action::Create { service, .. }
        | Action::Start { service, .. }
        | Action::Restart { service, .. }
        | Action::WaitHealthy { service }
        | Action::WaitCompleted { service } => service,
        _ => "",
    }
}

/// Runs blocking engine work off the async threads.
async fn blocking<T: Send + 'static>(
    engine: &Arc<Engine>,
    work: impl FnOnce(&Engine) -> Result<T, EngineError> + Send + 'static,
) -> Result<T, String> {
    let engine = engine.clone();
    tokio::task::spawn_blocking(move || work(&engine))
        .await
        .map_err(|e| format!("engine task failed: {e}"))?
        .map_err(|e| e.to_string())
}

async fn run_step(
    daemon: &Arc<Daemon>,
    context: &Arc<Context>,
    step: &Step,
    progress: &UnboundedSender<Progress>,
) -> Result<(), String> {
    let engine = &daemon.engine;
    let reporter =
        Reporter { daemon, project: &context.project.name, service: service_of(&step.action), sender: progress };
    let progress = &reporter;
    let fail = |resource: &str, name: &str, error: String| {
        step_failed(progress, resource, name, &error);
        error
    };
    match &step.action {
        Action::CreateNetwork { name } => {
            report(progress, "Network", name, "Creating", None);
            let spec = network_spec(&context.project, name);
            blocking(engine, move |e| Ok(e.network().create_network(&spec)?))
                .await
                .map_err(|e| fail("Network", name, e))?;
            report(progress, "Network", name, "Created", None);
        }
        Action::CreateVolume { name } => {
            report(progress, "Volume", name, "Creating", None);
            let root = engine.root().clone();
            volumes::prepare(&root, name, None)
                .map_err(|e| fail("Volume", name, format!("cannot create volume {name}: {e}")))?;
            report(progress, "Volume", name, "Created", None);
        }
        Action::Create { service, number, name } => {
            report(progress, "Container", name, "Creating", Some(step.reason.clone()));
            let request =
                run_request(context, service, *number, name, &step.reason).map_err(|e| fail("Container", name, e))?;
            blocking(engine, move |e| e.create(request)).await.map_err(|e| fail("Container", name, e))?;
            report(progress, "Container", name, "Created", None);
        }
        Action::Start { name, .. } | Action::Restart { name, .. } => {
            let restart = matches!(step.action, Action::Restart { .. });
            report(
                progress,
                "Container",
                name,
                if restart { "Restarting" } else { "Starting" },
                Some(step.reason.clone()),
            );
            let (reference, timeout) = (name.clone(), context.timeout);
            let (id, pid) = blocking(engine, move |e| {
                if restart {
                    e.stop(&reference, timeout)?;
                }
                let started = e.start(&reference, None)?;
                let id = e.containers().lookup(&reference)?.id.to_string();
                Ok((id, started.pid))
            })
            .await
            .map_err(|e| fail("Container", name, e))?;
            daemon.started(&id, pid).await;
            report(progress, "Container", name, "Started", None);
        }
        Action::Stop { name } => {
            report(progress, "Container", name, "Stopping", None);
            let (reference, timeout) = (name.clone(), context.timeout);
            blocking(engine, move |e| e.stop(&reference, timeout).map(|_| ()))
                .await
                .map_err(|e| fail("Container", name, e))?;
            report(progress, "Container", name, "Stopped", None);
        }
        Action::Remove { name } => {
            report(progress, "Container", name, "Removing", None);
            let options = RemoveOptions { force: true, volumes: context.remove_volumes };
            let reference = name.clone();
            blocking(engine, move |e| e.remove(&reference, options).map(|_| ()))
                .await
                .map_err(|e| fail("Container", name, e))?;
            report(progress, "Container", name, "Removed", None);
        }
        Action::WaitHealthy { service } | Action::WaitCompleted { service } => {
            let healthy = matches!(step.action, Action::WaitHealthy { .. });
            report(progress, "Service", service, "Waiting", None);
            wait_gate(daemon, &context.project.name, service, healthy)
                .await
                .map_err(|e| fail("Service", service, e))?;
            report(progress, "Service", service, if healthy { "Healthy" } else { "Exited" }, None);
        }
        Action::RemoveNetwork { name } => {
            report(progress, "Network", name, "Removing", None);
            let reference = name.clone();
            blocking(engine, move |e| Ok(e.network().remove_network(&reference, false)?))
                .await
                .map_err(|e| fail("Network", name, e))?;
            report(progress, "Network", name, "Removed", None);
        }
        Action::RemoveVolume { name } => {
            report(progress, "Volume", name, "Removing", None);
            volumes::remove(engine.root(), name)
                .map_err(|e| fail("Volume", name, format!("cannot remove volume {name}: {e}")))?;
            report(progress, "Volume", name, "Removed", None);
        }
        Action::RemoveImage { name } => {
            report(progress, "Image", name, "Removing", None);
            let reference = name.clone();
            let status =
                blocking(engine, move |e| remove_image(e, &reference)).await.map_err(|e| fail("Image", name, e))?;
            report(progress, "Image", name, status, None);
        }
    }
    Ok(())
}

/// Removes an image as `down --rmi` does (compose's answers): one that a
/// container still uses, or that is gone already, is reported and left.
fn remove_image(engine: &Engine, reference: &str) -> Result<&'static str, EngineError> {
    let in_use: HashSet<String> = engine.containers().all()?.into_iter().map(|record| record.config.image_id).collect();
    match engine.images().remove(reference, false, &in_use) {
        Ok(_) => Ok("Removed"),
        Err(ImageError::InUse { .. }) => Ok("Resource is still in use"),
        Err(ImageError::NotFound(_)) => Ok("Warning: No resource found to remove"),
        Err(error) => Err(error.into()),
    }
}

fn step_failed(progress: &Reporter<'_>, resource: &str, name: &str, error: &str) {
    report(progress, resource, name, "Error", Some(error.to_string()));
}

/// The network as the compose file declares it, labelled with its project.
fn network_spec(project: &Project, name: &str) -> NetworkSpec {
    let mut spec = NetworkSpec::named(name);
    if let Some((key, network)) = project.networks.iter().find(|(k, _)| network_name(project, k) == name) {
        spec.internal = network.internal.unwrap_or(false);
        spec.labels = network.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        spec.labels.insert("com.docker.compose.project".into(), project.name.clone());
        spec.labels.insert("com.docker.compose.network".into(), key.clone());
        spec.ipv6 = network.enable_ipv6.unwrap_or(false);
        // One pool per family: an IPv6 subnet is the network's IPv6 side.
        for pool in network.ipam.iter().flat_map(|i| &i.config) {
            let ipv6 = pool.subnet.as_deref().is_some_and(|s| s.contains(':'));
            fn parsed<T: std::str::FromStr>(text: &Option<String>) -> Option<T> {
                text.as_deref().and_then(|t| t.parse().ok())
            }
            if ipv6 {
                (spec.subnet6, spec.gateway6, spec.ip_range6) =
                    (parsed(&pool.subnet), parsed(&pool.gateway), parsed(&pool.ip_range));
            } else {
                (spec.subnet, spec.gateway, spec.ip_range) =
                    (parsed(&pool.subnet), parsed(&pool.gateway), parsed(&pool.ip_range));
            }
        }
    }
    spec
}

/// The runtime and network request for replica `number` of `service`.
fn run_request(context: &Context, service: &str, number: u32, name: &str, reason: &str) -> Result<RunRequest, String> {
    let spec = context.project.services.get(service).ok_or_else(|| format!("no service {service}"))?;
    let desired = context.desired.service(service).ok_or_else(|| format!("no service {service}"))?;
    let image = context.images.get(service).cloned().ok_or_else(|| format!("no image for service {service}"))?;
    let id = Identity {
        project: &context.project.name,
        service,
        number,
        name,
        config_hash: &desired.config_hash,
        image_id: desired.image_id.as_deref().unwrap_or_default(),
        working_dir: &context.working_dir,
        config_files: &context.config_files,
    };
    let mut container = container_spec(&context.project, spec, &id).map_err(|e| e.to_string())?;
    container.create.labels.insert(CREATED_BECAUSE.into(), reason.to_string());
    Ok(engine_request(spec, image, container))
}

/// What the engine creates for a container of `service` that `container` describes.
pub(super) fn engine_request(service: &Service, image: String, container: ContainerSpec) -> RunRequest {
    let network = match container.network_mode.as_deref() {
        Some("host") => NetworkChoice::Host,
        Some(_) => NetworkChoice::None,
        None => NetworkChoice::Networks(container.networks),
    };
    let resolv = berth_network::ResolvOptions {
        servers: Vec::new(),
        search: service.dns_search.clone(),
        options: service.dns_opt.clone(),
    };
    RunRequest {
        image,
        create: container.create,
        network,
        ports: container.ports,
        extra_hosts: container.extra_hosts,
        resolv,
    }
}

/// Waits until every container of `service` is healthy (or, for a job, exited 0).
async fn wait_gate(daemon: &Arc<Daemon>, project: &str, service: &str, healthy: bool) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + GATE_TIMEOUT;
    loop {
        let engine = daemon.engine.clone();
        let (health, restarts) = (daemon.health.snapshot(), Default::default());
        let (project_name, service_name) = (project.to_string(), service.to_string());
        let containers = tokio::task::spawn_blocking(move || {
            project_containers(&engine, &project_name, &health, &restarts).map(|all| {
                all.into_iter().filter(|c| c.observed.service == service_name && !c.observed.oneoff).collect::<Vec<_>>()
            })
        })
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
        if containers.is_empty() {
            return Err(format!("service {service} has no container to wait for"));
        }
        let mut ready = true;
        for c in &containers {
            use crate::reconcile::observed::Status;
            match (healthy, c.observed.status, c.observed.health) {
                (true, Status::Running, Some(Health::Healthy)) => {}
                (true, Status::Running, Some(Health::Unhealthy)) => {
                    return Err(format!("dependency failed to start: container {} is unhealthy", c.record.name));
                }
                (true, Status::Running, _) if !daemon.health.is_watched(&c.observed.id) => {
                    return Err(format!("container {} has no healthcheck configured", c.record.name));
                }
                (true, Status::Exited { code }, _) => {
                    return Err(format!("dependency failed to start: container {} exited ({code})", c.record.name));
                }
                (false, Status::Exited { code: 0 }, _) => {}
                (false, Status::Exited { code }, _) => {
                    return Err(format!("service {service} didn't complete successfully: exit {code}"));
                }
                _ => ready = false,
            }
        }
        if ready {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("gave up waiting for service {service} after {} s", GATE_TIMEOUT.as_secs()));
        }
        tokio::time::sleep(GATE_POLL).await;
    }
}
