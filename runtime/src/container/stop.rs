//! `stop`: the stop signal, then SIGKILL after the grace period.

use std::time::Duration;

use nix::sys::signal::Signal;

use super::containers::Containers;
use super::error::ContainerError;
use super::protocol::{ExitStatus, Reply, Request};
use super::records::ContainerRecord;
use super::signal::parse_signal;

/// Extra time allowed for the monitor beyond the grace period.
const STOP_SLACK: Duration = Duration::from_secs(30);

impl Containers {
    /// Stops a container with its stop signal, waiting `timeout` seconds (its
    /// stop timeout when `None`) before SIGKILL. Stopping a stopped container
    /// does nothing. Restart policies leave a stopped container stopped.
    pub fn stop(&self, reference: &str, timeout: Option<u32>) -> Result<Option<ExitStatus>, ContainerError> {
        let record = self.lookup(reference)?;
        let signal = parse_signal(&record.config.stop_signal).unwrap_or(Signal::SIGTERM);
        let timeout = timeout.unwrap_or(record.config.stop_timeout);
        self.stop_with(&record, signal, timeout)
    }

    pub(crate) fn stop_with(
        &self,
        record: &ContainerRecord,
        signal: Signal,
        timeout: u32,
    ) -> Result<Option<ExitStatus>, ContainerError> {
        if !self.state(record)?.is_running() {
            return Ok(None);
        }
        // The stop signal, and SIGKILL after the grace period, end a paused container too.
        self.thaw_for(record, Signal::SIGKILL)?;
        let request = Request::Stop { signal: signal as i32, timeout_secs: timeout };
        let wait = Duration::from_secs(timeout.into()) + STOP_SLACK;
        match super::client::request(&self.dir(record), &request, Some(wait)) {
            Ok(Reply::Exited(status)) => Ok(Some(status)),
            Ok(Reply::Error(message)) => Err(ContainerError::Monitor { id: record.id.to_string(), reason: message }),
            Ok(Reply::Done) => Ok(None),
            // The monitor may have ended between the check and the request.
            Err(_) if !self.state(record)?.is_running() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// SIGKILL and wait for the exit (`rm -f`).
    pub(crate) fn kill_and_wait(&self, record: &ContainerRecord) -> Result<(), ContainerError> {
        self.stop_with(record, Signal::SIGKILL, 0).map(drop)
    }
}
