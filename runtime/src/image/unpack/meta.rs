//! An entry's ownership, mode, times and extended attributes, read from its
//! tar (and PAX) headers and applied in the order that keeps them all:
//! owner first (chown clears set-id bits and file capabilities), then mode,
//! then xattrs, then times.

use std::io::Read;
use std::os::fd::AsFd;

use rustix::fs::{AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags};

use super::UnpackError;

/// Owner, permissions, times and xattrs of one entry.
#[derive(Debug, Clone)]
pub struct Meta {
    pub uid: u32,
    pub gid: u32,
    /// Permission bits including set-id and sticky (07777).
    pub mode: u32,
    pub mtime: Timespec,
    pub atime: Timespec,
    pub xattrs: Vec<(String, Vec<u8>)>,
}

impl Meta {
    pub fn read<R: Read>(entry: &mut tar::Entry<'_, R>, name: &str) -> Result<Meta, UnpackError> {
        let bad = |what: &str, e: std::io::Error| UnpackError::Header {
            entry: name.to_owned(),
            reason: format!("{what}: {e}"),
        };
        let header = entry.header();
        let old = header.as_old();
        // Empty numeric fields read as 0, as Go's archive/tar (and so Docker) reads them.
        let lenient = |value: std::io::Result<u64>, raw: &[u8], what: &str| match value {
            Ok(v) => Ok(v),
            Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
            Err(e) => Err(bad(what, e)),
        };
        let id = |value: u64, what: &str| {
            u32::try_from(value)
                .map_err(|_| UnpackError::Header { entry: name.to_owned(), reason: format!("{what} out of range") })
        };
        let uid = id(lenient(header.uid(), &old.uid, "uid")?, "uid")?;
        let gid = id(lenient(header.gid(), &old.gid, "gid")?, "gid")?;
        let mode = lenient(header.mode().map(u64::from), &old.mode, "mode")? as u32 & 0o7777;
        let seconds = i64::try_from(lenient(header.mtime(), &old.mtime, "mtime")?).unwrap_or(i64::MAX);
        let mut mtime = Timespec { tv_sec: seconds, tv_nsec: 0 };
        let mut atime = None;
        let mut xattrs = Vec::new();
        if let Some(extensions) = entry.pax_extensions().map_err(|e| bad("PAX header", e))? {
            for extension in extensions {
                let extension = extension.map_err(|e| bad("PAX header", e))?;
                let Ok(key) = extension.key() else { continue };
                if let Some(attr) = key.strip_prefix("SCHILY.xattr.") {
                    xattrs.push((attr.to_owned(), extension.value_bytes().to_vec()));
                } else if key == "mtime" {
                    mtime = parse_pax_time(extension.value_bytes()).unwrap_or(mtime);
                } else if key == "atime" {
                    atime = parse_pax_time(extension.value_bytes());
                }
            }
        }
        Ok(Meta { uid, gid, mode, mtime, atime: atime.unwrap_or(mtime), xattrs })
    }

    fn timestamps(&self) -> Timestamps {
        Timestamps { last_access: self.atime, last_modification: self.mtime }
    }

    /// Applies everything to an open file or directory.
    pub fn apply_fd(&self, fd: impl AsFd, entry: &str) -> Result<(), UnpackError> {
        let io = |e: rustix::io::Errno| UnpackError::Io { entry: entry.to_owned(), source: e.into() };
        rustix::fs::fchown(&fd, Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid))).map_err(io)?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(self.mode)).map_err(io)?;
        for (name, value) in &self.xattrs {
            rustix::fs::fsetxattr(&fd, name.as_str(), value, XattrFlags::empty()).map_err(io)?;
        }
        rustix::fs::futimens(&fd, &self.timestamps()).map_err(io)
    }

    /// Owner and mode only; times are set later (directories: after their contents).
    pub fn apply_owner_fd(&self, fd: impl AsFd, entry: &str) -> Result<(), UnpackError> {
        let io = |e: rustix::io::Errno| UnpackError::Io { entry: entry.to_owned(), source: e.into() };
        rustix::fs::fchown(&fd, Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid))).map_err(io)?;
        for (name, value) in &self.xattrs {
            rustix::fs::fsetxattr(&fd, name.as_str(), value, XattrFlags::empty()).map_err(io)?;
        }
        Ok(())
    }

    /// Mode and times of a directory, once everything inside it is written.
    pub fn apply_dir_final(&self, fd: impl AsFd, entry: &str) -> Result<(), UnpackError> {
        let io = |e: rustix::io::Errno| UnpackError::Io { entry: entry.to_owned(), source: e.into() };
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(self.mode)).map_err(io)?;
        rustix::fs::futimens(&fd, &self.timestamps()).map_err(io)
    }

    /// Applies everything to `name` in `dir` without following it; for symlinks
    /// and device nodes, which cannot be opened safely. `full` is the same file
    /// by path (its parents were resolved without symlinks), for xattrs.
    pub fn apply_at(
        &self,
        dir: impl AsFd,
        name: &std::ffi::OsStr,
        full: &std::path::Path,
        is_symlink: bool,
        entry: &str,
    ) -> Result<(), UnpackError> {
        let io = |e: rustix::io::Errno| UnpackError::Io { entry: entry.to_owned(), source: e.into() };
        rustix::fs::chownat(
            &dir,
            name,
            Some(Uid::from_raw(self.uid)),
            Some(Gid::from_raw(self.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(io)?;
        if !is_symlink {
            rustix::fs::chmodat(&dir, name, Mode::from_raw_mode(self.mode), AtFlags::empty()).map_err(io)?;
        }
        for (attr, value) in &self.xattrs {
            rustix::fs::lsetxattr(full, attr.as_str(), value, XattrFlags::empty()).map_err(io)?;
        }
        rustix::fs::utimensat(&dir, name, &self.timestamps(), AtFlags::SYMLINK_NOFOLLOW).map_err(io)
    }
}

/// `1700000000.123456789` (PAX times have optional fractional seconds).
fn parse_pax_time(value: &[u8]) -> Option<Timespec> {
    let text = std::str::from_utf8(value).ok()?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let tv_sec = secs.parse::<i64>().ok()?;
    let digits: String = frac.chars().take(9).collect();
    let tv_nsec = if digits.is_empty() { 0 } else { format!("{digits:0<9}").parse::<i64>().ok()? };
    Some(Timespec { tv_sec, tv_nsec })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times() {
        let t = parse_pax_time(b"1700000000.5").unwrap();
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 500_000_000));
        assert_eq!(parse_pax_time(b"12").unwrap().tv_sec, 12);
        assert!(parse_pax_time(b"x").is_none());
    }
}
