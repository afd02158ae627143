//! Unpacking tested on archives built here, including hostile ones.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use super::*;

/// An archive under construction; `raw` entries bypass the tar crate's own path checks.
pub(crate) struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    pub(crate) fn new() -> Self {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn header(kind: EntryType, mode: u32, size: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size);
        header.set_mtime(1_600_000_000);
        header.set_uid(0);
        header.set_gid(0);
        header
    }

    fn raw(mut self, name: &str, kind: EntryType, link: Option<&str>, data: &[u8]) -> Self {
        let mut header = Tar::header(kind, 0o644, data.len() as u64);
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(link) = link {
            old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        header.set_cksum();
        self.0.append(&header, data).unwrap();
        self
    }

    pub(crate) fn file(self, name: &str, data: &[u8]) -> Self {
        self.raw(name, EntryType::Regular, None, data)
    }

    pub(crate) fn dir(self, name: &str) -> Self {
        self.raw(name, EntryType::Directory, None, b"")
    }

    pub(crate) fn symlink(self, name: &str, target: &str) -> Self {
        self.raw(name, EntryType::Symlink, Some(target), b"")
    }

    pub(crate) fn link(self, name: &str, target: &str) -> Self {
        self.raw(name, EntryType::Link, Some(target), b"")
    }

    pub(crate) fn bytes(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A layer directory inside a sandbox directory, so escapes can be seen.
fn sandbox() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let layer = dir.path().join("layer");
    std::fs::create_dir(&layer).unwrap();
    (dir, layer)
}

fn entries_outside(sandbox: &Path) -> Vec<String> {
    std::fs::read_dir(sandbox).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn unpacks_files_links_and_metadata() {
    let mut builder = tar::Builder::new(Vec::new());
    let mut header = Tar::header(EntryType::Directory, 0o750, 0);
    header.set_uid(1000);
    header.set_gid(100);
    builder.append_data(&mut header, "app/", &b""[..]).unwrap();
    let mut header = Tar::header(EntryType::Regular, 0o4755, 5);
    header.set_uid(1000);
    header.set_gid(1000);
    builder.append_pax_extensions([("SCHILY.xattr.user.origin", &b"berth"[..]), ("mtime", b"1600000001.25")]).unwrap();
    builder.append_data(&mut header, "app/run", &b"hello"[..]).unwrap();
    let mut header = Tar::header(EntryType::Symlink, 0o777, 0);
    builder.append_link(&mut header, "app/sh", "/bin/busybox").unwrap();
    let mut header = Tar::header(EntryType::Link, 0o644, 0);
    builder.append_link(&mut header, "app/run2", "app/run").unwrap();
    let mut header = Tar::header(EntryType::Fifo, 0o600, 0);
    builder.append_data(&mut header, "app/pipe", &b""[..]).unwrap();
    let mut header = Tar::header(EntryType::Char, 0o666, 0);
    header.set_device_major(1).unwrap();
    header.set_device_minor(3).unwrap();
    builder.append_data(&mut header, "dev/null", &b""[..]).unwrap();
    let bytes = builder.into_inner().unwrap();

    let (_dir, layer) = sandbox();
    let unpacked = unpack(&bytes[..], &layer).unwrap();
    assert_eq!(unpacked.diff_id, Digest::of(&bytes));
    assert_eq!(unpacked.size, 5);

    let app = std::fs::metadata(layer.join("app")).unwrap();
    assert_eq!((app.uid(), app.gid(), app.permissions().mode() & 0o7777), (1000, 100, 0o750));
    assert_eq!(app.mtime(), 1_600_000_000, "directory times are set after their contents");
    let run = std::fs::metadata(layer.join("app/run")).unwrap();
    assert_eq!((run.uid(), run.gid(), run.permissions().mode() & 0o7777), (1000, 1000, 0o4755));
    assert_eq!((run.mtime(), run.mtime_nsec()), (1_600_000_001, 250_000_000));
    assert_eq!(std::fs::read(layer.join("app/run")).unwrap(), b"hello");
    assert_eq!(rustix::fs::getxattr(layer.join("app/run"), "user.origin", &mut [0u8; 16]).unwrap(), 5);
    assert_eq!(std::fs::read_link(layer.join("app/sh")).unwrap(), Path::new("/bin/busybox"));
    assert_eq!(std::fs::metadata(layer.join("app/run2")).unwrap().ino(), run.ino());
    assert!(std::fs::symlink_metadata(layer.join("app/pipe")).unwrap().file_type().is_fifo());
    let null = std::fs::symlink_metadata(layer.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), rustix::fs::makedev(1, 3));
}

#[test]
fn whiteouts_become_overlayfs_whiteouts() {
    let bytes =
        Tar::new().dir("etc/").file("etc/.wh.motd", b"").dir("var/cache/").file("var/cache/.wh..wh..opq", b"").bytes();
    let (_dir, layer) = sandbox();
    unpack(&bytes[..], &layer).unwrap();
    let motd = std::fs::symlink_metadata(layer.join("etc/motd")).unwrap();
    assert!(motd.file_type().is_char_device());
    assert_eq!(motd.rdev(), 0);
    assert!(!layer.join("etc/.wh.motd").exists());
    let mut value = [0u8; 4];
    let n = rustix::fs::getxattr(layer.join("var/cache"), "trusted.overlay.opaque", &mut value).unwrap();
    assert_eq!(&value[..n], b"y");
    assert!(!layer.join("var/cache/.wh..wh..opq").exists());
}

#[test]
fn later_entries_replace_earlier_ones() {
    let bytes =
        Tar::new().file("a", b"first").file("a", b"second").dir("b/").file("b/x", b"x").file("b", b"file").bytes();
    let (_dir, layer) = sandbox();
    unpack(&bytes[..], &layer).unwrap();
    assert_eq!(std::fs::read(layer.join("a")).unwrap(), b"second");
    assert_eq!(std::fs::read(layer.join("b")).unwrap(), b"file");
}

fn refuses(bytes: Vec<u8>, reason_part: &str) {
    let (dir, layer) = sandbox();
    let err = unpack(&bytes[..], &layer).unwrap_err();
    assert!(matches!(err, UnpackError::Unsafe { .. }), "{err}");
    assert!(err.to_string().contains(reason_part), "{err}");
    assert_eq!(entries_outside(dir.path()), vec!["layer".to_owned()], "nothing was written outside the layer");
}

#[test]
fn refuses_dot_dot() {
    refuses(Tar::new().file("../evil", b"x").bytes(), "'..'");
    refuses(Tar::new().file("a/../../evil", b"x").bytes(), "'..'");
}

#[test]
fn refuses_absolute_paths() {
    refuses(Tar::new().file("/tmp/evil", b"x").bytes(), "absolute");
}

#[test]
fn refuses_writing_through_symlinks() {
    refuses(Tar::new().symlink("out", "..").file("out/evil", b"x").bytes(), "symbolic link");
    refuses(Tar::new().symlink("out", "/").file("out/tmp/evil", b"x").bytes(), "symbolic link");
    refuses(Tar::new().dir("d/").symlink("d/up", "../..").file("d/up/evil", b"x").bytes(), "symbolic link");
}

#[test]
fn refuses_hard_links_out() {
    refuses(Tar::new().link("h", "../outside").bytes(), "hard link");
    refuses(Tar::new().link("h", "/etc/passwd").bytes(), "hard link");
    refuses(Tar::new().symlink("s", "/etc").link("h", "s/passwd").bytes(), "symbolic link");
}

#[test]
fn a_truncated_archive_is_an_error() {
    let bytes = Tar::new().file("big", &[7u8; 4096]).bytes();
    let (_dir, layer) = sandbox();
    let err = unpack(&bytes[..1024], &layer).unwrap_err();
    assert!(matches!(err, UnpackError::Tar(_)), "{err}");
}

#[test]
fn empty_numeric_fields_read_as_zero() {
    let mut header = Tar::header(EntryType::Regular, 0o644, 2);
    header.as_old_mut().uid = [0; 8];
    header.as_old_mut().gid = [b' '; 8];
    header.set_path("f").unwrap();
    header.set_cksum();
    let mut builder = tar::Builder::new(Vec::new());
    builder.append(&header, &b"hi"[..]).unwrap();
    let (_dir, layer) = sandbox();
    unpack(&builder.into_inner().unwrap()[..], &layer).unwrap();
    let meta = std::fs::metadata(layer.join("f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
}
