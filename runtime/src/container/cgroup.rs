//! The container's cgroup as berth reads it (stats, processes, OOM kills):
//! cgroup v2 (unified) or v1 (legacy and hybrid hosts, whose controllers are
//! all v1), detected at run time. libcontainer creates and removes the cgroup.

use std::io;
use std::path::{Path, PathBuf};

use super::id::ContainerId;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// `CGROUP2_SUPER_MAGIC` from statfs(2).
const CGROUP2_MAGIC: i64 = 0x6367_7270;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    /// Controllers in v1 hierarchies, possibly with an empty v2 tree beside them (hybrid).
    V1,
    /// One cgroup v2 hierarchy at /sys/fs/cgroup.
    V2,
}

/// How this machine's cgroups are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CgroupSetup {
    pub version: CgroupVersion,
    /// Whether memory+swap can be limited (`memory.memsw.*` or `memory.swap.max`).
    pub swap_accounting: bool,
}

impl CgroupSetup {
    pub fn is_unified(&self) -> bool {
        self.version == CgroupVersion::V2
    }
}

/// This machine's cgroups, read once by whoever needs them: reading the mount
/// table costs tens of microseconds per hundred mounts, and a busy host has
/// hundreds (every container adds some).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    pub setup: CgroupSetup,
    /// v1: where the hierarchy of each controller berth knows is mounted.
    v1_mounts: Vec<(&'static str, PathBuf)>,
}

impl Cgroups {
    pub fn detect() -> io::Result<Cgroups> {
        let stat = nix::sys::statfs::statfs(CGROUP_ROOT)?;
        if stat.filesystem_type().0 as i64 == CGROUP2_MAGIC {
            // The root cgroup has no memory files: look at this process's own cgroup.
            let own = std::fs::read_to_string("/proc/self/cgroup")?;
            let own = own.lines().find_map(|line| line.strip_prefix("0::")).unwrap_or("/");
            let swap_accounting =
                Path::new(CGROUP_ROOT).join(own.trim_start_matches('/')).join("memory.swap.max").exists();
            let setup = CgroupSetup { version: CgroupVersion::V2, swap_accounting };
            return Ok(Cgroups { setup, v1_mounts: Vec::new() });
        }
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
        let v1_mounts: Vec<(&'static str, PathBuf)> = CONTROLLERS
            .iter()
            .filter_map(|&controller| Some((controller, v1_mount(&mountinfo, controller)?)))
            .collect();
        let swap_accounting = v1_mounts
            .iter()
            .any(|(controller, mount)| *controller == "memory" && mount.join("memory.memsw.limit_in_bytes").exists());
        Ok(Cgroups { setup: CgroupSetup { version: CgroupVersion::V1, swap_accounting }, v1_mounts })
    }
}

/// Where the v1 hierarchy carrying `controller` is mounted, from /proc/self/mountinfo.
fn v1_mount(mountinfo: &str, controller: &str) -> Option<PathBuf> {
    mountinfo.lines().find_map(|line| {
        let (mount, fs) = line.split_once(" - ")?;
        let mut fs_fields = fs.split_whitespace();
        if fs_fields.next()? != "cgroup" {
            return None;
        }
        let options = fs_fields.nth(1)?;
        let mount_point = mount.split_whitespace().nth(4)?;
        options.split(',').any(|o| o == controller).then(|| PathBuf::from(mount_point))
    })
}

/// One cgroup hierarchy mounted here.
struct Hierarchy {
    mount_point: PathBuf,
    /// How /proc/self/cgroup names it: empty for cgroup v2, else its
    /// controllers and `name=` options, sorted and comma-joined.
    key: String,
}

/// The cgroup hierarchies (v1 and v2) mounted here.
fn hierarchies() -> io::Result<Vec<Hierarchy>> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")?;
    Ok(mountinfo
        .lines()
        .filter_map(|line| {
            let (mount, fs) = line.split_once(" - ")?;
            let mut fs_fields = fs.split_whitespace();
            let fs_type = fs_fields.next()?;
            let options = fs_fields.nth(1).unwrap_or_default();
            let mount_point = mount.split_whitespace().nth(4)?;
            let mut key: Vec<&str> = match fs_type {
                "cgroup2" => Vec::new(),
                "cgroup" => options.split(',').filter(|o| CONTROLLERS.contains(o) || o.starts_with("name=")).collect(),
                _ => return None,
            };
            key.sort_unstable();
            Some(Hierarchy { mount_point: PathBuf::from(mount_point), key: key.join(",") })
        })
        .collect())
}

