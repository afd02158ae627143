//! The layout of `--root` (persistent state) and `BERTH_RUN` (runtime files).

use std::path::{Path, PathBuf};

/// The default persistent root, as `/var/lib/docker` is Docker's.
pub const DEFAULT_ROOT: &str = "/var/lib/berth";
/// The default directory for sockets and other files that do not outlive a boot.
pub const DEFAULT_RUN: &str = "/run/berth";

/// Where berth keeps its state. Tests always make a fresh pair of their own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    root: PathBuf,
    run: PathBuf,
}

impl Root {
    pub fn new(root: impl Into<PathBuf>, run: impl Into<PathBuf>) -> Self {
        Root { root: root.into(), run: run.into() }
    }

    /// `BERTH_ROOT` and `BERTH_RUN`, else the defaults.
    pub fn from_env() -> Self {
        let var =
            |name: &str, default: &str| std::env::var_os(name).map_or_else(|| PathBuf::from(default), PathBuf::from);
        Root::new(var("BERTH_ROOT", DEFAULT_ROOT), var("BERTH_RUN", DEFAULT_RUN))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn run(&self) -> &Path {
        &self.run
    }

    /// `<root>/berth.db`: images, tags, containers, networks, leases, volumes, project specs.
    pub fn db(&self) -> PathBuf {
        self.root.join("berth.db")
    }

    /// `<root>/content/sha256/`: blobs as pulled, named by their digest's hex.
    pub fn content(&self) -> PathBuf {
        self.root.join("content").join("sha256")
    }

    /// `<root>/layers/`: one directory per unpacked layer, named by chain ID.
    pub fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// `<root>/containers/`: one directory per container.
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `<root>/volumes/`: named volumes, each with its `_data`.
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// `<root>/tmp/`: work in progress (downloads, unpacking); on the same file
    /// system as the rest, so a finished piece is renamed into place atomically.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_follows_the_design() {
        let root = Root::new("/r", "/run/x");
        assert_eq!(root.db(), Path::new("/r/berth.db"));
        assert_eq!(root.content(), Path::new("/r/content/sha256"));
        assert_eq!(root.layers(), Path::new("/r/layers"));
        assert_eq!(root.containers(), Path::new("/r/containers"));
        assert_eq!(root.volumes(), Path::new("/r/volumes"));
        assert_eq!(root.run(), Path::new("/run/x"));
    }
}
