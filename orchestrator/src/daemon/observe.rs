//! What exists for a project, as the planner sees it: its containers (found by
//! their compose labels), with their state and health, and the networks and
//! volumes present.

use std::collections::{BTreeSet, HashMap};

use berth_runtime::container::{ContainerRecord, State, Status as RuntimeStatus};
use chrono::{DateTime, Utc};

use crate::engine::{Engine, EngineError};
use crate::reconcile::container_spec::labels;
use crate::reconcile::observed::{Health, Millis, Observed, ObservedContainer, Status};

/// A project's container with what the planner needs and what `ps` shows.
#[derive(Clone, Debug)]
pub struct ProjectContainer {
    pub record: ContainerRecord,
    pub state: State,
    pub observed: ObservedContainer,
}

pub fn millis(time: DateTime<Utc>) -> Millis {
    u64::try_from(time.timestamp_millis()).unwrap_or(0)
}

pub fn now() -> Millis {
    millis(Utc::now())
}

/// The containers labelled with `project` (its `compose run` one-offs too,
/// marked as such), oldest first.
pub fn project_containers(
    engine: &Engine,
    project: &str,
    health: &HashMap<String, Health>,
    restarts: &HashMap<String, u32>,
) -> Result<Vec<ProjectContainer>, EngineError> {
    let containers = engine.containers();
    let mut found = Vec::new();
    for record in containers.all()? {
        let labels = &record.config.labels;
        if labels.get(labels::PROJECT).map(String::as_str) != Some(project) {
            continue;
        }
        let state = containers.state(&record)?;
        let status = match state.status {
            RuntimeStatus::Created => Status::Created,
            RuntimeStatus::Running | RuntimeStatus::Restarting => Status::Running,
            RuntimeStatus::Paused => Status::Paused,
            RuntimeStatus::Exited | RuntimeStatus::Dead => Status::Exited { code: state.exit_code },
        };
        let id = record.id.to_string();
        let observed = ObservedContainer {
            id: id.clone(),
            name: record.name.clone(),
            service: labels.get(labels::SERVICE).cloned().unwrap_or_default(),
            number: labels.get(labels::NUMBER).and_then(|n| n.parse().ok()).unwrap_or(0),
            config_hash: labels.get(labels::CONFIG_HASH).cloned().unwrap_or_default(),
            image_id: record.config.image_id.clone(),
            status,
            health: if matches!(status, Status::Running | Status::Paused) { health.get(&id).copied() } else { None },
            stopped_by_user: state.stopped_by_user,
            restarts: restarts.get(&record.name).copied().unwrap_or(0),
            started_at: state.started_at.map(millis),
            finished_at: state.finished_at.map(millis),
            oneoff: labels.get(labels::ONEOFF).is_some_and(|o| o == "True"),
        };
        found.push(ProjectContainer { record, state, observed });
    }
    found.sort_by_key(|c| c.record.created);
    Ok(found)
}

/// The planner's view: the project's containers, and every network and volume that exists.
pub fn observe(engine: &Engine, containers: &[ProjectContainer]) -> Result<Observed, EngineError> {
    let networks: BTreeSet<String> = engine.network().list_networks()?.into_iter().map(|n| n.name).collect();
    // Volumes are directories of <root>/volumes (each holding its `_data`).
    let volumes: BTreeSet<String> = std::fs::read_dir(engine.root().volumes())
        .map(|dir| dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    Ok(Observed { containers: containers.iter().map(|c| c.observed.clone()).collect(), networks, volumes })
}