/// This process's cgroup in the hierarchy /proc/self/cgroup names `key`.
fn own_cgroup<'a>(proc_self_cgroup: &'a str, key: &str) -> Option<&'a str> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        let mut names: Vec<&str> = controllers.split(',').filter(|c| !c.is_empty()).collect();
        names.sort_unstable();
        (names.join(",") == key).then_some(path)
    })
}

/// The v1 controllers the runtime knows.
const CONTROLLERS: [&str; 12] = [
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "hugetlb",
    "perf_event",
    "net_cls",
    "net_prio",
];

/// The `cgroup.procs` file of this process's own cgroup in one of the
/// hierarchies mounted here (writing our PID to it moves us nowhere).
pub(crate) fn own_procs_file() -> Option<PathBuf> {
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    hierarchies().ok()?.into_iter().find_map(|hierarchy| {
        let path = own_cgroup(&own, &hierarchy.key)?;
        Some(hierarchy.mount_point.join(path.trim_start_matches('/')).join("cgroup.procs"))
    })
}

/// The cgroup monitors live in, below each hierarchy's root.
const MONITORS: &str = "/berth/monitors";

/// Moves this process (the monitor spawner, whose forks inherit it) into
/// `berth/monitors` of every hierarchy, out of the cgroup of whoever started
/// it: a service manager that stops the starter's cgroup (a CLI session, the
/// daemon's unit) does not take the monitors, and so the containers, with it.
/// Best effort: a hierarchy that refuses is skipped. A hierarchy where the
/// process is already there is left alone: every move waits for an RCU grace
/// period (7–20 ms on these machines).
pub fn leave_starters_cgroup() {
    let Ok(hierarchies) = hierarchies() else { return };
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let pid = std::process::id().to_string();
    for hierarchy in hierarchies {
        if own_cgroup(&own, &hierarchy.key) == Some(MONITORS) {
            continue;
        }
        let hierarchy = hierarchy.mount_point;
        let dir = hierarchy.join(MONITORS.trim_start_matches('/'));
        let moved = std::fs::create_dir_all(&dir)
            .and_then(|()| inherit_cpuset(&hierarchy, &[hierarchy.join("berth"), dir.clone()]))
            .and_then(|()| std::fs::write(dir.join("cgroup.procs"), &pid));
        if let Err(e) = moved {
            tracing::debug!(cgroup = %dir.display(), error = %e, "monitor stays in its starter's cgroup here");
        }
    }
}

/// A new v1 cpuset cgroup takes no task until it has CPUs and memory nodes:
/// give it its hierarchy's.
fn inherit_cpuset(hierarchy: &Path, dirs: &[PathBuf]) -> io::Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let Ok(all) = std::fs::read_to_string(hierarchy.join(file)) else { return Ok(()) };
        for dir in dirs {
            if std::fs::read_to_string(dir.join(file))?.trim().is_empty() {
                std::fs::write(dir.join(file), all.trim())?;
            }
        }
    }
    Ok(())
}

/// A container's cgroup directories.
#[derive(Debug, Clone)]
pub struct ContainerCgroup {
    setup: CgroupSetup,
    /// v2: the one directory. v1: one per controller berth reads.
    memory: Option<PathBuf>,
    cpu: Option<PathBuf>,
    pids: Option<PathBuf>,
    blkio: Option<PathBuf>,
    /// v2: the one directory (`cgroup.freeze`); v1: the freezer controller's (`freezer.state`).
    freezer: Option<PathBuf>,
    /// Every directory the container's cgroup has (for leak checks).
    all: Vec<PathBuf>,
}

