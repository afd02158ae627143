//! `cp`: copying files between a container and the host as a tar stream,
//! with `docker cp`'s rules for what lands where. The side that has the
//! source writes the archive ([`CopySource::write`]); the side that has the
//! destination places it ([`Containers::extract_into`], [`extract_on_host`]).
//! The daemon does the container's side and the CLI the host's, so neither
//! opens the other's files. Inside the container every path is resolved
//! within its root; on both sides symlinks are copied as links, never followed.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, Timespec};

use super::containers::Containers;
use super::error::ContainerError;
use super::fscopy::{Meta, Owner, create, open_nofollow, replace_non_directory};
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

/// Whether a source path asks for a directory's contents (`SRC/.`) rather than the directory.
pub fn contents_only(source: &str) -> bool {
    split(source).2
}

/// The entry a copy reads from, found and open: what the archive is written from.
pub struct CopySource {
    from: Place,
    source: String,
    /// Keeps a stopped container's root mounted while the archive is written.
    _root: Option<ContainerRoot>,
}

impl std::fmt::Debug for CopySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopySource").field("source", &self.source).finish_non_exhaustive()
    }
}

impl CopySource {
    fn new(
        parent: OwnedFd,
        name: Option<OsString>,
        source: &str,
        root: Option<ContainerRoot>,
    ) -> Result<Self, ContainerError> {
        let from = Place { dir: parent, name: name.unwrap_or_else(|| ".".into()) };
        if file_type(&from).map_err(|e| cp_error("cannot read", source, e))?.is_none() {
            return Err(ContainerError::Internal(format!("Could not find the file {source} in container or host")));
        }
        Ok(CopySource { from, source: source.to_owned(), _root: root })
    }

    /// A path on this host: the CLI's side of `cp SRC CONTAINER:DEST`.
    pub fn host(source: &Path) -> Result<CopySource, ContainerError> {
        let text = source.to_string_lossy().into_owned();
        let (parent, name, _) = split(&text);
        let dir: OwnedFd = File::open(&parent).map_err(|e| cp_error("cannot open", &text, e))?.into();
        CopySource::new(dir, name, &text, None)
    }

    /// Writes the entry (a directory with everything in it) as a tar archive
    /// whose first member is the entry itself, under its own name.
    pub fn write(&self, out: impl Write) -> Result<(), ContainerError> {
        let mut builder = tar::Builder::new(out);
        let name = Path::new(&self.from.name);
        append(&mut builder, self.from.dir.as_fd(), &self.from.name, name)
            .and_then(|()| builder.into_inner())
            .and_then(|mut out| out.flush())
            .map_err(|e| cp_error("cannot read", &self.source, e))
    }
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

    /// The container's side of `docker cp CONTAINER:SRC DEST`: `source`, found and open.
    pub fn copy_source(&self, reference: &str, source: &str) -> Result<CopySource, ContainerError> {
        let record = self.lookup(reference)?;
        let root = self.container_root(&record)?;
        let (parent, name, _) = split(source);
        let dir = rootfs::open_in_root(&root.fd, &parent, OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(|e| cp_error("cannot open", source, e))?;
        CopySource::new(dir, name, source, Some(root))
    }

    /// The container's side of `docker cp SRC CONTAINER:DEST`: places the
    /// archive at `destination`; owned by root unless `archive` (`cp -a`).
    pub fn extract_into(
        &self,
        reference: &str,
        destination: &str,
        contents_only: bool,
        archive: bool,
        input: impl Read,
    ) -> Result<(), ContainerError> {
        let record = self.lookup(reference)?;
        let root = self.container_root(&record)?;
        let owner = if archive { Owner::Preserve } else { Owner::Set(0, 0) };
        extract(input, contents_only, destination, owner, &|path| {
            rootfs::open_in_root(&root.fd, Path::new(path), OFlags::RDONLY | OFlags::DIRECTORY)
        })
    }
}

/// The host's side of `docker cp CONTAINER:SRC DEST`: places the archive at
/// `destination`, owned by whoever runs this unless `archive` (`cp -a`).
pub fn extract_on_host(
    input: impl Read,
    destination: &Path,
    contents_only: bool,
    archive: bool,
) -> Result<(), ContainerError> {
    let owner = if archive {
        Owner::Preserve
    } else {
        Owner::Set(nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw())
    };
    extract(input, contents_only, &destination.to_string_lossy(), owner, &|path| {
        let dir = File::open(path)?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::from_raw_os_error(nix::libc::ENOTDIR));
        }
        Ok(dir.into())
    })
}

