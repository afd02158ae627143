//! Where a container's files live: `<root>/containers/<id>/` (DESIGN.md, "State").

use std::path::{Path, PathBuf};

use super::id::ContainerId;
use crate::store::Root;

pub const CONTAINER_JSON: &str = "container.json";
pub const HOSTS: &str = "hosts";
pub const RESOLV_CONF: &str = "resolv.conf";
pub const HOSTNAME: &str = "hostname";

/// The files of one container.
#[derive(Debug, Clone)]
pub struct ContainerDir {
    dir: PathBuf,
    id: ContainerId,
    runtime_root: PathBuf,
}

impl ContainerDir {
    pub fn new(root: &Root, id: &ContainerId) -> ContainerDir {
        ContainerDir { dir: root.containers().join(id.as_str()), id: id.clone(), runtime_root: runtime_root(root) }
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    /// The recorded [`super::config::ContainerConfig`], for the monitor (which does not open the database).
    pub fn container_json(&self) -> PathBuf {
        self.dir.join(CONTAINER_JSON)
    }

    /// The OCI bundle is the container directory: `config.json` and `rootfs/`.
    pub fn bundle(&self) -> &Path {
        &self.dir
    }

    pub fn oci_config(&self) -> PathBuf {
        self.dir.join("config.json")
    }

    /// The container's seccomp profile (OCI `linux.seccomp`), kept beside a
    /// `config.json` that has none: berth loads the compiled filter itself.
    pub fn seccomp_profile(&self) -> PathBuf {
        self.dir.join("seccomp.json")
    }

    /// The merged overlay mount point; mounted only inside the monitor's mount namespace.
    pub fn rootfs(&self) -> PathBuf {
        self.dir.join("rootfs")
    }

    /// The container's writable layer.
    pub fn upper(&self) -> PathBuf {
        self.dir.join("upper")
    }

    /// overlayfs's scratch directory, on the same file system as `upper`.
    pub fn work(&self) -> PathBuf {
        self.dir.join("work")
    }

    /// The runtime state the monitor keeps (running, exit code, ...).
    pub fn state_json(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Written by `pause` (the PID of the run it froze), removed by `unpause`:
    /// the paused state outlives the daemon, as the frozen cgroup does.
    pub fn paused(&self) -> PathBuf {
        self.dir.join("paused")
    }

    /// Held locked by the monitor for as long as it runs.
    pub fn monitor_lock(&self) -> PathBuf {
        self.dir.join("monitor.lock")
    }

    /// The monitor's control socket (attach, wait, stop, kill, resize).
    pub fn control_socket(&self) -> PathBuf {
        self.dir.join("control.sock")
    }

    /// What the monitor reports about itself when BERTH_LOG asks for it.
    pub fn monitor_log(&self) -> PathBuf {
        self.dir.join("monitor.log")
    }

    /// The container's output, json-file format (the name Docker uses).
    pub fn log(&self) -> PathBuf {
        self.dir.join(format!("{}-json.log", self.id))
    }

    /// The `n`th rotated log (1 is the newest).
    pub fn rotated_log(&self, n: u32) -> PathBuf {
        self.dir.join(format!("{}-json.log.{n}", self.id))
    }

    pub fn hosts(&self) -> PathBuf {
        self.dir.join(HOSTS)
    }

    pub fn resolv_conf(&self) -> PathBuf {
        self.dir.join(RESOLV_CONF)
    }

    pub fn hostname(&self) -> PathBuf {
        self.dir.join(HOSTNAME)
    }

    /// libcontainer's own state for this container (under the run directory:
    /// it does not outlive a reboot, and neither does the container).
    pub fn runtime_state(&self) -> PathBuf {
        self.runtime_root.join(self.id.as_str())
    }

    /// libcontainer's state root.
    pub fn runtime_root(&self) -> &Path {
        &self.runtime_root
    }
}

/// Where every monitor mounts its container's root file system, each in its
/// own mount namespace: one shared, never-removed directory, so that removing a
/// container never waits for an unmount.
pub fn mount_point(root: &Root) -> PathBuf {
    root.run().join("mnt")
}

/// Replaces `path` atomically (readers see the old or the new file) without
/// waiting for the disk: for files berth derives again (the OCI spec) or whose
/// loss a crash makes moot (runtime state: after a crash no container runs).
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path)).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// [`replace_file`] of a value as JSON.
pub fn replace_json<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    replace_file(path, &serde_json::to_vec(value).map_err(std::io::Error::other)?)
}

/// `<run>/seccomp`: compiled seccomp filters, one per profile (gone at reboot,
/// as the libseccomp that compiled them may be).
pub fn seccomp_cache(root: &Root) -> PathBuf {
    root.run().join("seccomp")
}

/// `<run>/runtime`: libcontainer's state directory, one entry per running container.
pub fn runtime_root(root: &Root) -> PathBuf {
    root.run().join("runtime")
}
