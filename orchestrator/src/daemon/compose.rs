//! The compose operations behind the API: `up` (store the desired state, get
//! the images, plan, execute), `down`, and what `ps` and `ls` show.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use berth_runtime::image::{PullOptions, Reference, Silent};
use tokio::sync::mpsc::UnboundedSender;

use super::Daemon;
use super::execute::{CREATED_BECAUSE, Context, execute};
use super::observe::{now, observe, project_containers};
use super::projects::ProjectRecord;
use crate::api::compose::{DownRequest, Progress, PsEntry, PullPolicy, UpRequest};
use crate::compose::graph::{Dependency, DependencyGraph};
use crate::compose::model::Project;
use crate::reconcile::desired::DesiredProject;
use crate::reconcile::observed::Status;
use crate::reconcile::planner::{DownOptions, Mode, UpOptions, plan, plan_down};
use crate::reconcile::rmi::images_to_remove;
use crate::reconcile::selection::{kept_after, selected};

/// The dependency graph of a project as stored (validated when it was loaded).
pub fn graph(project: &Project) -> Result<DependencyGraph, String> {
    DependencyGraph::new(project.services.iter().map(|(name, service)| {
        let deps =
            service.depends_on.iter().map(|(dep, d)| Dependency { name: dep.clone(), required: d.required }).collect();
        (name.clone(), deps)
    }))
    .map_err(|e| e.to_string())
}

/// Image references by service, and the IDs of those present locally.
pub fn local_images(daemon: &Daemon, project: &Project) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut references = BTreeMap::new();
    let mut ids = BTreeMap::new();
    for (name, service) in &project.services {
        let reference = service.image_name(&project.name, name);
        if let Ok(id) = daemon.engine.images().resolve_id(&reference) {
            ids.insert(name.clone(), id.to_string());
        }
        references.insert(name.clone(), reference);
    }
    (references, ids)
}

/// `compose pull`: every service's image, pulled again.
pub async fn pull(
    daemon: &Arc<Daemon>,
    project: Project,
    services: Vec<String>,
    progress: &UnboundedSender<Progress>,
) -> Result<(), String> {
    ensure_images(daemon, &project, &services, PullPolicy::Always, progress).await.map(|_| ())
}

/// `compose push`: every service's image (those with a registry in their name), pushed.
pub async fn push(
    daemon: &Arc<Daemon>,
    project: Project,
    services: Vec<String>,
    progress: &UnboundedSender<Progress>,
) -> Result<(), String> {
    for (name, service) in &project.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let reference = service.image_name(&project.name, name);
        let report = |status: &str| {
            let _ = progress.send(Progress::Step {
                resource: "Image".into(),
                name: reference.clone(),
                status: status.into(),
                detail: None,
            });
        };
        report("Pushing");
        let parsed: Reference = reference.parse().map_err(|e| format!("service {name}: {e}"))?;
        let (engine, runtime) = (daemon.engine.clone(), tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || {
            runtime.block_on(engine.images().push(&parsed, &berth_runtime::image::RegistryOptions::default(), &Silent))
        })
        .await
        .map_err(|e| format!("push task failed: {e}"))?
        .map_err(|e| format!("service {name}: pushing {reference}: {e}"))?;
        report("Pushed");
    }
    Ok(())
}

