use std::collections::BTreeSet;
use std::path::PathBuf;

use oci_spec::runtime::{LinuxNamespaceType, PosixRlimitType, Spec};

use super::*;
use crate::container::cgroup::{CgroupSetup, CgroupVersion};
use crate::container::config::{ContainerConfig, LogConfig};
use crate::container::limits::{Resources, Ulimit};
use crate::container::mounts::{Mount as UserMount, MountSource, Propagation};
use crate::container::options::{NetworkMode, RestartPolicy};
use crate::container::security::{Capabilities, DEFAULT_CAPABILITIES, SecurityOptions};
use crate::store::Root;

fn config() -> ContainerConfig {
    ContainerConfig {
        image: "busybox".into(),
        image_id: "sha256:1".into(),
        layer_dirs: vec!["/layers/1".into()],
        entrypoint: vec![],
        cmd: vec!["sh".into(), "-c".into(), "true".into()],
        env: vec!["PATH=/custom/bin".into(), "A=1".into()],
        working_dir: "/work".into(),
        user: String::new(),
        hostname: "c0ffee".into(),
        tty: false,
        open_stdin: false,
        labels: Default::default(),
        mounts: vec![],
        read_only: false,
        init: false,
        resources: Resources::default(),
        capabilities: Capabilities::default(),
        ulimits: vec![],
        security: SecurityOptions::default(),
        restart: RestartPolicy::No,
        network: NetworkMode::None,
        network_name: None,
        stop_signal: "SIGTERM".into(),
        stop_timeout: 10,
        auto_remove: false,
        log: LogConfig::default(),
        port_bindings: vec![],
    }
}

const V1: CgroupSetup = CgroupSetup { version: CgroupVersion::V1, swap_accounting: true };
const V2: CgroupSetup = CgroupSetup { version: CgroupVersion::V2, swap_accounting: false };

fn spec_with(config: &ContainerConfig, cgroup: CgroupSetup, volume_paths: &[Option<PathBuf>], init: bool) -> Spec {
    let id = ContainerId::parse(&"c0ffee".repeat(10).chars().chain("abcd".chars()).collect::<String>()).unwrap();
    let root = Root::new("/var/lib/berth", "/run/berth");
    let dir = ContainerDir::new(&root, &id);
    let user = ExecUser { uid: 1000, gid: 1000, additional_gids: vec![100], home: "/home/app".into() };
    let caps: BTreeSet<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    let hard = |name: UlimitName| if name == UlimitName::Nofile { 20_000 } else { u64::MAX };
    build(&SpecInputs {
        id: &id,
        rootfs: std::path::Path::new("/run/berth/mnt"),
        config,
        dir: &dir,
        user: &user,
        cgroup,
        capabilities: &caps,
        volume_paths,
        init_binary: init.then(|| PathBuf::from("/usr/bin/tini-static")),
        hard_limit: &hard,
    })
    .unwrap()
}

fn spec(config: &ContainerConfig) -> Spec {
    spec_with(config, V1, &[], false)
}

#[test]
fn process_follows_docker() {
    let spec = spec(&config());
    let process = spec.process().as_ref().unwrap();
    assert_eq!(process.args().as_ref().unwrap(), &["sh", "-c", "true"]);
    assert_eq!(process.cwd(), &PathBuf::from("/work"));
    assert_eq!(
        process.env().as_ref().unwrap(),
        &["PATH=/custom/bin", "HOSTNAME=c0ffee", "A=1", "HOME=/home/app"],
        "the image's PATH replaces the default in place; HOME comes from passwd"
    );
    assert_eq!((process.user().uid(), process.user().gid()), (1000, 1000));
    assert_eq!(process.user().additional_gids().as_ref().unwrap(), &[100]);
    assert_eq!(process.no_new_privileges(), Some(true));
    assert!(!process.terminal().unwrap_or(false));
    let caps = process.capabilities().as_ref().unwrap();
    assert_eq!(caps.bounding().as_ref().unwrap().len(), 14);
    assert!(caps.inheritable().as_ref().unwrap().is_empty());
    assert_eq!(spec.hostname().as_deref(), Some("c0ffee"));
}