/// Memory use as `stats` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryUsage {
    /// Bytes in use, minus inactive page cache (as the Docker CLI computes it).
    pub usage: u64,
    /// The limit; `None` when unlimited.
    pub limit: Option<u64>,
}

fn read_u64(path: &Path) -> io::Result<u64> {
    let text = std::fs::read_to_string(path)?;
    text.trim().parse().map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {text:?}", path.display())))
}

/// `key value` lines (memory.stat, memory.events, cpu.stat, memory.oom_control).
fn keyed(path: &Path, key: &str) -> io::Result<Option<u64>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    }))
}

impl Cgroups {
    /// The cgroup of container `id` (whether or not it exists now).
    pub fn container(&self, id: &ContainerId) -> ContainerCgroup {
        let relative = super::spec::cgroup_path(id);
        let relative = relative.strip_prefix("/").unwrap_or(&relative).to_path_buf();
        let setup = self.setup;
        match setup.version {
            CgroupVersion::V2 => {
                let dir = Path::new(CGROUP_ROOT).join(&relative);
                ContainerCgroup {
                    setup,
                    memory: Some(dir.clone()),
                    cpu: Some(dir.clone()),
                    pids: Some(dir.clone()),
                    blkio: Some(dir.clone()),
                    freezer: Some(dir.clone()),
                    all: vec![dir],
                }
            }
            CgroupVersion::V1 => {
                let at = |controller: &str| {
                    self.v1_mounts.iter().find(|(c, _)| *c == controller).map(|(_, mount)| mount.join(&relative))
                };
                let mut all: Vec<PathBuf> = Vec::new();
                for (_, mount) in &self.v1_mounts {
                    let dir = mount.join(&relative);
                    if !all.contains(&dir) {
                        all.push(dir);
                    }
                }
                ContainerCgroup {
                    setup,
                    memory: at("memory"),
                    cpu: at("cpuacct"),
                    pids: at("pids"),
                    blkio: at("blkio"),
                    freezer: at("freezer"),
                    all,
                }
            }
        }
    }
}

impl ContainerCgroup {
    pub fn setup(&self) -> CgroupSetup {
        self.setup
    }

    /// Where the freezer's files are (none on a v1 host without the freezer controller).
    pub fn freezer_dir(&self) -> Option<&Path> {
        self.freezer.as_deref()
    }

    /// The directories that exist now.
    pub fn existing_dirs(&self) -> Vec<PathBuf> {
        self.all.iter().filter(|dir| dir.exists()).cloned().collect()
    }

    /// Host PIDs of every process in the container.
    pub fn pids(&self) -> io::Result<Vec<i32>> {
        let dir = self.pids.as_ref().or(self.memory.as_ref()).ok_or_else(|| io::Error::other("no pids cgroup"))?;
        let text = std::fs::read_to_string(dir.join("cgroup.procs"))?;
        Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
    }

    pub fn memory(&self) -> io::Result<MemoryUsage> {
        let Some(dir) = &self.memory else { return Ok(MemoryUsage::default()) };
        let (usage, limit, inactive) = match self.setup.version {
            CgroupVersion::V2 => {
                let limit = std::fs::read_to_string(dir.join("memory.max"))?;
                let limit = limit.trim().parse().ok();
                (read_u64(&dir.join("memory.current"))?, limit, keyed(&dir.join("memory.stat"), "inactive_file")?)
            }
            CgroupVersion::V1 => {
                let limit = read_u64(&dir.join("memory.limit_in_bytes"))?;
                // v1 reports "unlimited" as a huge page-aligned number.
                let limit = (limit < i64::MAX as u64 / 2).then_some(limit);
                (
                    read_u64(&dir.join("memory.usage_in_bytes"))?,
                    limit,
                    keyed(&dir.join("memory.stat"), "total_inactive_file")?,
                )
            }
        };
        Ok(MemoryUsage { usage: usage.saturating_sub(inactive.unwrap_or(0)), limit })
    }