/// Pulls what the policy asks for; returns the image IDs by service.
async fn ensure_images(
    daemon: &Daemon,
    project: &Project,
    services: &[String],
    policy: PullPolicy,
    progress: &UnboundedSender<Progress>,
) -> Result<(BTreeMap<String, String>, BTreeMap<String, String>), String> {
    let (references, mut ids) = local_images(daemon, project);
    let mut pulled: HashMap<String, String> = HashMap::new();
    for (service, reference) in &references {
        if !services.is_empty() && !services.contains(service) {
            continue;
        }
        let present = ids.contains_key(service);
        let wanted = match policy {
            PullPolicy::Always => true,
            PullPolicy::Missing => !present,
            PullPolicy::Never => false,
        };
        if !wanted {
            if !present {
                return Err(format!("service {service}: image {reference} is not present and --pull never was given"));
            }
            continue;
        }
        if project.services[service].build.is_some() && project.services[service].image.is_none() {
            return Err(format!("service {service} has only a build section; building images is not supported yet"));
        }
        if let Some(id) = pulled.get(reference) {
            ids.insert(service.clone(), id.clone());
            continue;
        }
        let _ = progress.send(Progress::Step {
            resource: "Image".into(),
            name: reference.clone(),
            status: "Pulling".into(),
            detail: None,
        });
        let parsed: Reference = reference.parse().map_err(|e| format!("service {service}: {e}"))?;
        // The pull future is not provably Send (a compiler limit with its
        // borrowing closures), so it runs on a blocking thread of its own.
        let engine = daemon.engine.clone();
        let runtime = tokio::runtime::Handle::current();
        let result = tokio::task::spawn_blocking(move || {
            runtime.block_on(engine.images().pull(&parsed, &PullOptions::default(), &Silent))
        })
        .await
        .map_err(|e| format!("pull task failed: {e}"))?;
        let pulled_image = result.map_err(|e| format!("service {service}: pulling {reference}: {e}"))?;
        let _ = progress.send(Progress::Step {
            resource: "Image".into(),
            name: reference.clone(),
            status: "Pulled".into(),
            detail: None,
        });
        pulled.insert(reference.clone(), pulled_image.id.to_string());
        ids.insert(service.clone(), pulled_image.id.to_string());
    }
    Ok((references, ids))
}

/// `up`, and the first part of `compose run` (`request.run`): what its one-off container needs.
pub async fn up(daemon: &Arc<Daemon>, request: UpRequest, progress: &UnboundedSender<Progress>) -> Result<(), String> {
    let name = request.project.name.clone();
    let operation = daemon.operation_lock(&name);
    let _operation = operation.lock().await;
    let graph = graph(&request.project)?;
    let previous = daemon.projects.lock().await.get(&name).map_err(|e| e.to_string())?;
    // A run leaves the stack's scale as the last `up` set it.
    let scale = match (&request.run, &previous) {
        (Some(_), Some(previous)) => previous.scale.clone(),
        (Some(_), None) => BTreeMap::new(),
        (None, _) => request.scale.clone(),
    };
    let options = UpOptions {
        force_recreate: request.force_recreate,
        no_recreate: request.no_recreate,
        services: request.services.clone(),
        no_deps: request.no_deps,
        remove_orphans: request.remove_orphans,
        run: request.run.clone(),
    };
    // The images of the services the plan touches (and of the one-off's).
    let planned = DesiredProject::from_project(&request.project, &graph, &BTreeMap::new(), &scale);
    let mut wanted: Vec<String> = selected(&planned, &options).map(|s| s.into_iter().collect()).unwrap_or_default();
    wanted.extend(request.run.clone());
    let (images, ids) = if request.dry_run {
        local_images(daemon, &request.project)
    } else {
        ensure_images(daemon, &request.project, &wanted, request.pull, progress).await?
    };
    let desired = DesiredProject::from_project(&request.project, &graph, &ids, &scale);
    let engine = daemon.engine.clone();
    let (health, restarts) = (daemon.health.snapshot(), HashMap::new());
    let project_name = name.clone();
    let observed = super::blocking(move || {
        let containers = project_containers(&engine, &project_name, &health, &restarts)?;
        observe(&engine, &containers)
    })
    .await?;
    let plan = plan(&desired, &observed, &Mode::Up(options.clone()));
    let _ = progress.send(Progress::Plan { text: plan.to_string() });
    for note in &plan.notes {
        let _ = progress.send(Progress::Note { message: note.clone() });
    }
    if request.dry_run {
        return Ok(());
    }
    let record = ProjectRecord {
        project: request.project.clone(),
        working_dir: request.working_dir.clone(),
        config_files: request.config_files.clone(),
        services: kept_after(&desired, previous.as_ref().map(|p| &p.services), &options),
        scale,
        updated_at: i64::try_from(now() / 1000).unwrap_or(0),
    };
    daemon.projects.lock().await.put(&record).map_err(|e| e.to_string())?;
    let context = Arc::new(Context {
        project: request.project,
        desired,
        working_dir: request.working_dir,
        config_files: request.config_files,
        images,
        timeout: request.timeout,
        remove_volumes: false,
    });
    let result = execute(daemon, context, &plan, progress).await;
    daemon.ensure_converging(&name);
    result
}

