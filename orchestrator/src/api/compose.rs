//! Messages of the compose endpoints (`/v1/projects/...`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::compose::model::Project;
use crate::reconcile::oneoff::OneOffOptions;
use crate::reconcile::rmi::RemoveImages;

/// When `up` pulls images.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PullPolicy {
    Always,
    #[default]
    Missing,
    Never,
}

/// `POST /v1/projects/{name}/up`: the desired state and how to get there.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct UpRequest {
    pub project: Project,
    pub working_dir: String,
    pub config_files: Vec<String>,
    #[serde(default)]
    pub force_recreate: bool,
    #[serde(default)]
    pub no_recreate: bool,
    #[serde(default)]
    pub no_deps: bool,
    /// Only these services (and what they depend on, unless `no_deps`).
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub remove_orphans: bool,
    #[serde(default)]
    pub scale: BTreeMap<String, u32>,
    #[serde(default)]
    pub pull: PullPolicy,
    /// Print the plan and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Seconds to wait for containers to stop before SIGKILL when recreating.
    #[serde(default)]
    pub timeout: Option<u32>,
    /// `compose run SERVICE`: bring up what its one-off container needs (the
    /// project's networks and volumes and, unless `no_deps`, the service's
    /// dependencies, waiting for their conditions), not the service itself.
    #[serde(default)]
    pub run: Option<String>,
}

/// `POST /v1/projects/{name}/down`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct DownRequest {
    /// The project as the compose file describes it, when the CLI has one
    /// (else the daemon uses the stored one, or only the containers' labels).
    #[serde(default)]
    pub project: Option<Project>,
    /// Also remove named volumes (and anonymous ones of the containers).
    #[serde(default)]
    pub volumes: bool,
    #[serde(default)]
    pub remove_orphans: bool,
    #[serde(default)]
    pub timeout: Option<u32>,
    #[serde(default)]
    pub dry_run: bool,
    /// `--rmi`: also remove the services' images.
    #[serde(default)]
    pub rmi: Option<RemoveImages>,
}

/// `POST /v1/projects/{name}/{stop|start|restart|kill|rm}`: some or all services.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServicesRequest {
    #[serde(default)]
    pub services: Vec<String>,
    #[serde(default)]
    pub timeout: Option<u32>,
    /// `kill -s`.
    #[serde(default)]
    pub signal: Option<String>,
}

/// One line of progress, streamed while an operation runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// The plan about to be carried out (also all that `--dry-run` sends).
    Plan { text: String },
    /// A resource changed state: `Container quickstart-web-1 Started`.
    Step { resource: String, name: String, status: String, detail: Option<String> },
    /// Something to tell the user that is not a step (orphans, warnings).
    Note { message: String },
    /// The last line: whether everything worked.
    Done { error: Option<String> },
}

/// One container in `compose ps`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PsEntry {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub image: String,
    pub command: String,
    pub created: String,
    /// `running`, `exited`, ...
    pub state: String,
    /// `Up 3 seconds (healthy)`, `Exited (0) 2 minutes ago`.
    pub status: String,
    /// `starting`, `healthy`, `unhealthy`, or empty.
    pub health: String,
    pub exit_code: i32,
    /// `127.0.0.1:8080->8080/tcp`, as `docker ps` shows them.
    pub publishers: Vec<String>,
    /// Why the container was last created: "config hash changed (...)", ...
    pub created_because: String,
}

/// One project in `compose ls`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectSummary {
    pub name: String,
    /// `running(2)`, `exited(1)`, ...
    pub status: String,
    pub config_files: String,
}

/// One log line of a project's container, streamed by `GET /v1/projects/{name}/logs`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    pub container: String,
    pub service: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339 with nanoseconds.
    pub time: String,
    /// The text, with its newline when the line was complete.
    pub log: String,
}

/// `POST /v1/projects/{name}/{pull|push}`: the images of some or all services.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ImagesRequest {
    pub project: Project,
    #[serde(default)]
    pub services: Vec<String>,
}

/// `POST /v1/projects/{name}/run`: create the one-off container of `compose
/// run` (after an `up` with `run` brought up what it needs); the answer is
/// `containers::Created`, and the CLI starts it as `run` does.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OneOffRequest {
    pub project: Project,
    pub working_dir: String,
    pub config_files: Vec<String>,
    pub service: String,
    pub options: OneOffOptions,
}

/// One running container in `compose top`: its processes as `top` shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopEntry {
    pub name: String,
    pub service: String,
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}