fn file_type(place: &Place) -> io::Result<Option<FileType>> {
    match rustix::fs::statat(&place.dir, &place.name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(FileType::from_raw_mode(stat.st_mode))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(errno) => Err(errno.into()),
    }
}

/// Appends the entry `name` of `dir` as `path`, and a directory's entries after it.
fn append(builder: &mut tar::Builder<impl Write>, dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> io::Result<()> {
    let stat = rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mut header = tar::Header::new_gnu();
    header.set_mode(stat.st_mode & 0o7777);
    header.set_uid(u64::from(stat.st_uid));
    header.set_gid(u64::from(stat.st_gid));
    header.set_mtime(stat.st_mtime.max(0) as u64);
    header.set_size(0);
    let kind = FileType::from_raw_mode(stat.st_mode);
    match kind {
        FileType::Directory => {
            header.set_entry_type(tar::EntryType::Directory);
            builder.append_data(&mut header, path, io::empty())?;
            let opened = open_nofollow(dir, name, OFlags::RDONLY | OFlags::DIRECTORY)?;
            for entry in Dir::read_from(&opened)? {
                let entry = entry?;
                let child = OsStr::from_bytes(entry.file_name().to_bytes());
                if child != "." && child != ".." {
                    append(builder, opened.as_fd(), child, &path.join(child))?;
                }
            }
            Ok(())
        }
        FileType::RegularFile => {
            let file = File::from(open_nofollow(dir, name, OFlags::RDONLY)?);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(stat.st_size as u64);
            builder.append_data(&mut header, path, file.take(stat.st_size as u64))
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(dir, name, Vec::new())?;
            header.set_entry_type(tar::EntryType::Symlink);
            builder.append_link(&mut header, path, OsStr::from_bytes(target.as_bytes()))
        }
        FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice => {
            header.set_entry_type(match kind {
                FileType::Fifo => tar::EntryType::Fifo,
                FileType::CharacterDevice => tar::EntryType::Char,
                _ => tar::EntryType::Block,
            });
            header.set_device_major(rustix::fs::major(stat.st_rdev))?;
            header.set_device_minor(rustix::fs::minor(stat.st_rdev))?;
            builder.append_data(&mut header, path, io::empty())
        }
        // Sockets and anything else are not copied, as with tar.
        _ => Ok(()),
    }
}

/// Where the archive's top entry goes: under another name, or (`SRC/.` into
/// an existing directory) only what is in it.
enum Top {
    As(OsString),
    Contents,
}

/// `docker cp`'s rules: an existing directory receives the source under its
/// own name (or with `/.` its contents); otherwise the source is created as
/// the destination's last component, whose parent must exist.
fn plan(
    is_dir: bool,
    contents_only: bool,
    name: &OsStr,
    destination: &str,
    open_dir: &dyn Fn(&str) -> io::Result<OwnedFd>,
) -> Result<(OwnedFd, Top), ContainerError> {
    if let Ok(target) = open_dir(destination) {
        return Ok((target, if is_dir && contents_only { Top::Contents } else { Top::As(name.to_owned()) }));
    }
    if destination.ends_with('/') {
        return Err(ContainerError::Internal(format!("destination directory {destination} must exist")));
    }
    let (parent, name, _) = split(destination);
    let name = name.ok_or_else(|| ContainerError::Internal(format!("invalid destination {destination}")))?;
    let parent_text = parent.to_string_lossy().into_owned();
    let dir =
        open_dir(&parent_text).map_err(|e| cp_error("cannot open the destination's directory", &parent_text, e))?;
    let target = Place { dir, name };
    let existing = file_type(&target).map_err(|e| cp_error("cannot read", destination, e))?;
    if is_dir && existing.is_some_and(|t| t != FileType::Directory) {
        return Err(ContainerError::Internal(format!("cannot copy a directory to a file: {destination}")));
    }
    Ok((target.dir, Top::As(target.name)))
}

/// Places the archive `input` at `destination` on the side whose directories `open_dir` opens.
fn extract(
    input: impl Read,
    contents_only: bool,
    destination: &str,
    owner: Owner,
    open_dir: &dyn Fn(&str) -> io::Result<OwnedFd>,
) -> Result<(), ContainerError> {
    let copied = |e: io::Error| cp_error("cannot copy to", destination, e);
    let mut archive = tar::Archive::new(input);
    let mut entries = archive.entries().map_err(copied)?;
    let Some(first) = entries.next() else {
        return Err(ContainerError::Internal(format!("cannot copy to {destination}: the archive is empty")));
    };
    let first = first.map_err(copied)?;
    let path = first.path().map_err(copied)?.into_owned();
    let top = path.components().next().map(|c| c.as_os_str().to_owned()).unwrap_or_else(|| ".".into());
    let is_dir = first.header().entry_type().is_dir();
    let (target, placement) = plan(is_dir, contents_only, &top, destination, open_dir)?;
    let mut placer = Placer { target, top, placement, owner, directories: Vec::new() };
    placer.place(first).map_err(copied)?;
    for entry in entries {
        placer.place(entry.map_err(copied)?).map_err(copied)?;
    }
    // Directories last, deepest first: writing into them changed their times,
    // and a read-only mode must not stop what goes into them.
    for (dir, meta) in placer.directories.iter().rev() {
        meta.apply(dir, owner).map_err(copied)?;
    }
    Ok(())
}

struct Placer {
    target: OwnedFd,
    /// The name of the archive's first entry, which every other one is under.
    top: OsString,
    placement: Top,
    owner: Owner,
    directories: Vec<(OwnedFd, Meta)>,
}

fn unsafe_entry(path: &Path, why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("archive entry {}: {why}", path.display()))
}

