//! Unpacking a layer tar into its own directory, safely: no entry may land
//! outside it (`..`, absolute paths, symbolic links planted by an earlier
//! entry, hard links to outside), whiteouts become overlayfs whiteouts
//! (0:0 character devices; `trusted.overlay.opaque=y` for opaque
//! directories), and ownership, modes, xattrs and times are kept. Device
//! nodes are made as they are (berth runs as root).

mod meta;
mod path;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use rustix::fs::{AtFlags, FileType, Mode, OFlags, XattrFlags};
use tar::EntryType;

use super::digest::{Digest, HashingReader};
use meta::Meta;
use path::Dirs;
pub(crate) use path::EntryPath;

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// xattrs overlayfs interprets; an image must not smuggle them in (only berth writes them).
const OVERLAY_XATTRS: &str = "trusted.overlay.";
const COPY_BUFFER: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("unsafe layer entry {entry:?}: {reason}; refusing to unpack the layer")]
    Unsafe { entry: String, reason: &'static str },
    #[error("layer entry {entry:?}: {source}")]
    Io {
        entry: String,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {entry:?} has a bad header: {reason}")]
    Header { entry: String, reason: String },
    #[error("layer entry {entry:?} has unsupported type {kind}")]
    Unsupported { entry: String, kind: String },
    #[error("the layer is not a valid tar archive: {0}")]
    Tar(#[source] io::Error),
}

/// What an unpacked layer is: its uncompressed digest (the diff ID) and the bytes of its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    pub diff_id: Digest,
    pub size: u64,
}

/// Unpacks the uncompressed tar stream `reader` into the existing, empty directory `dest`.
pub fn unpack<R: Read>(reader: R, dest: &Path) -> Result<Unpacked, UnpackError> {
    let mut hashing = HashingReader::new(reader);
    let size = {
        let mut archive = tar::Archive::new(&mut hashing);
        let mut unpacker = Unpacker { dirs: Dirs::open(dest)?, deferred: Vec::new(), buffer: vec![0; COPY_BUFFER] };
        let mut size = 0;
        for entry in archive.entries().map_err(UnpackError::Tar)? {
            size += unpacker.entry(entry.map_err(UnpackError::Tar)?)?;
        }
        unpacker.finish()?;
        size
    };
    // The diff ID covers the whole stream, including the padding after the end marker.
    io::copy(&mut hashing, &mut io::sink()).map_err(UnpackError::Tar)?;
    let (diff_id, _, _) = hashing.finish();
    Ok(Unpacked { diff_id, size })
}

struct Unpacker {
    dirs: Dirs,
    /// Directories whose mode and times are set at the end (writing inside them changes their mtime).
    deferred: Vec<(EntryPath, Meta)>,
    buffer: Vec<u8>,
}

impl Unpacker {
    /// Unpacks one entry; returns the bytes of file data written.
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<u64, UnpackError> {
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink
        ) {
            return Ok(0);
        }
        let raw = entry.path_bytes().into_owned();
        let Some(path) = EntryPath::parse(&raw)? else {
            return Ok(0);
        };
        let shown = path.display();
        let mut meta = Meta::read(&mut entry, &shown)?;
        meta.xattrs.retain(|(name, _)| {
            let overlay = name.starts_with(OVERLAY_XATTRS);
            if overlay {
                tracing::warn!(entry = %shown, xattr = %name, "ignoring an overlayfs xattr in a layer");
            }
            !overlay
        });
        let name = path.name().as_bytes();
        if name == OPAQUE_MARKER {
            let dir = self.dirs.get(path.parent(), &path)?;
            rustix::fs::fsetxattr(dir, "trusted.overlay.opaque", b"y", XattrFlags::empty())
                .map_err(|e| io_error(&shown, e))?;
            return Ok(0);
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
            return self.whiteout(&path, hidden, &meta).map(|()| 0);
        }
        match kind {
            EntryType::Regular | EntryType::Continuous => self.file(&mut entry, &path, &meta),
            EntryType::Directory => self.directory(path, meta).map(|()| 0),
            EntryType::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                self.symlink(&path, &target, &meta).map(|()| 0)
            }
            EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                self.hard_link(&path, &target).map(|()| 0)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let header = entry.header();
                let number = |n: io::Result<Option<u32>>| n.ok().flatten().unwrap_or(0);
                let dev = rustix::fs::makedev(number(header.device_major()), number(header.device_minor()));
                let file_type = match kind {
                    EntryType::Char => FileType::CharacterDevice,
                    EntryType::Block => FileType::BlockDevice,
                    _ => FileType::Fifo,
                };
                self.node(&path, file_type, dev, &meta).map(|()| 0)
            }
            other => Err(UnpackError::Unsupported { entry: shown, kind: format!("{other:?}") }),
        }
    }

    fn file<R: Read>(&mut self, entry: &mut R, path: &EntryPath, meta: &Meta) -> Result<u64, UnpackError> {
        let shown = path.display();
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = self.create(path, |dir, name| rustix::fs::openat(dir, name, flags, Mode::from_raw_mode(0o600)))?;
        let mut file = File::from(fd);
        let mut written = 0u64;
        loop {
            let n = match entry.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(UnpackError::Tar(e)),
            };
            file.write_all(&self.buffer[..n]).map_err(|source| UnpackError::Io { entry: shown.clone(), source })?;
            written += n as u64;
        }
        meta.apply_fd(&file, &shown)?;
        Ok(written)
    }

    fn directory(&mut self, path: EntryPath, meta: Meta) -> Result<(), UnpackError> {
        let shown = path.display();
        let parent = self.dirs.get(path.parent(), &path)?;
        match rustix::fs::mkdirat(parent, path.name(), Mode::from_raw_mode(0o700)) {
            Ok(()) => {}
            Err(rustix::io::Errno::EXIST) => {
                let stat = rustix::fs::statat(parent, path.name(), AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(|e| io_error(&shown, e))?;
                if FileType::from_raw_mode(stat.st_mode) != FileType::Directory {
                    self.remove(&path)?;
                    let parent = self.dirs.get(path.parent(), &path)?;
                    rustix::fs::mkdirat(parent, path.name(), Mode::from_raw_mode(0o700))
                        .map_err(|e| io_error(&shown, e))?;
                }
            }
            Err(e) => return Err(io_error(&shown, e)),
        }
        let fd = self
            .dirs
            .open_beneath(&path.relative())
            .map_err(|source| UnpackError::Io { entry: shown.clone(), source })?;
        meta.apply_owner_fd(&fd, &shown)?;
        self.deferred.push((path, meta));
        Ok(())
    }

    fn symlink(&mut self, path: &EntryPath, target: &[u8], meta: &Meta) -> Result<(), UnpackError> {
        // The target is stored as it is: it is resolved inside the container's root, never here.
        let target = std::ffi::OsStr::from_bytes(target);
        self.create(path, |dir, name| rustix::fs::symlinkat(target, dir, name))?;
        let full = self.dirs.root_path().join(path.relative());
        let dir = self.dirs.get(path.parent(), path)?;
        meta.apply_at(dir, path.name(), &full, true, &path.display())
    }

    fn hard_link(&mut self, path: &EntryPath, target: &[u8]) -> Result<(), UnpackError> {
        let shown = path.display();
        let target = EntryPath::parse(target)
            .map_err(|_| UnpackError::Unsafe {
                entry: shown.clone(),
                reason: "it is a hard link to outside the layer",
            })?
            .ok_or(UnpackError::Unsafe { entry: shown.clone(), reason: "it is a hard link to the layer root" })?;
        let target_dir: OwnedFd = if target.parent().is_empty() {
            self.dirs.root().try_clone().map_err(|source| UnpackError::Io { entry: shown.clone(), source })?
        } else {
            let relative = target.relative();
            self.dirs.open_beneath(relative.parent().expect("a parent")).map_err(|e| path::resolve_error(&target, e))?
        };
        self.create(path, |dir, name| rustix::fs::linkat(&target_dir, target.name(), dir, name, AtFlags::empty()))
    }

    fn node(&mut self, path: &EntryPath, file_type: FileType, dev: u64, meta: &Meta) -> Result<(), UnpackError> {
        self.create(path, |dir, name| rustix::fs::mknodat(dir, name, file_type, Mode::from_raw_mode(0o600), dev))?;
        let full = self.dirs.root_path().join(path.relative());
        let dir = self.dirs.get(path.parent(), path)?;
        meta.apply_at(dir, path.name(), &full, false, &path.display())
    }

    /// `.wh.NAME`: NAME is deleted in this layer, which overlayfs says with a 0:0 character device.
    fn whiteout(&mut self, path: &EntryPath, hidden: &[u8], meta: &Meta) -> Result<(), UnpackError> {
        let shown = path.display();
        if hidden.is_empty() || hidden == b"." || hidden == b".." {
            return Err(UnpackError::Unsafe { entry: shown, reason: "it is a whiteout of nothing" });
        }
        let mut parts: Vec<Vec<u8>> = path.parent().to_vec();
        parts.push(hidden.to_vec());
        let target = EntryPath::parse(&parts.join(&b'/'))?.expect("a name");
        let dev = rustix::fs::makedev(0, 0);
        self.node(&target, FileType::CharacterDevice, dev, &Meta { mode: 0, ..meta.clone() })
    }

    /// Runs `make(dir, name)`; if something is in the way, removes it (a later entry wins) and retries.
    fn create<T>(
        &mut self,
        path: &EntryPath,
        make: impl Fn(&OwnedFd, &std::ffi::OsStr) -> rustix::io::Result<T>,
    ) -> Result<T, UnpackError> {
        let dir = self.dirs.get(path.parent(), path)?;
        match make(dir, path.name()) {
            Ok(made) => Ok(made),
            Err(rustix::io::Errno::EXIST) => {
                self.remove(path)?;
                let dir = self.dirs.get(path.parent(), path)?;
                make(dir, path.name()).map_err(|e| io_error(&path.display(), e))
            }
            Err(e) => Err(io_error(&path.display(), e)),
        }
    }

    fn remove(&mut self, path: &EntryPath) -> Result<(), UnpackError> {
        let shown = path.display();
        let dir = self.dirs.get(path.parent(), path)?;
        match rustix::fs::unlinkat(dir, path.name(), AtFlags::empty()) {
            Ok(()) => {}
            Err(rustix::io::Errno::ISDIR | rustix::io::Errno::PERM) => {
                // remove_dir_all does not follow symlinks; the parents were resolved without any.
                let full = self.dirs.root_path().join(path.relative());
                std::fs::remove_dir_all(&full).map_err(|source| UnpackError::Io { entry: shown.clone(), source })?;
            }
            Err(e) => return Err(io_error(&shown, e)),
        }
        // The cached directory may have been inside what was removed.
        self.dirs.forget();
        Ok(())
    }

    /// Directory modes and times, deepest last-listed first, once nothing more is written inside.
    fn finish(self) -> Result<(), UnpackError> {
        for (path, meta) in self.deferred.iter().rev() {
            match self.dirs.open_beneath(&path.relative()) {
                Ok(fd) => meta.apply_dir_final(fd.as_fd(), &path.display())?,
                // Replaced by a later entry: nothing left to set.
                Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {}
                Err(source) => return Err(UnpackError::Io { entry: path.display(), source }),
            }
        }
        Ok(())
    }
}

fn io_error(entry: &str, errno: rustix::io::Errno) -> UnpackError {
    UnpackError::Io { entry: entry.to_owned(), source: errno.into() }
}

#[cfg(test)]
pub(crate) mod tests;
