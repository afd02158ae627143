//! Messages of the single-container endpoints (`/v1/containers/...`): what
//! `create`, `run`, `start`, `stop`, `kill`, `restart` and `rm` send and get.

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
