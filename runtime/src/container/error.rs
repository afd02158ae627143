//! Errors of the container verbs. Messages follow Docker's where users know them.

use std::path::PathBuf;

use super::options::OptionError;
use super::user::UserError;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("multiple IDs found with provided prefix: {0}")]
    Ambiguous(String),
    #[error(
        "Conflict. The container name \"/{name}\" is already in use by container \"{owner}\". You have to remove (or rename) that container to be able to reuse that name."
    )]
    NameInUse { name: String, owner: String },
    #[error(transparent)]
    Option(#[from] OptionError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    #[error("container {0} is already paused")]
    AlreadyPaused(String),
    #[error("Container {0} is not paused")]
    NotPaused(String),
    #[error("Container {0} is paused, unpause the container before exec")]
    ExecPaused(String),
    #[error("Container {0} is restarting, wait until the container is running")]
    Restarting(String),
    #[error("cannot remove container {0}: container is running: stop the container before removing or force remove")]
    RemoveRunning(String),
    /// The process could not be started; `kind` gives Docker's exit code.
    #[error("{message}")]
    StartFailed { kind: StartFailure, message: String },
    #[error("{what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the state database: {0}")]
    Db(#[from] crate::store::DbError),
    #[error("the state database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("the record of container {id} is damaged ({what})")]
    Corrupt { id: String, what: String },
    #[error("cannot reach the monitor of container {id}: {reason}")]
    Monitor { id: String, reason: String },
    #[error("{0}")]
    Internal(String),
}

/// Why a container's process did not start, as Docker's exit codes tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum StartFailure {
    /// The command does not exist (exit 127).
    NotFound,
    /// The command exists but cannot be run (exit 126).
    CannotInvoke,
    /// Anything else (exit 125).
    Other,
}

impl StartFailure {
    /// Docker's classification of a runtime error message.
    pub fn classify(message: &str) -> StartFailure {
        if message.contains("executable file not found") || message.contains("no such file or directory") {
            StartFailure::NotFound
        } else if message.contains("permission denied") || message.contains("is a directory") {
            StartFailure::CannotInvoke
        } else {
            StartFailure::Other
        }
    }

    pub fn exit_code(self) -> u8 {
        match self {
            StartFailure::NotFound => 127,
            StartFailure::CannotInvoke => 126,
            StartFailure::Other => 125,
        }
    }
}

impl ContainerError {
    pub fn io(what: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> ContainerError {
        ContainerError::Io { what, path: path.into(), source }
    }

    /// The exit code Docker's CLI uses for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            ContainerError::StartFailed { kind, .. } => kind.exit_code(),
            _ => 125,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_messages_map_to_dockers_exit_codes() {
        let not_found = "exec: \"nope\": executable file not found in $PATH";
        assert_eq!(StartFailure::classify(not_found).exit_code(), 127);
        assert_eq!(StartFailure::classify("exec: \"/etc\": is a directory").exit_code(), 126);
        assert_eq!(StartFailure::classify("exec: \"/x\": permission denied").exit_code(), 126);
        assert_eq!(StartFailure::classify("cgroup trouble").exit_code(), 125);
    }
}
