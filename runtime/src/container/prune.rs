//! `container prune`: removes every container that is not running.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::containers::Containers;
use super::delete::remove_all;
use super::error::ContainerError;
use super::records;

/// What `prune` removed.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct Pruned {
    pub removed: Vec<String>,
    /// Bytes of the removed containers' writable layers.
    pub reclaimed: u64,
}

fn disk_usage(path: &std::path::Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return 0 };
    if !meta.is_dir() {
        return meta.len();
    }
    std::fs::read_dir(path).map_or(0, |entries| entries.flatten().map(|e| disk_usage(&e.path())).sum())
}

impl Containers {
    /// Removes stopped containers created before `until` (all when `None`) and carrying `labels`.
    pub fn prune(
        &mut self,
        until: Option<DateTime<Utc>>,
        labels: &BTreeMap<String, Option<String>>,
    ) -> Result<Pruned, ContainerError> {
        let mut pruned = Pruned::default();
        for record in records::with_labels(&self.db, labels)? {
            if self.state(&record)?.is_running() || until.is_some_and(|until| record.created >= until) {
                continue;
            }
            let size = disk_usage(&self.dir(&record).upper());
            remove_all(&self.root, &record.id, &record.config, false)?.discard()?;
            pruned.removed.push(record.id.to_string());
            pruned.reclaimed += size;
        }
        Ok(pruned)
    }
}
