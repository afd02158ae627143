//! Entry paths, checked once, and the directories they land in, opened so that
//! nothing outside the layer directory can be reached: `openat2` with
//! RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS, so neither `..` nor a symbolic
//! link (planted by an earlier entry) can lead out.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::UnpackError;

/// A path inside the layer: no `..`, not absolute, no empty or `.` parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryPath {
    parts: Vec<Vec<u8>>,
}

impl EntryPath {
    /// Checks a path from the archive; `None` for the layer root itself (`.`, `./`).
    pub fn parse(raw: &[u8]) -> Result<Option<EntryPath>, UnpackError> {
        let shown = || String::from_utf8_lossy(raw).into_owned();
        if raw.starts_with(b"/") {
            return Err(UnpackError::Unsafe { entry: shown(), reason: "its path is absolute" });
        }
        if raw.contains(&0) {
            return Err(UnpackError::Unsafe { entry: shown(), reason: "its path contains a NUL byte" });
        }
        let mut parts = Vec::new();
        for part in raw.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => return Err(UnpackError::Unsafe { entry: shown(), reason: "its path contains '..'" }),
                part => parts.push(part.to_vec()),
            }
        }
        Ok((!parts.is_empty()).then_some(EntryPath { parts }))
    }

    pub fn name(&self) -> &OsStr {
        OsStr::from_bytes(self.parts.last().expect("an entry path has a part"))
    }

    pub fn parent(&self) -> &[Vec<u8>] {
        &self.parts[..self.parts.len() - 1]
    }

    pub fn relative(&self) -> PathBuf {
        PathBuf::from(OsStr::from_bytes(&self.parts.join(&b'/')))
    }

    pub fn display(&self) -> String {
        String::from_utf8_lossy(&self.parts.join(&b'/')).into_owned()
    }
}

/// Opens directories under the layer root, creating missing parents (as
/// Docker does) and keeping the last one open: archives list a directory's
/// entries together.
#[derive(Debug)]
pub struct Dirs {
    root: OwnedFd,
    root_path: PathBuf,
    last: Option<(Vec<Vec<u8>>, OwnedFd)>,
}

const RESOLVE: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS)
    .union(ResolveFlags::NO_XDEV);

impl Dirs {
    pub fn open(root_path: &Path) -> Result<Dirs, UnpackError> {
        let root = rustix::fs::open(root_path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| UnpackError::Io { entry: root_path.display().to_string(), source: e.into() })?;
        Ok(Dirs { root, root_path: root_path.to_owned(), last: None })
    }

    pub fn root(&self) -> &OwnedFd {
        &self.root
    }

    pub fn root_path(&self) -> &Path {
        &self.root_path
    }

    /// The directory `parts` (relative to the root), created with mode 0755 where missing.
    pub fn get(&mut self, parts: &[Vec<u8>], entry: &EntryPath) -> Result<&OwnedFd, UnpackError> {
        if parts.is_empty() {
            return Ok(&self.root);
        }
        let cached = matches!(&self.last, Some((p, _)) if p.as_slice() == parts);
        if !cached {
            let fd = self.open_or_create(parts, entry)?;
            self.last = Some((parts.to_vec(), fd));
        }
        Ok(&self.last.as_ref().expect("just set").1)
    }

    /// Forgets the cached directory (after an entry replaced or removed something).
    pub fn forget(&mut self) {
        self.last = None;
    }

    /// Opens an existing directory below the root without following any symbolic link.
    pub fn open_beneath(&self, relative: &Path) -> io::Result<OwnedFd> {
        Ok(rustix::fs::openat2(
            &self.root,
            relative,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
            Mode::empty(),
            RESOLVE,
        )?)
    }

    fn open_or_create(&self, parts: &[Vec<u8>], entry: &EntryPath) -> Result<OwnedFd, UnpackError> {
        let relative = PathBuf::from(OsStr::from_bytes(&parts.join(&b'/')));
        match self.open_beneath(&relative) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(resolve_error(entry, e)),
        }
        // Walk down, creating what is missing; each step is resolved beneath the last.
        let mut dir: Option<OwnedFd> = None;
        for part in parts {
            let name = OsStr::from_bytes(part);
            let parent = dir.as_ref().map_or(self.root.as_fd(), |d| d.as_fd());
            match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
                Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                Err(e) => return Err(UnpackError::Io { entry: entry.display(), source: e.into() }),
            }
            let next = rustix::fs::openat2(
                parent,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                Mode::empty(),
                RESOLVE,
            )
            .map_err(|e| resolve_error(entry, e.into()))?;
            dir = Some(next);
        }
        Ok(dir.expect("parts is not empty"))
    }
}

pub fn resolve_error(entry: &EntryPath, error: io::Error) -> UnpackError {
    match rustix::io::Errno::from_io_error(&error) {
        // O_DIRECTORY meets a symlink as ENOTDIR before RESOLVE_NO_SYMLINKS can say ELOOP.
        Some(rustix::io::Errno::LOOP | rustix::io::Errno::NOTDIR) => UnpackError::Unsafe {
            entry: entry.display(),
            reason: "its path passes through a symbolic link or a non-directory",
        },
        Some(rustix::io::Errno::XDEV) => {
            UnpackError::Unsafe { entry: entry.display(), reason: "its path leads outside the layer" }
        }
        _ => UnpackError::Io { entry: entry.display(), source: error },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked() {
        assert_eq!(EntryPath::parse(b"./").unwrap(), None);
        assert_eq!(EntryPath::parse(b"./a//b/").unwrap().unwrap().display(), "a/b");
        for bad in [&b"/etc/passwd"[..], b"../x", b"a/../../x", b"a/.."] {
            assert!(matches!(EntryPath::parse(bad), Err(UnpackError::Unsafe { .. })), "{bad:?}");
        }
    }
}
