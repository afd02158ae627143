//! The container's root file system: an overlay of the image's shared layers
//! with the container's own upper directory, and path resolution that stays
//! inside a root (an image's symlinks must not lead berth out of it).

use std::ffi::OsString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Component, Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use rustix::fs::{Mode, OFlags, ResolveFlags};

/// The kernel takes mount options up to one page.
const MAX_MOUNT_DATA: usize = 4000;

/// Mounts the overlay at `target`. `lower` is lowest first, as images list layers.
/// If the absolute option string would not fit in a page, the paths are given
/// relative to their common parent after a `chdir` there, so the caller must be
/// single-threaded (the monitor is).
pub fn mount_overlay(lower: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> io::Result<()> {
    if lower.is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an overlay needs at least one lower layer"));
    }
    let options = |base: Option<&Path>| -> Option<String> {
        let show = |path: &Path| -> Option<String> {
            let shown = match base {
                Some(base) => path.strip_prefix(base).ok()?.to_str()?.to_owned(),
                None => path.to_str()?.to_owned(),
            };
            (!shown.contains([',', ':', '\\'])).then_some(shown)
        };
        let lowers: Option<Vec<String>> = lower.iter().rev().map(|dir| show(dir)).collect();
        Some(format!("lowerdir={},upperdir={},workdir={}", lowers?.join(":"), show(upper)?, show(work)?))
    };
    let mount = |data: &str| {
        nix::mount::mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(data))
            .map_err(io::Error::from)
    };
    if let Some(data) = options(None).filter(|data| data.len() <= MAX_MOUNT_DATA) {
        return mount(&data);
    }
    let base = common_parent(lower.iter().map(PathBuf::as_path).chain([upper, work]))
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "layer paths share no parent"))?;
    let data = options(Some(&base))
        .filter(|data| data.len() <= MAX_MOUNT_DATA)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "too many layers for one overlay mount"))?;
    let previous = std::env::current_dir()?;
    std::env::set_current_dir(&base)?;
    let result = mount(&data);
    std::env::set_current_dir(previous)?;
    result
}

fn common_parent<'a>(paths: impl Iterator<Item = &'a Path>) -> Option<PathBuf> {
    let mut common: Option<PathBuf> = None;
    for path in paths {
        let parent = path.parent()?;
        common = Some(match common {
            None => parent.to_path_buf(),
            Some(common) => common.ancestors().find(|a| parent.starts_with(a))?.to_path_buf(),
        });
    }
    common
}

/// Detaches whatever is mounted at `target`; nothing mounted is not an error.
pub fn unmount(target: &Path) -> io::Result<()> {
    match nix::mount::umount2(target, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) | Err(nix::errno::Errno::ENOENT) => Ok(()),
        Err(errno) => Err(errno.into()),
    }
}

/// `path` relative to `/`, for lookups under a root.
fn relative(path: &Path) -> PathBuf {
    path.components().filter(|c| matches!(c, Component::Normal(_))).collect()
}

/// Opens `path` as if `root` were `/`: `..` and symlinks cannot leave it.
pub fn open_in_root(root: &OwnedFd, path: &Path, flags: OFlags) -> io::Result<OwnedFd> {
    let relative = relative(path);
    let relative = if relative.as_os_str().is_empty() { PathBuf::from(".") } else { relative };
    Ok(rustix::fs::openat2(root, &relative, flags | OFlags::CLOEXEC, Mode::empty(), ResolveFlags::IN_ROOT)?)
}

/// Opens a directory to serve as a root for [`open_in_root`].
pub fn open_root(path: &Path) -> io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// Reads a file under `root`; `None` if it does not exist.
pub fn read_in_root(root: &OwnedFd, path: &Path) -> io::Result<Option<String>> {
    match open_in_root(root, path, OFlags::RDONLY) {
        Ok(fd) => {
            let mut text = String::new();
            io::Read::read_to_string(&mut std::fs::File::from(fd), &mut text)?;
            Ok(Some(text))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// `mkdir -p` under `root`, each step resolved inside it. New directories get `mode`.
pub fn mkdir_all_in_root(root: &OwnedFd, path: &Path, mode: u32) -> io::Result<()> {
    let mut done = PathBuf::new();
    for component in relative(path).components() {
        let parent = open_in_root(root, &done, OFlags::PATH | OFlags::DIRECTORY)?;
        match rustix::fs::mkdirat(&parent, component.as_os_str(), Mode::from_raw_mode(mode)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => {}
            Err(errno) => return Err(errno.into()),
        }
        done.push(component);
    }
    // The last step must be a directory (not, say, a file or a dangling link).
    open_in_root(root, &done, OFlags::PATH | OFlags::DIRECTORY).map(drop)
}

/// The target of a symlink, as bytes.
pub fn link_target(target: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(target))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_stay_in_the_root() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/passwd"), "inside").unwrap();
        std::fs::write(tmp.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("link")).unwrap();
        std::os::unix::fs::symlink("../../secret", root.join("etc/escape")).unwrap();
        let fd = open_root(&root).unwrap();
        assert_eq!(read_in_root(&fd, Path::new("/link/passwd")).unwrap().as_deref(), Some("inside"));
        assert_eq!(read_in_root(&fd, Path::new("/etc/escape")).unwrap(), None, "../.. stops at the root");
        assert_eq!(read_in_root(&fd, Path::new("/../secret")).unwrap(), None);

        mkdir_all_in_root(&fd, Path::new("/link/new/deeper"), 0o755).unwrap();
        assert!(root.join("etc/new/deeper").is_dir(), "created through the in-root symlink");
        std::fs::write(root.join("file"), "").unwrap();
        assert!(mkdir_all_in_root(&fd, Path::new("/file/sub"), 0o755).is_err());
    }

    #[test]
    fn common_parent_of_layers() {
        let paths = [Path::new("/r/layers/a"), Path::new("/r/layers/b"), Path::new("/r/containers/c/upper")];
        assert_eq!(common_parent(paths.into_iter()).unwrap(), Path::new("/r"));
    }
}
