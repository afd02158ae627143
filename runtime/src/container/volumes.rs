//! Volumes: `<root>/volumes/<name>/_data`, created on first use and, like
//! Docker, filled from the image's content at the mount point when new.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::OFlags;

use super::fscopy::{self, Owner};
use super::rootfs::open_in_root;
use crate::store::Root;

/// Where a volume's data lives.
pub fn data_dir(root: &Root, name: &str) -> PathBuf {
    root.volumes().join(name).join("_data")
}

/// A fresh name for an anonymous volume: 64 hex digits, as Docker's.
pub fn anonymous_name() -> io::Result<String> {
    Ok(super::id::ContainerId::generate()?.to_string())
}

fn is_empty(dir: &Path) -> io::Result<bool> {
    Ok(std::fs::read_dir(dir)?.next().is_none())
}

/// Makes sure the volume exists and returns its data directory. An empty
/// volume is filled from `fill_from` (the container's root and the mount
/// point), unless the image has nothing there.
pub fn prepare(root: &Root, name: &str, fill_from: Option<(&OwnedFd, &Path)>) -> io::Result<PathBuf> {
    let data = data_dir(root, name);
    std::fs::create_dir_all(&data)?;
    if let Some((rootfs, target)) = fill_from
        && is_empty(&data)?
    {
        let source = match open_in_root(rootfs, target, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(source) => source,
            Err(e) if matches!(e.raw_os_error(), Some(nix::libc::ENOENT) | Some(nix::libc::ENOTDIR)) => {
                return Ok(data);
            }
            Err(e) => return Err(e),
        };
        let destination: OwnedFd = std::fs::File::open(&data)?.into();
        fscopy::copy_contents(source.as_fd(), destination.as_fd(), Owner::Preserve)?;
        fscopy::copy_metadata(source.as_fd(), &destination, Owner::Preserve)?;
    }
    Ok(data)
}

/// Removes a volume and its data.
pub fn remove(root: &Root, name: &str) -> io::Result<()> {
    match std::fs::remove_dir_all(root.volumes().join(name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::container::rootfs::open_root;

    #[test]
    fn new_volumes_are_filled_from_the_image_once() {
        let tmp = tempfile::tempdir().unwrap();
        let root = Root::new(tmp.path().join("root"), tmp.path().join("run"));
        let rootfs = tmp.path().join("rootfs");
        std::fs::create_dir_all(rootfs.join("data/nested")).unwrap();
        std::fs::write(rootfs.join("data/seed"), "from the image").unwrap();
        std::fs::set_permissions(rootfs.join("data"), std::fs::Permissions::from_mode(0o750)).unwrap();
        let fd = open_root(&rootfs).unwrap();

        let data = prepare(&root, "vol", Some((&fd, Path::new("/data")))).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("seed")).unwrap(), "from the image");
        assert!(data.join("nested").is_dir());
        assert_eq!(std::fs::metadata(&data).unwrap().permissions().mode() & 0o777, 0o750);

        std::fs::write(data.join("seed"), "changed").unwrap();
        prepare(&root, "vol", Some((&fd, Path::new("/data")))).unwrap();
        assert_eq!(std::fs::read_to_string(data.join("seed")).unwrap(), "changed", "a used volume is not refilled");

        let empty = prepare(&root, "other", Some((&fd, Path::new("/missing")))).unwrap();
        assert!(is_empty(&empty).unwrap());
        remove(&root, "vol").unwrap();
        assert!(!root.volumes().join("vol").exists());
        remove(&root, "vol").unwrap();
    }
}
