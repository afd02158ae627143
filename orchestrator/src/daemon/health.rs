//! The daemon's view of container health: the latest status of every
//! container whose healthcheck it runs, read by the planner, the gates of
//! `depends_on: service_healthy`, and `ps`.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::reconcile::observed::Health;

#[derive(Debug, Default)]
pub struct HealthRegistry {
    statuses: Mutex<HashMap<String, Health>>,
}

impl HealthRegistry {
    fn statuses(&self) -> std::sync::MutexGuard<'_, HashMap<String, Health>> {
        self.statuses.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records the status of container `id` (whose checks the daemon runs).
    pub fn set(&self, id: &str, health: Health) {
        self.statuses().insert(id.to_string(), health);
    }

    /// The container stopped: its checks stop too.
    pub fn forget(&self, id: &str) {
        self.statuses().remove(id);
    }

    pub fn is_watched(&self, id: &str) -> bool {
        self.statuses().contains_key(id)
    }

    pub fn get(&self, id: &str) -> Option<Health> {
        self.statuses().get(id).copied()
    }

    pub fn snapshot(&self) -> HashMap<String, Health> {
        self.statuses().clone()
    }
}
