//! `pause` and `unpause`: every process of the container frozen in its cgroup
//! ([`Freezer`]), and a record of it (`<dir>/paused`, the PID of the frozen
//! run) from which [`State::load`] reports the container `paused`. Both the
//! freeze and the record outlive the daemon; the record names its run, so a
//! run that ended frozen (killed) leaves no paused state to a later one.
//!
//! A paused container stops or is killed as Docker does it: thawed along
//! with the signal that ends it, which a frozen process could not act on.
//!
//! [`State::load`]: super::state::State::load

use nix::sys::signal::Signal;

use super::cgroup::Cgroups;
use super::containers::Containers;
use super::error::ContainerError;
use super::freezer::Freezer;
use super::layout::ContainerDir;
use super::records::ContainerRecord;
use super::state::Status;

/// The PID of the run `pause` froze, if it recorded one.
pub(crate) fn paused_run(dir: &ContainerDir) -> Option<i32> {
    std::fs::read_to_string(dir.paused()).ok()?.trim().parse().ok()
}

fn freezer(record: &ContainerRecord) -> Result<Freezer, ContainerError> {
    let cgroup = Cgroups::detect()
        .and_then(|cgroups| Freezer::of(&cgroups.container(&record.id)))
        .map_err(|e| ContainerError::io("cannot find the freezer cgroup of", record.name.clone(), e))?;
    Ok(cgroup)
}

impl Containers {
    /// Freezes every process of a running container.
    pub fn pause(&self, reference: &str) -> Result<ContainerRecord, ContainerError> {
        let record = self.lookup(reference)?;
        let state = self.state(&record)?;
        match state.status {
            Status::Running if state.pid > 0 => {}
            Status::Paused => return Err(ContainerError::AlreadyPaused(record.id.to_string())),
            Status::Restarting => return Err(ContainerError::Restarting(record.id.to_string())),
            _ => return Err(ContainerError::NotRunning(record.id.to_string())),
        }
        let freezer = freezer(&record)?;
        let dir = self.dir(&record);
        // Recorded first: a daemon that dies in between leaves a container
        // that says paused (and `unpause` thaws), never a silently frozen one.
        super::layout::replace_file(&dir.paused(), state.pid.to_string().as_bytes())
            .map_err(|e| ContainerError::io("cannot write", dir.paused(), e))?;
        if let Err(e) = freezer.freeze() {
            let _ = std::fs::remove_file(dir.paused());
            return Err(ContainerError::io("cannot freeze", record.name.clone(), e));
        }
        Ok(record)
    }

    /// Thaws a paused container.
    pub fn unpause(&self, reference: &str) -> Result<ContainerRecord, ContainerError> {
        let record = self.lookup(reference)?;
        if self.state(&record)?.status != Status::Paused {
            return Err(ContainerError::NotPaused(record.id.to_string()));
        }
        self.thaw(&record)?;
        Ok(record)
    }

    /// Thaws the container and forgets that it was paused.
    fn thaw(&self, record: &ContainerRecord) -> Result<(), ContainerError> {
        freezer(record)?.thaw().map_err(|e| ContainerError::io("cannot thaw", record.name.clone(), e))?;
        let dir = self.dir(record);
        match std::fs::remove_file(dir.paused()) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(ContainerError::io("cannot remove", dir.paused(), e))
            }
            _ => Ok(()),
        }
    }

    /// Before `signal` goes to a container: a paused one is thawed when the
    /// signal is meant to end it (SIGKILL or its stop signal), as Docker does;
    /// any other signal waits, pending, until `unpause`.
    pub(crate) fn thaw_for(&self, record: &ContainerRecord, signal: Signal) -> Result<(), ContainerError> {
        let stop_signal = super::signal::parse_signal(&record.config.stop_signal).unwrap_or(Signal::SIGTERM);
        if (signal == Signal::SIGKILL || signal == stop_signal) && self.state(record)?.status == Status::Paused {
            self.thaw(record)?;
        }
        Ok(())
    }
}
