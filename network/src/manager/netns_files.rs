//! A container's network namespace file.

use std::path::PathBuf;

use super::NetworkManager;
use crate::error::NetworkError;
use crate::{ids, netns};

impl NetworkManager {
    /// Creates `<run>/netns/<container-id>` (loopback up) for the runtime to
    /// join. It stays across container restarts; [`Self::release`] removes it.
    /// Needs no change lock: the file is the container's alone.
    pub fn create_netns(&self, container_id: &str) -> Result<PathBuf, NetworkError> {
        ids::check_container_id(container_id).map_err(NetworkError::Invalid)?;
        let _container = self.lock_container(container_id)?;
        let path = self.netns_path(container_id);
        netns::create(&path)?;
        Ok(path)
    }

    /// Removes a container's namespace file (a missing one is fine). Its
    /// attachments' veths vanish with the namespace's last user.
    pub fn remove_netns(&self, container_id: &str) -> Result<(), NetworkError> {
        ids::check_container_id(container_id).map_err(NetworkError::Invalid)?;
        let _container = self.lock_container(container_id)?;
        self.remove_netns_file(container_id)
    }

    /// [`Self::remove_netns`] under the container's lock, which the caller holds.
    pub(super) fn remove_netns_file(&self, container_id: &str) -> Result<(), NetworkError> {
        ids::check_container_id(container_id).map_err(NetworkError::Invalid)?;
        Ok(netns::remove(&self.netns_path(container_id))?)
    }

    /// The container ids that have a namespace file.
    pub(super) fn netns_files(&self) -> Result<Vec<String>, NetworkError> {
        let dir = self.config.run.join("netns");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(NetworkError::io(format!("cannot read {}", dir.display()))(e)),
        };
        let mut ids = Vec::new();
        for entry in entries {
            let entry = entry.map_err(NetworkError::io(format!("cannot read {}", dir.display())))?;
            ids.push(entry.file_name().to_string_lossy().into_owned());
        }
        ids.sort();
        Ok(ids)
    }
}
