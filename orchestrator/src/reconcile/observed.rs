//! What exists: the project's containers as the engine reports them (found by
//! their labels), and its networks and volumes.

use std::collections::BTreeSet;

/// Milliseconds since the Unix epoch; the planner takes time as data, so it stays pure.
pub type Millis = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Paused,
    Exited { code: i32 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedContainer {
    pub id: String,
    pub name: String,
    pub service: String,
    pub number: u32,
    pub config_hash: String,
    pub image_id: String,
    pub status: Status,
    pub health: Option<Health>,
    /// Stopped by the user (`berth stop`, `compose stop`): restart policies leave it alone.
    pub stopped_by_user: bool,
    /// Restarts by policy since the container last ran long enough to reset the backoff.
    pub restarts: u32,
    pub started_at: Option<Millis>,
    pub finished_at: Option<Millis>,
    /// A one-off container of `compose run`: never restarted, recreated or
    /// counted as a replica or an orphan; `down` removes it.
    pub oneoff: bool,
}

impl ObservedContainer {
    pub fn is_running(&self) -> bool {
        matches!(self.status, Status::Running | Status::Paused)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Observed {
    pub containers: Vec<ObservedContainer>,
    pub networks: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
}