    /// CPU time used by all the container's processes, in nanoseconds.
    pub fn cpu_usage_ns(&self) -> io::Result<u64> {
        let Some(dir) = &self.cpu else { return Ok(0) };
        match self.setup.version {
            CgroupVersion::V2 => Ok(keyed(&dir.join("cpu.stat"), "usage_usec")?.unwrap_or(0) * 1000),
            CgroupVersion::V1 => read_u64(&dir.join("cpuacct.usage")),
        }
    }

    /// Number of tasks.
    pub fn pids_current(&self) -> io::Result<u64> {
        match &self.pids {
            Some(dir) => read_u64(&dir.join("pids.current")),
            None => Ok(self.pids()?.len() as u64),
        }
    }

    /// How many times the kernel's OOM killer killed a process of the container.
    pub fn oom_kills(&self) -> io::Result<u64> {
        let Some(dir) = &self.memory else { return Ok(0) };
        let value = match self.setup.version {
            CgroupVersion::V2 => keyed(&dir.join("memory.events"), "oom_kill")?,
            CgroupVersion::V1 => keyed(&dir.join("memory.oom_control"), "oom_kill")?,
        };
        Ok(value.unwrap_or(0))
    }

    /// Bytes read and written on block devices.
    pub fn block_io(&self) -> io::Result<(u64, u64)> {
        let Some(dir) = &self.blkio else { return Ok((0, 0)) };
        let path = match self.setup.version {
            CgroupVersion::V2 => dir.join("io.stat"),
            CgroupVersion::V1 => dir.join("blkio.throttle.io_service_bytes"),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, 0)),
            Err(e) => return Err(e),
        };
        let mut totals = (0u64, 0u64);
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match self.setup.version {
                // "8:0 rbytes=1 wbytes=2 rios=..."
                CgroupVersion::V2 => {
                    for field in &fields {
                        if let Some(value) = field.strip_prefix("rbytes=") {
                            totals.0 += value.parse().unwrap_or(0);
                        } else if let Some(value) = field.strip_prefix("wbytes=") {
                            totals.1 += value.parse().unwrap_or(0);
                        }
                    }
                }
                // "8:0 Read 1" / "8:0 Write 2" / "Total 3"
                CgroupVersion::V1 => match fields.as_slice() {
                    [_, "Read", value] => totals.0 += value.parse().unwrap_or(0),
                    [_, "Write", value] => totals.1 += value.parse().unwrap_or(0),
                    _ => {}
                },
            }
        }
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_machine_has_a_known_setup() {
        let id = ContainerId::generate().unwrap();
        let cgroup = Cgroups::detect().unwrap().container(&id);
        assert!(!cgroup.all.is_empty());
        assert!(cgroup.all.iter().all(|dir| dir.ends_with(format!("berth/{id}"))));
        assert!(cgroup.existing_dirs().is_empty());
    }

    #[test]
    fn own_cgroup_is_found_by_controllers_in_any_order() {
        let text = "12:cpu,cpuacct:/a\n9:name=systemd:/berth/monitors\n4:memory:/m\n0::/unified\n";
        assert_eq!(own_cgroup(text, "cpu,cpuacct"), Some("/a"));
        assert_eq!(own_cgroup(text, "name=systemd"), Some("/berth/monitors"));
        assert_eq!(own_cgroup(text, "memory"), Some("/m"));
        assert_eq!(own_cgroup(text, ""), Some("/unified"));
        assert_eq!(own_cgroup(text, "pids"), None);
    }

    #[test]
    fn every_hierarchy_of_this_machine_has_a_line_in_proc_self_cgroup() {
        let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let hierarchies = hierarchies().unwrap();
        assert!(!hierarchies.is_empty());
        for hierarchy in hierarchies {
            assert!(
                own_cgroup(&own, &hierarchy.key).is_some(),
                "{} ({:?}) in {own}",
                hierarchy.mount_point.display(),
                hierarchy.key
            );
        }
    }

    #[test]
    fn keyed_files_parse() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.events");
        std::fs::write(&path, "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n").unwrap();
        assert_eq!(keyed(&path, "oom_kill").unwrap(), Some(2));
        assert_eq!(keyed(&path, "absent").unwrap(), None);
    }
}
