//! `wait`: block until the container's process exits.

use super::containers::Containers;
use super::error::ContainerError;
use super::protocol::{ExitStatus, Reply, Request};

impl Containers {
    /// Waits for the container to stop and returns its exit status; a
    /// container that is not running answers at once with its last one.
    pub fn wait(&self, reference: &str) -> Result<ExitStatus, ContainerError> {
        let record = self.lookup(reference)?;
        let last = |containers: &Containers| -> Result<ExitStatus, ContainerError> {
            let state = containers.state(&record)?;
            Ok(ExitStatus { exit_code: state.exit_code, oom_killed: state.oom_killed })
        };
        if !self.state(&record)?.is_running() {
            return last(self);
        }
        match super::client::request(&self.dir(&record), &Request::Wait, None) {
            Ok(Reply::Exited(status)) => Ok(status),
            Ok(_) | Err(_) if !self.state(&record)?.is_running() => last(self),
            Ok(other) => Err(ContainerError::Monitor { id: record.id.to_string(), reason: format!("{other:?}") }),
            Err(e) => Err(e),
        }
    }
}
