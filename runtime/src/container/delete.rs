//! `rm`: removing a container and everything it had.

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::cgroup::Cgroups;
use super::config::ContainerConfig;
use super::containers::Containers;
use super::error::ContainerError;
use super::id::ContainerId;
use super::layout::ContainerDir;
use super::mounts::MountSource;
use super::records::{self, MIGRATION};
use super::state::State;
use super::{rootfs, volumes};
use crate::store::{Db, Root};

/// `rm` options.
#[derive(Debug, Clone, Copy, Default)]
pub struct RemoveOptions {
    /// `-f`: kill a running container first.
    pub force: bool,
    /// `-v`: remove its anonymous volumes too.
    pub volumes: bool,
}

impl Containers {
    /// Removes a container. A running one is refused unless `force`.
    pub fn remove(&mut self, reference: &str, options: RemoveOptions) -> Result<ContainerId, ContainerError> {
        let record = self.lookup(reference)?;
        let dir = self.dir(&record);
        let state = State::load(&dir).map_err(|e| ContainerError::io("cannot read", dir.state_json(), e))?;
        if state.is_running() {
            if !options.force {
                return Err(ContainerError::RemoveRunning(record.name.clone()));
            }
            self.kill_and_wait(&record)?;
        }
        remove_all(&self.root, &record.id, &record.config, options.volumes)?.discard()?;
        Ok(record.id)
    }
}

/// A removed container's directory, moved aside into the state root's `tmp`
/// (gone from every listing) with its files still to delete. The monitor of a
/// `--rm` container reports the exit first and deletes them after; if it dies
/// first, the directory's name (`removing-PID-ID`) lets `image prune` finish.
#[must_use = "the files are still on disk until discarded"]
#[derive(Debug)]
pub(crate) struct Leftover(Option<PathBuf>);

impl Leftover {
    pub(crate) fn discard(self) -> Result<(), ContainerError> {
        match self.0.map(std::fs::remove_dir_all) {
            Some(Err(e)) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(ContainerError::Internal(format!("cannot remove a removed container's files: {e}")))
            }
            _ => Ok(()),
        }
    }
}

/// Removes a stopped container: what a dead monitor may have left (runtime
/// state, cgroup, mount), its anonymous volumes if asked (unless another
/// container uses them) and its record; its directory is moved aside, to be
/// discarded. Keeps going past errors and reports them all.
pub(crate) fn remove_all(
    root: &Root,
    id: &ContainerId,
    config: &ContainerConfig,
    anonymous_volumes: bool,
) -> Result<Leftover, ContainerError> {
    let dir = ContainerDir::new(root, id);
    let mut errors = Vec::new();
    super::monitor::clear_stale_runtime_state(&dir);
    if let Ok(cgroups) = Cgroups::detect() {
        for leftover in cgroups.container(id).existing_dirs() {
            if let Err(e) = std::fs::remove_dir(&leftover) {
                errors.push(format!("cannot remove cgroup {}: {e}", leftover.display()));
            }
        }
    }
    if let Err(e) = rootfs::unmount(&dir.rootfs()) {
        errors.push(format!("cannot unmount {}: {e}", dir.rootfs().display()));
    }
    // Moved aside in one step: a writer that still saves into the directory by
    // its path (the daemon's health check, its last result) cannot then add a file
    // while it is being emptied, which made the removal fail half-done.
    let aside = root.tmp().join(format!("removing-{}-{id}", std::process::id()));
    let leftover = match std::fs::create_dir_all(root.tmp()).and_then(|()| std::fs::rename(dir.path(), &aside)) {
        Ok(()) => Leftover(Some(aside)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !dir.path().exists() => Leftover(None),
        Err(_) => Leftover(Some(dir.path().to_owned())),
    };
    let mut db = Db::open(&root.db(), &[MIGRATION])?;
    if anonymous_volumes {
        let others: BTreeSet<String> = records::list(&db)?
            .into_iter()
            .filter(|other| &other.id != id)
            .flat_map(|other| other.config.mounts)
            .filter_map(|mount| match mount.source {
                MountSource::Volume { name, .. } => Some(name),
                _ => None,
            })
            .collect();
        for mount in &config.mounts {
            if let MountSource::Volume { name, anonymous: true, .. } = &mount.source
                && !others.contains(name)
                && let Err(e) = volumes::remove(root, name)
            {
                errors.push(format!("cannot remove volume {name}: {e}"));
            }
        }
    }
    if errors.is_empty() {
        records::delete(&mut db, id)?;
        Ok(leftover)
    } else {
        Err(ContainerError::Internal(format!("removing container {id}: {}", errors.join("; "))))
    }
}
