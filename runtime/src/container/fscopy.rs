//! Copying file trees between directory descriptors without ever following a
//! symlink: used to fill a new volume from the image and by `cp`, where one
//! side is a container's root and its links must not lead out of it.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{AtFlags, Dir, FileType, Gid, Mode, OFlags, Stat, Timespec, Timestamps, Uid};

/// Whose the copies are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// Keep each file's owner and group (volumes; `cp -a`).
    Preserve,
    /// Give every copy this owner and group (`cp` without `-a`).
    Set(u32, u32),
}

/// Copies the entry `name` of directory `from` to `to_name` in directory `to`:
/// a directory with everything in it (merged into an existing directory),
/// a file, a symlink (as a link), a fifo or a device node. Modes and times are
/// kept; owners as `owner` says.
pub fn copy_entry(
    from: BorrowedFd<'_>,
    name: &OsStr,
    to: BorrowedFd<'_>,
    to_name: &OsStr,
    owner: Owner,
) -> io::Result<()> {
    let stat = rustix::fs::statat(from, name, AtFlags::SYMLINK_NOFOLLOW)?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => {
            match rustix::fs::mkdirat(to, to_name, Mode::from_raw_mode(0o700)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(errno) => return Err(errno.into()),
            }
            let source = open_nofollow(from, name, OFlags::RDONLY | OFlags::DIRECTORY)?;
            let target = open_nofollow(to, to_name, OFlags::RDONLY | OFlags::DIRECTORY)?;
            copy_contents(source.as_fd(), target.as_fd(), owner)?;
            Meta::of(&stat).apply(&target, owner)
        }
        FileType::RegularFile => {
            let source = open_nofollow(from, name, OFlags::RDONLY)?;
            let target = match create(to, to_name) {
                Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
                    // A symlink is in the way: replace it, never write through it.
                    rustix::fs::unlinkat(to, to_name, AtFlags::empty())?;
                    create(to, to_name)?
                }
                other => other?,
            };
            io::copy(&mut File::from(source), &mut File::from(target.try_clone()?))?;
            Meta::of(&stat).apply(&target, owner)
        }
        FileType::Symlink => {
            let link = rustix::fs::readlinkat(from, name, Vec::new())?;
            replace_non_directory(to, to_name)?;
            rustix::fs::symlinkat(OsStr::from_bytes(link.as_bytes()), to, to_name)?;
            Meta::of(&stat).chown_at(to, to_name, owner)
        }
        kind @ (FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice) => {
            replace_non_directory(to, to_name)?;
            rustix::fs::mknodat(to, to_name, kind, Mode::from_raw_mode(stat.st_mode & 0o7777), stat.st_rdev)?;
            Meta::of(&stat).chown_at(to, to_name, owner)
        }
        // Sockets and anything else are not copied, as with tar.
        _ => Ok(()),
    }
}

/// Copies everything in directory `from` into directory `to`.
pub fn copy_contents(from: BorrowedFd<'_>, to: BorrowedFd<'_>, owner: Owner) -> io::Result<()> {
    for entry in Dir::read_from(from)? {
        let entry = entry?;
        let name = OsString::from(OsStr::from_bytes(entry.file_name().to_bytes()));
        if name == "." || name == ".." {
            continue;
        }
        copy_entry(from, &name, to, &name, owner)?;
    }
    Ok(())
}

/// Copies `from`'s owner, mode and times onto the directory `to` (a volume's root takes its image directory's).
pub fn copy_metadata(from: BorrowedFd<'_>, to: &OwnedFd, owner: Owner) -> io::Result<()> {
    Meta::of(&rustix::fs::fstat(from)?).apply(to, owner)
}

pub(super) fn open_nofollow(dir: BorrowedFd<'_>, name: &OsStr, flags: OFlags) -> io::Result<OwnedFd> {
    Ok(rustix::fs::openat(dir, name, flags | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?)
}

pub(super) fn create(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    open_nofollow(dir, name, OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC).map_err(|e| {
        if e.raw_os_error() == Some(nix::libc::EISDIR) {
            io::Error::new(io::ErrorKind::AlreadyExists, format!("cannot overwrite directory {name:?} with a file"))
        } else {
            e
        }
    })
}

/// Removes a file or link where a non-directory is about to be made; a directory is an error.
pub(super) fn replace_non_directory(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Directory => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("cannot overwrite directory {name:?} with a non-directory"),
        )),
        Ok(_) => Ok(rustix::fs::unlinkat(dir, name, AtFlags::empty())?),
        Err(rustix::io::Errno::NOENT) => Ok(()),
        Err(errno) => Err(errno.into()),
    }
}

