//! `cp`: copying files between a container and the host, with `docker cp`'s
//! rules for what lands where. Inside the container every path is resolved
//! within its root; symlinks are copied as links, never followed out.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use rustix::fs::{AtFlags, FileType, OFlags};

use super::containers::Containers;
use super::error::ContainerError;
use super::fscopy::{self, Owner};
use super::records::ContainerRecord;
use super::rootfs;

/// The container's root while a copy runs: the running container's (through
/// /proc), or its overlay mounted for the copy (and the monitor's lock held,
/// so it cannot start meanwhile).
struct ContainerRoot {
    fd: OwnedFd,
    _mounted: Option<(MountGuard, Flock<File>)>,
}

struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        if let Err(e) = rootfs::unmount(&self.0) {
            tracing::error!(path = %self.0.display(), error = %e, "cannot unmount after a copy");
        }
    }
}

/// One side of a copy: a directory and an entry in it.
struct Place {
    dir: OwnedFd,
    name: OsString,
}

fn cp_error(what: &str, path: &str, source: io::Error) -> ContainerError {
    ContainerError::Internal(format!("{what} {path}: {source}"))
}

/// `path` split into its parent and last component; `/.` at the end means "the contents".
fn split(path: &str) -> (PathBuf, Option<OsString>, bool) {
    let contents_only = path.ends_with("/.") || path == ".";
    let path = Path::new(path);
    let name = path.file_name().map(OsStr::to_os_string);
    let parent = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    (if parent.as_os_str().is_empty() { PathBuf::from(".") } else { parent }, name, contents_only)
}

impl Containers {
    fn container_root(&self, record: &ContainerRecord) -> Result<ContainerRoot, ContainerError> {
        let dir = self.dir(record);
        let state = self.state(record)?;
        if state.is_running() && state.pid > 0 {
            let proc_root = PathBuf::from(format!("/proc/{}/root", state.pid));
            let fd = rootfs::open_root(&proc_root).map_err(|e| ContainerError::io("cannot open", proc_root, e))?;
            return Ok(ContainerRoot { fd, _mounted: None });
        }
        let lock_file =
            File::create(dir.monitor_lock()).map_err(|e| ContainerError::io("cannot open", dir.monitor_lock(), e))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| ContainerError::Internal(format!("container {} is starting; try again", record.name)))?;
        for path in [dir.upper(), dir.work(), dir.rootfs()] {
            std::fs::create_dir_all(&path).map_err(|e| ContainerError::io("cannot create", &path, e))?;
        }
        rootfs::mount_overlay(&record.config.layer_dirs, &dir.upper(), &dir.work(), &dir.rootfs())
            .map_err(|e| ContainerError::io("cannot mount", dir.rootfs(), e))?;
        let guard = MountGuard(dir.rootfs());
        let fd = rootfs::open_root(&dir.rootfs()).map_err(|e| ContainerError::io("cannot open", dir.rootfs(), e))?;
        Ok(ContainerRoot { fd, _mounted: Some((guard, lock)) })
    }

    /// `docker cp CONTAINER:SRC DEST`.
    pub fn copy_from(
        &self,
        reference: &str,
        source: &str,
        destination: &Path,
        archive: bool,
    ) -> Result<(), ContainerError> {
        let record = self.lookup(reference)?;
        let root = self.container_root(&record)?;
        let (parent, name, contents_only) = split(source);
        let source_dir = rootfs::open_in_root(&root.fd, &parent, OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(|e| cp_error("cannot open", source, e))?;
        let from = Place { dir: source_dir, name: name.unwrap_or_else(|| ".".into()) };
        let owner = if archive {
            Owner::Preserve
        } else {
            Owner::Set(nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
        };
        let destination = destination.to_string_lossy();
        copy(&from, source, contents_only, &destination, owner, &|path| {
            let dir = File::open(path)?;
            if !dir.metadata()?.is_dir() {
                return Err(io::Error::from_raw_os_error(nix::libc::ENOTDIR));
            }
            Ok(dir.into())
        })
    }

    /// `docker cp SRC CONTAINER:DEST`.
    pub fn copy_to(
        &self,
        reference: &str,
        source: &Path,
        destination: &str,
        archive: bool,
    ) -> Result<(), ContainerError> {
        let record = self.lookup(reference)?;
        let root = self.container_root(&record)?;
        let source_text = source.to_string_lossy().into_owned();
        let (parent, name, contents_only) = split(&source_text);
        let source_dir: OwnedFd = File::open(&parent).map_err(|e| cp_error("cannot open", &source_text, e))?.into();
        let from = Place { dir: source_dir, name: name.unwrap_or_else(|| ".".into()) };
        let owner = if archive { Owner::Preserve } else { Owner::Set(0, 0) };
        copy(&from, &source_text, contents_only, destination, owner, &|path| {
            rootfs::open_in_root(&root.fd, Path::new(path), OFlags::RDONLY | OFlags::DIRECTORY)
        })
    }
}

fn file_type(place: &Place) -> io::Result<Option<FileType>> {
    match rustix::fs::statat(&place.dir, &place.name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(errno) => Err(errno.into()),
    }
}

/// Copies `from` to `destination` on the other side, whose directories `open_dir` opens.
fn copy(
    from: &Place,
    source: &str,
    contents_only: bool,
    destination: &str,
    owner: Owner,
    open_dir: &dyn Fn(&str) -> io::Result<OwnedFd>,
) -> Result<(), ContainerError> {
    let kind = file_type(from)
        .map_err(|e| cp_error("cannot read", source, e))?
        .ok_or_else(|| ContainerError::Internal(format!("Could not find the file {source} in container or host")))?;
    let is_dir = kind == FileType::Directory;
    let copied = |result: io::Result<()>| result.map_err(|e| cp_error("cannot copy to", destination, e));
    // An existing directory receives the source under its own name, or with "/." its contents.
    if let Ok(target) = open_dir(destination) {
        return copied(if is_dir && contents_only {
            rustix::fs::openat(
                &from.dir,
                &from.name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                rustix::fs::Mode::empty(),
            )
            .map_err(io::Error::from)
            .and_then(|source_dir| fscopy::copy_contents(source_dir.as_fd(), target.as_fd(), owner))
        } else {
            fscopy::copy_entry(from.dir.as_fd(), &from.name, target.as_fd(), &from.name, owner)
        });
    }
    if destination.ends_with('/') {
        return Err(ContainerError::Internal(format!("destination directory {destination} must exist")));
    }
    let (parent, name, _) = split(destination);
    let name = name.ok_or_else(|| ContainerError::Internal(format!("invalid destination {destination}")))?;
    let parent_text = parent.to_string_lossy().into_owned();
    let parent_dir =
        open_dir(&parent_text).map_err(|e| cp_error("cannot open the destination's directory", &parent_text, e))?;
    let target = Place { dir: parent_dir, name };
    let existing = file_type(&target).map_err(|e| cp_error("cannot read", destination, e))?;
    if is_dir && existing.is_some_and(|t| t != FileType::Directory) {
        return Err(ContainerError::Internal(format!("cannot copy a directory to a file: {destination}")));
    }
    copied(fscopy::copy_entry(from.dir.as_fd(), &from.name, target.dir.as_fd(), &target.name, owner))
}
