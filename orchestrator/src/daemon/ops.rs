//! `compose stop|start|restart|kill|rm|pause|unpause`: one verb on some or all
//! of a project's containers (not its `compose run` one-offs, as compose), in
//! dependency order (start: dependencies first; the others: dependents first).

use std::collections::HashMap;
use std::sync::Arc;

use berth_runtime::container::RemoveOptions;
use tokio::sync::mpsc::UnboundedSender;

use super::Daemon;
use super::compose::graph;
use super::observe::{ProjectContainer, project_containers};
use crate::api::compose::{Progress, ServicesRequest};
use crate::reconcile::observed::Status;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    Stop,
    Start,
    Restart,
    Kill,
    Remove,
    Pause,
    Unpause,
}

impl Verb {
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Verb::Stop => ("Stopping", "Stopped"),
            Verb::Start => ("Starting", "Started"),
            Verb::Restart => ("Restarting", "Started"),
            Verb::Kill => ("Killing", "Killed"),
            Verb::Remove => ("Removing", "Removed"),
            Verb::Pause => ("Pausing", "Paused"),
            Verb::Unpause => ("Unpausing", "Unpaused"),
        }
    }

    /// Whether the verb applies to a container in this state.
    fn applies(self, status: Status) -> bool {
        let running = matches!(status, Status::Running | Status::Paused);
        match self {
            Verb::Stop | Verb::Kill => running,
            Verb::Start | Verb::Remove => !running,
            Verb::Restart => true,
            Verb::Pause => status == Status::Running,
            Verb::Unpause => status == Status::Paused,
        }
    }
}

pub async fn run(
    daemon: &Arc<Daemon>,
    project: &str,
    verb: Verb,
    request: ServicesRequest,
    progress: &UnboundedSender<Progress>,
) -> Result<(), String> {
    let operation = daemon.operation_lock(project);
    let _operation = operation.lock().await;
    let record = daemon.projects.lock().await.get(project).map_err(|e| e.to_string())?;
    let order: Vec<String> = match &record {
        Some(record) => graph(&record.project)?.start_order(),
        None => Vec::new(),
    };
    let engine = daemon.engine.clone();
    let name = project.to_string();
    let containers =
        super::blocking(move || project_containers(&engine, &name, &HashMap::new(), &HashMap::new())).await?;
    let signal = match &request.signal {
        Some(text) => Some(berth_runtime::container::signal::parse_signal(text).map_err(|e| e.to_string())?),
        None => None,
    };
    // Dependencies first for start; dependents first for the others.
    let mut groups: Vec<Vec<ProjectContainer>> = order
        .iter()
        .map(|service| containers.iter().filter(|c| &c.observed.service == service).cloned().collect())
        .collect();
    groups.push(containers.iter().filter(|c| !order.contains(&c.observed.service)).cloned().collect());
    if verb != Verb::Start {
        groups.reverse();
    }
    let mut first_error = None;
    for group in groups {
        let mut tasks = Vec::new();
        for container in group {
            if !request.services.is_empty() && !request.services.contains(&container.observed.service) {
                continue;
            }
            if container.observed.oneoff || !verb.applies(container.observed.status) {
                continue;
            }
            let (doing, _) = verb.words();
            let name = container.record.name.clone();
            let report = |status: &str, detail: Option<String>| {
                let _ = progress.send(Progress::Step {
                    resource: "Container".into(),
                    name: name.clone(),
                    status: status.into(),
                    detail,
                });
            };
            report(doing, None);
            let (engine, reference, timeout) = (daemon.engine.clone(), name.clone(), request.timeout);
            let task = tokio::task::spawn_blocking(move || match verb {
                Verb::Stop => engine.stop(&reference, timeout).map(|_| None),
                Verb::Kill => {
                    engine.kill(&reference, signal.unwrap_or(nix::sys::signal::Signal::SIGKILL)).map(|()| None)
                }
                Verb::Remove => engine.remove(&reference, RemoveOptions { force: false, volumes: false }).map(|_| None),
                Verb::Pause => engine.pause(&reference).map(|()| None),
                Verb::Unpause => engine.unpause(&reference).map(|()| None),
                Verb::Start | Verb::Restart => {
                    if verb == Verb::Restart {
                        engine.stop(&reference, timeout)?;
                    }
                    let started = engine.start(&reference, None)?;
                    let id = engine.containers().lookup(&reference)?.id.to_string();
                    Ok(Some((id, started.pid)))
                }
            });
            tasks.push((name, task));
        }
        for (name, task) in tasks {
            let (_, done) = verb.words();
            match task.await.map_err(|e| e.to_string())? {
                Ok(started) => {
                    if let Some((id, pid)) = started {
                        daemon.started(&id, pid).await;
                    }
                    let _ = progress.send(Progress::Step {
                        resource: "Container".into(),
                        name,
                        status: done.into(),
                        detail: None,
                    });
                }
                Err(error) => {
                    let error = error.to_string();
                    let _ = progress.send(Progress::Step {
                        resource: "Container".into(),
                        name,
                        status: "Error".into(),
                        detail: Some(error.clone()),
                    });
                    first_error.get_or_insert(error);
                }
            }
        }
    }
    first_error.map_or(Ok(()), Err)
}