/// What a copy keeps of an entry besides its content: owner, mode and times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits (with set-id and sticky bits).
    pub mode: u32,
    pub atime: Timespec,
    pub mtime: Timespec,
}

impl Meta {
    pub fn of(stat: &Stat) -> Meta {
        Meta {
            uid: stat.st_uid,
            gid: stat.st_gid,
            mode: stat.st_mode & 0o7777,
            atime: Timespec { tv_sec: stat.st_atime, tv_nsec: stat.st_atime_nsec as _ },
            mtime: Timespec { tv_sec: stat.st_mtime, tv_nsec: stat.st_mtime_nsec as _ },
        }
    }

    fn ids(&self, owner: Owner) -> (Uid, Gid) {
        match owner {
            Owner::Preserve => (Uid::from_raw(self.uid), Gid::from_raw(self.gid)),
            Owner::Set(uid, gid) => (Uid::from_raw(uid), Gid::from_raw(gid)),
        }
    }

    /// Owner first (chown clears set-id bits), then mode, then times.
    pub fn apply(&self, fd: &OwnedFd, owner: Owner) -> io::Result<()> {
        let (uid, gid) = self.ids(owner);
        rustix::fs::fchown(fd, Some(uid), Some(gid))?;
        rustix::fs::fchmod(fd, Mode::from_raw_mode(self.mode))?;
        rustix::fs::futimens(fd, &Timestamps { last_access: self.atime, last_modification: self.mtime })?;
        Ok(())
    }

    /// The owner of the entry `name` in `dir` (a link or a node: nothing to open).
    pub fn chown_at(&self, dir: BorrowedFd<'_>, name: &OsStr, owner: Owner) -> io::Result<()> {
        let (uid, gid) = self.ids(owner);
        rustix::fs::chownat(dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

    use super::*;

    #[test]
    fn copies_trees_with_links_modes_and_times() {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        std::fs::create_dir_all(src.join("dir/sub")).unwrap();
        std::fs::write(src.join("dir/file"), "content").unwrap();
        std::fs::set_permissions(src.join("dir/file"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("dir/link")).unwrap();
        nix::unistd::mkfifo(&src.join("dir/fifo"), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let dst = tmp.path().join("dst");
        std::fs::create_dir(&dst).unwrap();
        // A link in the target where a file will go must be replaced, not written through.
        std::fs::create_dir(dst.join("dir")).unwrap();
        let victim = tmp.path().join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dst.join("dir/file")).unwrap();

        let from = File::open(&src).unwrap();
        let to = File::open(&dst).unwrap();
        copy_entry(from.as_fd(), OsStr::new("dir"), to.as_fd(), OsStr::new("dir"), Owner::Preserve).unwrap();

        assert_eq!(std::fs::read_to_string(dst.join("dir/file")).unwrap(), "content");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        let meta = std::fs::symlink_metadata(dst.join("dir/file")).unwrap();
        assert_eq!(meta.mode() & 0o7777, 0o640);
        assert_eq!(meta.mtime(), std::fs::metadata(src.join("dir/file")).unwrap().mtime());
        assert_eq!(std::fs::read_link(dst.join("dir/link")).unwrap(), std::path::Path::new("/etc/passwd"));
        assert!(dst.join("dir/sub").is_dir());
        assert!(std::fs::symlink_metadata(dst.join("dir/fifo")).unwrap().file_type().is_fifo());

        copy_entry(from.as_fd(), OsStr::new("dir"), to.as_fd(), OsStr::new("copy"), Owner::Set(1234, 4321)).unwrap();
        assert_eq!(std::fs::metadata(dst.join("copy/file")).unwrap().uid(), 1234);
        assert_eq!(std::fs::symlink_metadata(dst.join("copy/link")).unwrap().gid(), 4321);
    }
}