pub async fn down(
    daemon: &Arc<Daemon>,
    name: &str,
    mut request: DownRequest,
    progress: &UnboundedSender<Progress>,
) -> Result<(), String> {
    let project = request.project.take();
    let operation = daemon.operation_lock(name);
    let _operation = operation.lock().await;
    let stored = daemon.projects.lock().await.get(name).map_err(|e| e.to_string())?;
    let project = match (project, stored) {
        (Some(project), _) => project,
        (None, Some(record)) => record.project,
        (None, None) => Project { name: name.to_string(), ..Project::default() },
    };
    let graph = graph(&project)?;
    let desired = DesiredProject::from_project(&project, &graph, &BTreeMap::new(), &BTreeMap::new());
    let engine = daemon.engine.clone();
    let project_name = name.to_string();
    let observed = super::blocking(move || {
        let containers = project_containers(&engine, &project_name, &HashMap::new(), &HashMap::new())?;
        observe(&engine, &containers)
    })
    .await?;
    let options = DownOptions {
        volumes: request.volumes,
        remove_orphans: request.remove_orphans,
        images: request.rmi.map(|mode| images_to_remove(&project, mode)).unwrap_or_default(),
    };
    let plan = plan_down(&desired, &observed, &options);
    let _ = progress.send(Progress::Plan { text: plan.to_string() });
    for note in &plan.notes {
        let _ = progress.send(Progress::Note { message: note.clone() });
    }
    if request.dry_run {
        return Ok(());
    }
    // No pass runs while we hold the project's lock; none must start after it
    // either and bring back what goes now.
    daemon.stop_converging(name);
    let (images, _) = local_images(daemon, &project);
    let context = Arc::new(Context {
        project,
        desired,
        working_dir: String::new(),
        config_files: Vec::new(),
        images,
        timeout: request.timeout,
        remove_volumes: request.volumes,
    });
    let result = execute(daemon, context, &plan, progress).await;
    if result.is_ok() {
        daemon.projects.lock().await.remove(name).map_err(|e| e.to_string())?;
    } else {
        daemon.ensure_converging(name);
    }
    result
}

/// `compose ps`: the project's containers (`all`: stopped ones too; `one_offs`: those of `compose run` too).
pub async fn ps(daemon: &Arc<Daemon>, name: &str, all: bool, one_offs: bool) -> Result<Vec<PsEntry>, String> {
    let engine = daemon.engine.clone();
    let health = daemon.health.snapshot();
    let project = name.to_string();
    tokio::task::spawn_blocking(move || {
        let containers = project_containers(&engine, &project, &health, &HashMap::new())?;
        let now = chrono::Utc::now();
        let mut entries = Vec::new();
        for c in containers {
            let running = c.observed.is_running();
            if (!all && !running) || (c.observed.oneoff && !one_offs) {
                continue;
            }
            let health = match c.observed.health {
                Some(h) => format!("{h:?}").to_lowercase(),
                None => String::new(),
            };
            let mut status = berth_runtime::container::list::status_text(&c.state, now);
            // As Docker: a paused container's status says paused, not its health.
            if c.observed.status == Status::Running && !health.is_empty() {
                status.push_str(&format!(" ({health})"));
            }
            let publishers = if running {
                engine
                    .network()
                    .ports(c.record.id.as_str())?
                    .iter()
                    .map(|p| format!("{}->{}/{}", p.host(), p.container_port, p.protocol))
                    .collect()
            } else {
                Vec::new()
            };
            entries.push(PsEntry {
                id: c.record.id.to_string(),
                name: c.record.name.clone(),
                service: c.observed.service.clone(),
                number: c.observed.number,
                image: c.record.config.image.clone(),
                command: shlex::try_join(c.record.config.command().iter().map(String::as_str)).unwrap_or_default(),
                created: c.record.created.to_rfc3339(),
                state: c.state.status.as_str().to_string(),
                status,
                health,
                exit_code: c.state.exit_code,
                publishers,
                created_because: c.record.config.labels.get(CREATED_BECAUSE).cloned().unwrap_or_default(),
            });
        }
        entries.sort_by(|a, b| (&a.service, a.number).cmp(&(&b.service, b.number)));
        Ok(entries)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e: crate::engine::EngineError| e.to_string())
}
