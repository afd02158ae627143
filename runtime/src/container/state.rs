//! A container's runtime state: written by its monitor (`state.json`, atomically),
//! read by anyone. Whether the monitor still runs is known from its lock, so a
//! monitor that died (a crash, a reboot) is noticed instead of trusted.

use std::fs::File;
use std::io;
use std::path::Path;

use chrono::{DateTime, Utc};
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use super::layout::ContainerDir;

/// Docker's container states.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    /// Running, with every process frozen (`pause`). Never written by the
    /// monitor: derived from the container's pause record when loading.
    Paused,
    Restarting,
    Exited,
    /// The monitor vanished while the container ran.
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    /// Running (paused or not) or about to run again: the monitor is in charge.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

/// What `inspect` shows as `.State`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct State {
    pub status: Status,
    /// The container's init process as the host sees it; 0 when not running.
    pub pid: i32,
    /// The monitor process; 0 when none runs.
    pub monitor_pid: i32,
    pub exit_code: i32,
    #[serde(rename = "OOMKilled")]
    pub oom_killed: bool,
    /// Why the last start failed, if it did.
    pub error: String,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub restart_count: u32,
    /// Set by `stop` and `kill`: restart policies leave the container stopped.
    pub stopped_by_user: bool,
}

impl State {
    /// The recorded state, `Created` if the container never ran. A state that
    /// says the monitor is in charge while its lock is free is reported `Dead`;
    /// a running container frozen by `pause` (this very run) is `Paused`.
    pub fn load(dir: &ContainerDir) -> io::Result<State> {
        let mut state: State = match std::fs::read(dir.state_json()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", dir.state_json().display()))
            })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        if state.status.is_active() && !monitor_alive(dir)? {
            state.status = Status::Dead;
            state.pid = 0;
            state.monitor_pid = 0;
            if state.error.is_empty() {
                state.error = "the container's monitor process is gone (killed, or the machine restarted)".into();
            }
        }
        if state.status == Status::Running && super::pause::paused_run(dir) == Some(state.pid) {
            state.status = Status::Paused;
        }
        Ok(state)
    }

    /// Atomic, not synced: after a crash the monitor is gone and the state reads as dead anyway.
    pub fn save(&self, dir: &ContainerDir) -> io::Result<()> {
        super::layout::replace_json(&dir.state_json(), self)
    }

    pub fn is_running(&self) -> bool {
        self.status.is_active()
    }
}

/// Whether a monitor holds the container's lock right now.
pub fn monitor_alive(dir: &ContainerDir) -> io::Result<bool> {
    lock_is_held(&dir.monitor_lock())
}

fn lock_is_held(path: &Path) -> io::Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_unlocked_on_drop) => Ok(false),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(true),
        Err((_, errno)) => Err(errno.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::id::ContainerId;
    use crate::store::Root;

    #[test]
    fn a_missing_state_is_created_and_a_lost_monitor_is_dead() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path().join("root"), tmp.path().join("run"));
        let dir = ContainerDir::new(&root, &ContainerId::generate().unwrap());
        std::fs::create_dir_all(dir.path()).unwrap();
        assert_eq!(State::load(&dir).unwrap().status, Status::Created);

        let running = State { status: Status::Running, pid: 42, monitor_pid: 41, ..Default::default() };
        running.save(&dir).unwrap();
        let lost = State::load(&dir).unwrap();
        assert_eq!(lost.status, Status::Dead);
        assert!(lost.error.contains("monitor"));

        // Held by a "monitor": the recorded state stands.
        let file = File::create(dir.monitor_lock()).unwrap();
        let _held = Flock::lock(file, FlockArg::LockExclusiveNonblock).unwrap();
        assert_eq!(State::load(&dir).unwrap().status, Status::Running);

        // Paused: this run was frozen; a record of an earlier run does not count.
        std::fs::write(dir.paused(), "42").unwrap();
        assert_eq!(State::load(&dir).unwrap().status, Status::Paused);
        assert!(State::load(&dir).unwrap().is_running());
        std::fs::write(dir.paused(), "7").unwrap();
        assert_eq!(State::load(&dir).unwrap().status, Status::Running);
    }
}
