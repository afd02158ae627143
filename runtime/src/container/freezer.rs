//! The freezer behind `pause` and `unpause`: cgroup v1's `freezer.state`
//! (`FROZEN`/`THAWED`, `FREEZING` while the kernel is at it) or cgroup v2's
//! `cgroup.freeze` (its outcome in `cgroup.events`: `frozen 1`), whichever the
//! host has (detected at run time). A request returns once the kernel reports
//! the state reached, as runc's does.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cgroup::{CgroupVersion, ContainerCgroup};

/// How long the kernel may take to freeze or thaw every process.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(5);
const SETTLE_POLL: Duration = Duration::from_millis(1);

#[derive(Debug, Clone)]
pub struct Freezer {
    version: CgroupVersion,
    dir: PathBuf,
}

impl Freezer {
    pub fn of(cgroup: &ContainerCgroup) -> io::Result<Freezer> {
        let dir = cgroup
            .freezer_dir()
            .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "this host has no freezer cgroup controller"))?;
        Ok(Freezer { version: cgroup.setup().version, dir: dir.to_path_buf() })
    }

    /// Freezes every process of the cgroup; undone if the kernel does not get there.
    pub fn freeze(&self) -> io::Result<()> {
        if let Err(error) = self.set(true) {
            let _ = self.set(false);
            return Err(error);
        }
        Ok(())
    }

    pub fn thaw(&self) -> io::Result<()> {
        self.set(false)
    }

    /// Whether the kernel reports the cgroup frozen (v1 `FREEZING` is not yet).
    pub fn is_frozen(&self) -> io::Result<bool> {
        let (file, parse): (&str, fn(&str) -> Option<bool>) = match self.version {
            CgroupVersion::V1 => ("freezer.state", v1_frozen),
            CgroupVersion::V2 => ("cgroup.events", v2_frozen),
        };
        let path = self.dir.join(file);
        let text = std::fs::read_to_string(&path)?;
        parse(&text).ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{}: unexpected {:?}", path.display(), text.trim()))
        })
    }

    /// Asks for the state (again and again: a v1 freeze can stall in
    /// `FREEZING` while processes fork) until the kernel reports it.
    fn set(&self, frozen: bool) -> io::Result<()> {
        let (file, value) = match (self.version, frozen) {
            (CgroupVersion::V1, true) => ("freezer.state", "FROZEN"),
            (CgroupVersion::V1, false) => ("freezer.state", "THAWED"),
            (CgroupVersion::V2, true) => ("cgroup.freeze", "1"),
            (CgroupVersion::V2, false) => ("cgroup.freeze", "0"),
        };
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            write(&self.dir.join(file), value)?;
            if self.is_frozen()? == frozen {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the processes of {} did not {} within {} s",
                        self.dir.display(),
                        if frozen { "freeze" } else { "thaw" },
                        SETTLE_TIMEOUT.as_secs()
                    ),
                ));
            }
            std::thread::sleep(SETTLE_POLL);
        }
    }
}

fn write(path: &Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// `freezer.state`: `FROZEN`, `THAWED`, or `FREEZING` (on the way: not frozen yet).
fn v1_frozen(text: &str) -> Option<bool> {
    match text.trim() {
        "FROZEN" => Some(true),
        "THAWED" | "FREEZING" => Some(false),
        _ => None,
    }
}

/// `cgroup.events`: `populated 1\nfrozen 0\n`.
fn v2_frozen(text: &str) -> Option<bool> {
    text.lines().find_map(|line| match line.trim().strip_prefix("frozen ")? {
        "1" => Some(true),
        "0" => Some(false),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_report_their_state() {
        assert_eq!(v1_frozen("FROZEN\n"), Some(true));
        assert_eq!(v1_frozen("FREEZING\n"), Some(false));
        assert_eq!(v1_frozen("THAWED\n"), Some(false));
        assert_eq!(v1_frozen("SLEEPY\n"), None);
        assert_eq!(v2_frozen("populated 1\nfrozen 1\n"), Some(true));
        assert_eq!(v2_frozen("populated 0\nfrozen 0\n"), Some(false));
        assert_eq!(v2_frozen("populated 1\n"), None);
    }

    #[test]
    fn a_v2_freezer_is_asked_and_read_in_its_files() {
        // A directory standing in for the cgroup; its `cgroup.events` already says frozen.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cgroup.events"), "populated 1\nfrozen 1\n").unwrap();
        let freezer = Freezer { version: CgroupVersion::V2, dir: dir.path().to_path_buf() };
        freezer.freeze().unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("cgroup.freeze")).unwrap(), "1");
        assert!(freezer.is_frozen().unwrap());
    }
}
