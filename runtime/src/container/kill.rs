//! `kill`: a signal to the container's process.

use nix::sys::signal::Signal;

use super::containers::Containers;
use super::error::ContainerError;
use super::protocol::{Reply, Request};

impl Containers {
    /// Sends `signal` to the container's first process.
    pub fn kill(&self, reference: &str, signal: Signal) -> Result<(), ContainerError> {
        let record = self.lookup(reference)?;
        let not_running = || ContainerError::Monitor {
            id: record.id.to_string(),
            reason: format!("cannot kill container: {reference}: container {} is not running", record.id),
        };
        if !self.state(&record)?.is_running() {
            return Err(not_running());
        }
        self.thaw_for(&record, signal)?;
        match super::client::request(&self.dir(&record), &Request::Kill { signal: signal as i32 }, None) {
            Ok(Reply::Done) | Ok(Reply::Exited(_)) => Ok(()),
            Ok(Reply::Error(message)) => Err(ContainerError::Monitor { id: record.id.to_string(), reason: message }),
            Err(_) if !self.state(&record)?.is_running() => Err(not_running()),
            Err(e) => Err(e),
        }
    }
}