#[test]
fn tty_sets_term_and_user_env_wins() {
    let mut config = config();
    config.tty = true;
    config.env = vec!["TERM=vt100".into(), "HOME=/elsewhere".into()];
    let spec = spec(&config);
    let env = spec.process().as_ref().unwrap().env().clone().unwrap();
    assert!(env.contains(&"TERM=vt100".to_string()) && !env.contains(&"TERM=xterm".to_string()));
    assert!(env.contains(&"HOME=/elsewhere".to_string()));
    assert!(env.iter().any(|e| e.starts_with("PATH=/usr/local/sbin")));
    assert!(spec.process().as_ref().unwrap().terminal().unwrap());
}

#[test]
fn rlimits_are_clamped_to_what_berth_may_grant() {
    let mut config = config();
    let rlimits = |spec: &Spec| spec.process().as_ref().unwrap().rlimits().clone().unwrap();
    let nofile = rlimits(&spec(&config));
    assert_eq!(nofile.len(), 1);
    assert_eq!((nofile[0].typ(), nofile[0].soft(), nofile[0].hard()), (PosixRlimitType::RlimitNofile, 20_000, 20_000));

    config.ulimits = vec!["nofile=512:1024".parse::<Ulimit>().unwrap(), "core=-1".parse::<Ulimit>().unwrap()];
    let limits = rlimits(&spec(&config));
    let find = |typ| limits.iter().find(|l| l.typ() == typ).map(|l| (l.soft(), l.hard())).unwrap();
    assert_eq!(find(PosixRlimitType::RlimitNofile), (512, 1024));
    assert_eq!(find(PosixRlimitType::RlimitCore), (u64::MAX, u64::MAX));
}

#[test]
fn namespaces_by_network_mode_and_cgroup_version() {
    let types = |spec: &Spec| -> Vec<(LinuxNamespaceType, Option<PathBuf>)> {
        spec.linux()
            .as_ref()
            .unwrap()
            .namespaces()
            .clone()
            .unwrap()
            .iter()
            .map(|n| (n.typ(), n.path().clone()))
            .collect()
    };
    let none = types(&spec(&config()));
    assert!(none.contains(&(LinuxNamespaceType::Network, None)));
    assert!(!none.iter().any(|(t, _)| *t == LinuxNamespaceType::Cgroup), "v1 hosts share the cgroup namespace");
    for typ in [LinuxNamespaceType::Pid, LinuxNamespaceType::Ipc, LinuxNamespaceType::Uts, LinuxNamespaceType::Mount] {
        assert!(none.contains(&(typ, None)));
    }

    let mut host = config();
    host.network = NetworkMode::Host;
    let host_spec = spec(&host);
    assert!(!types(&host_spec).iter().any(|(t, _)| *t == LinuxNamespaceType::Network));
    assert!(host_spec.linux().as_ref().unwrap().sysctl().is_none(), "no netns sysctls on the host's network");

    let mut joined = config();
    joined.network = NetworkMode::Path("/run/berth/netns/x".into());
    assert!(types(&spec(&joined)).contains(&(LinuxNamespaceType::Network, Some("/run/berth/netns/x".into()))));

    assert!(types(&spec_with(&config(), V2, &[], false)).contains(&(LinuxNamespaceType::Cgroup, None)));
}

#[test]
fn dockers_masked_and_read_only_paths_and_default_mounts() {
    let spec = spec(&config());
    let linux = spec.linux().as_ref().unwrap();
    let masked = linux.masked_paths().clone().unwrap();
    assert!(masked.contains(&"/proc/kcore".to_string()) && masked.contains(&"/proc/keys".to_string()));
    let readonly = linux.readonly_paths().clone().unwrap();
    assert!(readonly.contains(&"/proc/sys".to_string()) && readonly.contains(&"/proc/sysrq-trigger".to_string()));
    let destinations: Vec<PathBuf> = spec.mounts().clone().unwrap().iter().map(|m| m.destination().clone()).collect();
    for path in [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/dev/shm",
        "/dev/mqueue",
        "/etc/hosts",
        "/etc/resolv.conf",
        "/etc/hostname",
    ] {
        assert!(destinations.contains(&PathBuf::from(path)), "{path} is mounted");
    }
    let sys = spec.mounts().clone().unwrap().into_iter().find(|m| m.destination() == &PathBuf::from("/sys")).unwrap();
    assert!(sys.options().as_ref().unwrap().contains(&"ro".to_string()));
    assert!(linux.seccomp().is_some());
    assert_eq!(
        linux.cgroups_path().as_ref().unwrap(),
        &PathBuf::from(format!("/berth/{}", "c0ffee".repeat(10) + "abcd"))
    );
}

