//! Messages of the single-container endpoints (`/v1/containers/...`): what
//! the container commands (`create`, `run`, `start`, `ps`, `logs`, `exec`,
//! `cp`, ...) send and get.

use berth_runtime::container::list::{Filter, Summary};
use berth_runtime::container::logfile::Entry;
use serde::{Deserialize, Serialize};

/// The protocol name of an attached start's upgraded connection: after the
/// `101 Switching Protocols`, the monitor's attach stream, relayed byte for byte.
pub const ATTACH_PROTOCOL: &str = "berth-attach";

/// `POST /v1/containers`: the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Created {
    pub id: String,
    pub name: String,
}

/// `POST /v1/containers/{id}/stop` and `/restart`; `kill` takes `signal`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StopRequest {
    /// Seconds before SIGKILL; the container's stop timeout when absent.
    pub timeout: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillRequest {
    /// A name (`TERM`, `SIGHUP`) or a number, as `kill -s` takes it.
    pub signal: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveRequest {
    /// Kill a running container first.
    pub force: bool,
    /// Also remove its anonymous volumes.
    pub volumes: bool,
}

/// `POST /v1/containers/prune`: stopped containers created before `until`
/// and carrying every label (a key alone, or a key with its value).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneRequest {
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub labels: std::collections::BTreeMap<String, Option<String>>,
}

/// `POST /v1/containers/{id}/attach?stdin=BOOL`: starts the container with
/// the connection upgraded to [`ATTACH_PROTOCOL`]; it carries the container's
/// stdio from its first byte, and its exit status at the end.
pub fn attach_path(id: &str, stdin: bool) -> String {
    format!("/containers/{id}/attach?stdin={stdin}")
}

/// `POST /v1/containers/run?stdin=BOOL` with a `RunRequest`: `run` in one
/// request (create, then start attached as [`attach_path`] does; the 101
/// names the container in [`CONTAINER_HEADER`]). With `detach=true` instead,
/// the answer is the [`Created`] container, started.
pub fn run_path(stdin: bool, detach: bool) -> String {
    format!("/containers/run?stdin={stdin}&detach={detach}")
}

/// The header of an upgraded answer that names the container attached to.
pub const CONTAINER_HEADER: &str = "x-berth-container";

/// `GET /v1/containers` + [`query`](super::query) of this: `ps`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    pub all: bool,
    /// A JSON list of `ps --filter`s, parsed; empty for none.
    #[serde(default)]
    pub filters: String,
}

impl ListQuery {
    pub fn new(all: bool, filters: &[Filter]) -> ListQuery {
        let filters =
            if filters.is_empty() { String::new() } else { serde_json::to_string(filters).expect("filters serialize") };
        ListQuery { all, filters }
    }

    pub fn filters(&self) -> Result<Vec<Filter>, serde_json::Error> {
        if self.filters.is_empty() { Ok(Vec::new()) } else { serde_json::from_str(&self.filters) }
    }
}

/// One row of `ps`: the container, and what it publishes now.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContainerRow {
    #[serde(flatten)]
    pub summary: Summary,
    pub ports: Vec<berth_network::PublishedPort>,
}

/// `GET /v1/containers/{id}/logs` + query: `logs`; the answer is JSON lines of [`LogMessage`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogsQuery {
    #[serde(default)]
    pub follow: bool,
    pub tail: Option<usize>,
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

/// One line of a container's log stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LogMessage {
    Entry(Entry),
    /// Reading the log failed; the last line.
    Error(String),
}

/// `POST /v1/containers/stats`: one reading of these containers (every
/// running one, or with `all` every one, when none is named).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsRequest {
    pub containers: Vec<String>,
    pub all: bool,
}

/// `POST /v1/containers/{id}/rename`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenameRequest {
    pub name: String,
}

/// `POST /v1/containers/{id}/exec` with [`ExecOptions`](berth_runtime::container::ExecOptions)
/// as the body: upgraded to [`ATTACH_PROTOCOL`], the process's stdio and,
/// last, its exit status (126 when it could not start); with `detach`, an
/// answer as soon as it runs.
pub fn exec_path(id: &str, detach: bool) -> String {
    format!("/containers/{id}/exec?detach={detach}")
}

/// `GET /v1/containers/{id}/archive` (the answer: a tar of `path`) and
/// `PUT` (the body: a tar to place at `path`): `cp`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveQuery {
    pub path: String,
    /// PUT: the archive's top directory stands for its contents (`cp SRC/. ...`).
    #[serde(default)]
    pub contents_only: bool,
    /// PUT: keep the owners in the archive (`cp -a`), else root's.
    #[serde(default)]
    pub archive: bool,
}
