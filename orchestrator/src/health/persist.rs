//! The health of a container on disk, `<root>/containers/<id>/health.json`,
//! replaced atomically after every probe: `inspect` and `ps` in other
//! processes read it, and a restarted daemon takes up where it was.

use std::io;
use std::path::{Path, PathBuf};

use berth_runtime::container::ContainerId;
use berth_runtime::container::layout::ContainerDir;
use berth_runtime::store::{Root, write_atomic_json};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::error::HealthError;
use super::state::{Health, HealthState};

pub const HEALTH_JSON: &str = "health.json";

/// The file of the container `id`.
pub fn health_path(root: &Root, id: &ContainerId) -> PathBuf {
    ContainerDir::new(root, id).path().join(HEALTH_JSON)
}

/// `.State.Health`, and which run of the container it is about.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Saved {
    #[serde(flatten)]
    health: Health,
    /// The container's start time when this was written: a health of an
    /// earlier run is not taken up by a monitor of a later one.
    container_started_at: DateTime<Utc>,
}

/// The saved health of container `id`: `None` when it has no healthcheck or never ran one.
pub fn load(root: &Root, id: &ContainerId) -> Result<Option<Health>, HealthError> {
    Ok(load_state(&health_path(root, id))?.map(|state| state.health().clone()))
}

/// The saved state (health and the start of the run it is about).
pub(super) fn load_state(path: &Path) -> Result<Option<HealthState>, HealthError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(HealthError::Io { what: "cannot read", path: path.to_owned(), source }),
    };
    let saved: Saved = serde_json::from_slice(&bytes)
        .map_err(|e| HealthError::Corrupt { path: path.to_owned(), message: e.to_string() })?;
    Ok(Some(HealthState::resume(saved.health, saved.container_started_at)))
}

pub(super) fn save(path: &Path, state: &HealthState) -> Result<(), HealthError> {
    let saved = Saved { health: state.health().clone(), container_started_at: state.started_at() };
    write_atomic_json(path, &saved).map_err(|source| HealthError::Io {
        what: "cannot write",
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::state::{HealthStatus, ProbeLog};

    #[test]
    fn saves_and_loads_in_dockers_shape() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path().join("root"), dir.path().join("run"));
        let id = ContainerId::generate().unwrap();
        let path = health_path(&root, &id);
        assert!(path.starts_with(root.containers().join(id.as_str())));
        assert_eq!(load(&root, &id).unwrap(), None, "no file: no health");

        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let started = Utc::now();
        let log = vec![ProbeLog { start: started, end: started, exit_code: 1, output: "no".into() }];
        let state = HealthState::new(started, log);
        save(&path, &state).unwrap();
        assert_eq!(load(&root, &id).unwrap().as_ref(), Some(state.health()));
        assert_eq!(load_state(&path).unwrap(), Some(state));

        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(json["Status"], "starting");
        assert_eq!(json["FailingStreak"], 0);
        assert_eq!(json["Log"][0]["ExitCode"], 1);
        assert!(json["ContainerStartedAt"].is_string());
        let left: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(left, [HEALTH_JSON], "no temp file left");
        assert_eq!(HealthStatus::Starting, load(&root, &id).unwrap().unwrap().status);
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEALTH_JSON);
        std::fs::write(&path, b"{\"Status\": \"great\"}").unwrap();
        let error = load_state(&path).unwrap_err().to_string();
        assert!(error.starts_with(&path.display().to_string()), "{error}");
    }
}