impl Placer {
    /// The entry's place: its parent directory's path from the target, and its name.
    fn destination(&self, path: &Path) -> io::Result<Option<(Vec<OsString>, OsString)>> {
        let mut components = Vec::new();
        for component in path.components() {
            match component {
                Component::Normal(name) => components.push(name.to_owned()),
                Component::CurDir if components.is_empty() && self.top == "." => components.push(".".into()),
                Component::CurDir => {}
                _ => return Err(unsafe_entry(path, "its path leaves the copy")),
            }
        }
        if components.first().map(OsString::as_os_str) != Some(self.top.as_os_str()) {
            return Err(unsafe_entry(path, "it is not under the archive's first entry"));
        }
        let mut rest: Vec<OsString> = components.split_off(1);
        match &self.placement {
            Top::Contents if rest.is_empty() => return Ok(None),
            Top::Contents => {}
            Top::As(name) => rest.insert(0, name.clone()),
        }
        let name = rest.pop().expect("a name at least");
        Ok(Some((rest.into_iter().filter(|c| c != ".").collect(), name)))
    }

    /// Opens the directory `parents` under the target, never through a link, making what is missing.
    fn open_parent(&self, parents: &[OsString]) -> io::Result<OwnedFd> {
        let mut dir = self.target.try_clone()?;
        for name in parents {
            dir = match open_nofollow(dir.as_fd(), name, OFlags::RDONLY | OFlags::DIRECTORY) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    rustix::fs::mkdirat(&dir, name.as_os_str(), Mode::from_raw_mode(0o755))?;
                    open_nofollow(dir.as_fd(), name, OFlags::RDONLY | OFlags::DIRECTORY)?
                }
                other => other?,
            };
        }
        Ok(dir)
    }

    fn place(&mut self, mut entry: tar::Entry<'_, impl Read>) -> io::Result<()> {
        let path = entry.path()?.into_owned();
        let Some((parents, name)) = self.destination(&path)? else { return Ok(()) };
        let parent = self.open_parent(&parents)?;
        let header = entry.header();
        let time = Timespec { tv_sec: header.mtime()? as i64, tv_nsec: 0 };
        let meta = Meta {
            uid: header.uid()? as u32,
            gid: header.gid()? as u32,
            mode: header.mode()? & 0o7777,
            atime: time,
            mtime: time,
        };
        let kind = header.entry_type();
        match kind {
            tar::EntryType::Directory => {
                match rustix::fs::mkdirat(&parent, name.as_os_str(), Mode::from_raw_mode(0o700)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(errno) => return Err(errno.into()),
                }
                let dir = open_nofollow(parent.as_fd(), &name, OFlags::RDONLY | OFlags::DIRECTORY)?;
                self.directories.push((dir, meta));
                Ok(())
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let target = match create(parent.as_fd(), &name) {
                    Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                        // A symlink is in the way: replace it, never write through it.
                        rustix::fs::unlinkat(&parent, name.as_os_str(), AtFlags::empty())?;
                        create(parent.as_fd(), &name)?
                    }
                    other => other?,
                };
                io::copy(&mut entry, &mut File::from(target.try_clone()?))?;
                meta.apply(&target, self.owner)
            }
            tar::EntryType::Symlink => {
                let link = entry.link_name()?.ok_or_else(|| unsafe_entry(&path, "a link without a target"))?;
                replace_non_directory(parent.as_fd(), &name)?;
                rustix::fs::symlinkat(link.as_os_str(), &parent, name.as_os_str())?;
                meta.chown_at(parent.as_fd(), &name, self.owner)
            }
            tar::EntryType::Fifo | tar::EntryType::Char | tar::EntryType::Block => {
                let file_type = match kind {
                    tar::EntryType::Fifo => FileType::Fifo,
                    tar::EntryType::Char => FileType::CharacterDevice,
                    _ => FileType::BlockDevice,
                };
                let device = rustix::fs::makedev(
                    header.device_major()?.unwrap_or_default(),
                    header.device_minor()?.unwrap_or_default(),
                );
                replace_non_directory(parent.as_fd(), &name)?;
                rustix::fs::mknodat(&parent, name.as_os_str(), file_type, Mode::from_raw_mode(meta.mode), device)?;
                meta.chown_at(parent.as_fd(), &name, self.owner)
            }
            other => Err(unsafe_entry(&path, &format!("berth does not copy entries of type {other:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn host_dir(path: &str) -> io::Result<OwnedFd> {
        Ok(File::open(path)?.into())
    }

    /// Archives `source` and places it at `destination` (both on the host).
    fn round_trip(source: &Path, destination: &Path) -> Result<(), ContainerError> {
        let mut tar = Vec::new();
        CopySource::host(source)?.write(&mut tar)?;
        let text = source.to_string_lossy();
        extract_on_host(&tar[..], destination, contents_only(&text), true)
    }

    #[test]
    fn docker_cp_placement_rules() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/file"), "payload").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        let out = tmp.path().join("out");
        // A missing destination is the copy itself.
        round_trip(&src, &out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("sub/file")).unwrap(), "payload");
        assert_eq!(std::fs::read_link(out.join("link")).unwrap(), Path::new("/etc/passwd"));
        // An existing directory receives it under its own name, or with `/.` its contents.
        round_trip(&src, &out).unwrap();
        assert!(out.join("src/sub/file").is_file());
        round_trip(&tmp.path().join("src/."), &out).unwrap();
        assert!(out.join("sub/file").is_file());
        // A file into a directory, and over a file.
        round_trip(&src.join("sub/file"), &out).unwrap();
        assert_eq!(std::fs::read_to_string(out.join("file")).unwrap(), "payload");
        std::fs::write(tmp.path().join("other"), "old").unwrap();
        round_trip(&src.join("sub/file"), &tmp.path().join("other")).unwrap();
        assert_eq!(std::fs::read_to_string(tmp.path().join("other")).unwrap(), "payload");
        assert_eq!(
            std::fs::metadata(tmp.path().join("other")).unwrap().mtime(),
            std::fs::metadata(src.join("sub/file")).unwrap().mtime()
        );
        let error = round_trip(&src, &tmp.path().join("other")).unwrap_err().to_string();
        assert!(error.contains("cannot copy a directory to a file"), "{error}");
        let error = round_trip(&src, &tmp.path().join("missing/")).unwrap_err().to_string();
        assert!(error.contains("must exist"), "{error}");
        let error = round_trip(&tmp.path().join("nothing"), &out).unwrap_err().to_string();
        assert!(error.contains("Could not find the file"), "{error}");
    }

    #[test]
    fn archives_never_lead_out_of_the_destination() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let dest = tmp.path().join("dest");
        std::fs::create_dir(&dest).unwrap();
        // A link in the archive, then a file "through" it.
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(0o755);
        header.set_size(0);
        builder.append_data(&mut header, "top", io::empty()).unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        builder.append_link(&mut link, "top/escape", &outside).unwrap();
        let mut file = tar::Header::new_gnu();
        file.set_entry_type(tar::EntryType::Regular);
        file.set_mode(0o644);
        file.set_size(1);
        builder.append_data(&mut file, "top/escape/owned", &b"x"[..]).unwrap();
        let tar = builder.into_inner().unwrap();
        let dest_text = dest.to_string_lossy().into_owned();
        let result = extract(&tar[..], false, &dest_text, Owner::Preserve, &host_dir);
        assert!(result.is_err(), "a write through a link must fail");
        assert!(!outside.join("owned").exists());
        // Paths with `..` are refused.
        let mut tar = Vec::new();
        tar.extend_from_slice(&{
            let mut builder = tar::Builder::new(Vec::new());
            let mut header = tar::Header::new_gnu();
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(0);
            header.as_old_mut().name[..9].copy_from_slice(b"top/../x\0");
            header.set_cksum();
            builder.append(&header, io::empty()).unwrap();
            builder.into_inner().unwrap()
        });
        assert!(extract(&tar[..], false, &dest_text, Owner::Preserve, &host_dir).is_err());
    }
}