#[test]
fn user_mounts_are_ordered_parents_first() {
    let mut config = config();
    config.read_only = true;
    config.mounts = vec![
        UserMount {
            target: "/data/sub".into(),
            read_only: true,
            source: MountSource::Bind { path: "/host/sub".into(), propagation: Propagation::Rprivate },
        },
        UserMount {
            target: "/data".into(),
            read_only: false,
            source: MountSource::Volume { name: "vol".into(), anonymous: false, no_copy: false },
        },
        UserMount {
            target: "/scratch".into(),
            read_only: false,
            source: MountSource::Tmpfs { options: vec!["noexec".into()] },
        },
    ];
    let paths = [None, Some(PathBuf::from("/var/lib/berth/volumes/vol/_data")), None];
    let spec = spec_with(&config, V1, &paths, false);
    let mounts = spec.mounts().clone().unwrap();
    let position = |dest: &str| mounts.iter().position(|m| m.destination() == &PathBuf::from(dest)).unwrap();
    assert!(position("/data") < position("/data/sub"));
    let data = &mounts[position("/data")];
    assert_eq!(data.source().as_ref().unwrap(), &PathBuf::from("/var/lib/berth/volumes/vol/_data"));
    let sub = &mounts[position("/data/sub")];
    assert!(sub.options().as_ref().unwrap().contains(&"ro".to_string()));
    let scratch = &mounts[position("/scratch")];
    assert_eq!(scratch.typ().as_deref(), Some("tmpfs"));
    let hosts = &mounts[position("/etc/hosts")];
    assert!(hosts.options().as_ref().unwrap().contains(&"ro".to_string()), "--read-only covers the /etc files");
    assert!(spec.root().as_ref().unwrap().readonly().unwrap());
}

#[test]
fn init_wraps_the_command() {
    let mut config = config();
    config.init = true;
    let spec = spec_with(&config, V1, &[], true);
    assert_eq!(spec.process().as_ref().unwrap().args().as_ref().unwrap(), &[INIT_PATH, "--", "sh", "-c", "true"]);
    assert!(spec.mounts().clone().unwrap().iter().any(|m| m.destination() == &PathBuf::from(INIT_PATH)));
}

#[test]
fn limits_become_cgroup_resources() {
    let mut config = config();
    config.resources = Resources {
        memory: Some(64 << 20),
        memory_swap: None,
        nano_cpus: Some(500_000_000),
        cpu_shares: Some(512),
        pids_limit: Some(20),
    };
    let resources = spec(&config).linux().as_ref().unwrap().resources().clone().unwrap();
    let memory = resources.memory().as_ref().unwrap();
    assert_eq!((memory.limit(), memory.swap()), (Some(64 << 20), Some(128 << 20)));
    let cpu = resources.cpu().as_ref().unwrap();
    assert_eq!((cpu.shares(), cpu.quota(), cpu.period()), (Some(512), Some(50_000), Some(100_000)));
    assert_eq!(resources.pids().as_ref().unwrap().limit(), 20);
    let devices = resources.devices().as_ref().unwrap();
    assert!(!devices[0].allow(), "devices are denied unless allowed");

    let no_swap = spec_with(&config, V2, &[], false);
    let memory = no_swap.linux().as_ref().unwrap().resources().clone().unwrap().memory().unwrap();
    assert_eq!(memory.swap(), None, "no swap limit where the kernel cannot account swap");
}

#[test]
fn unconfined_drops_the_filter() {
    let mut config = config();
    config.security.seccomp = crate::container::security::Seccomp::Unconfined;
    assert!(spec(&config).linux().as_ref().unwrap().seccomp().is_none());
}
