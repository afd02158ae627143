//! Network namespaces kept as files, like `ip netns` and Podman: a bind mount
//! of a new namespace onto `<run>/netns/<container>`. The namespace lives as long
//! as the file is mounted, so a container can stop and start again inside the
//! same one and keep its addresses. Only dedicated threads ever change namespace:
//! `unshare`/`setns` of CLONE_NEWNET act on the calling thread alone.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::sched::{CloneFlags, setns, unshare};

use crate::netlink::{self, NetlinkError, Rtnl};

#[derive(Debug, thiserror::Error)]
pub enum NetnsError {
    #[error("cannot create the network namespace {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("network namespace {path} already exists")]
    Exists { path: PathBuf },
    #[error("cannot enter the network namespace {path}: {source}")]
    Enter { path: PathBuf, source: std::io::Error },
    #[error("cannot remove the network namespace {path}: {source}")]
    Remove { path: PathBuf, source: std::io::Error },
    #[error("in the network namespace {path}: {source}")]
    Setup { path: PathBuf, source: NetlinkError },
}

fn io(e: nix::Error) -> std::io::Error {
    std::io::Error::from(e)
}

/// Creates the namespace file `path` with loopback up.
pub(crate) fn create(path: &Path) -> Result<(), NetnsError> {
    let create_err = |source| NetnsError::Create { path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(create_err)?;
    }
    match File::options().write(true).create_new(true).open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(NetnsError::Exists { path: path.to_path_buf() });
        }
        Err(e) => return Err(create_err(e)),
    }
    let result = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<(), NetnsError> {
                unshare(CloneFlags::CLONE_NEWNET).map_err(|e| create_err(io(e)))?;
                mount(Some("/proc/thread-self/ns/net"), path, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                    .map_err(|e| create_err(io(e)))?;
                loopback_up().map_err(|source| NetnsError::Setup { path: path.to_path_buf(), source })
            })
            .join()
            .unwrap_or_else(|_| Err(create_err(std::io::Error::other("the namespace thread panicked"))))
    });
    if result.is_err() {
        let _ = remove(path);
    }
    result
}

fn loopback_up() -> Result<(), NetlinkError> {
    let mut rtnl = Rtnl::open()?;
    if let Some(lo) = netlink::link_by_name(&mut rtnl, "lo")? {
        netlink::set_up(&mut rtnl, lo.index, "lo")?;
    }
    Ok(())
}

/// Unmounts and deletes the namespace file; a missing file is not an error.
/// The namespace itself goes away with its last user.
pub(crate) fn remove(path: &Path) -> Result<(), NetnsError> {
    let remove_err = |source| NetnsError::Remove { path: path.to_path_buf(), source };
    match umount2(path, MntFlags::MNT_DETACH) {
        // EINVAL: not a mount point (a half-created file); ENOENT: already gone.
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(remove_err(io(e))),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(remove_err(e)),
    }
}

/// Runs `work` on a fresh thread that has joined the namespace at `path`.
pub(crate) fn in_netns<T: Send>(path: &Path, work: impl FnOnce() -> T + Send) -> Result<T, NetnsError> {
    let enter_err = |source| NetnsError::Enter { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(enter_err)?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| enter_err(io(e)))?;
                Ok(work())
            })
            .join()
            .unwrap_or_else(|_| Err(enter_err(std::io::Error::other("the namespace thread panicked"))))
    })
}
