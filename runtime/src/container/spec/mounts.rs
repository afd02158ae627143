//! The mounts of a container: Docker's defaults (/proc, /dev, /sys, ...), the
//! /etc files berth writes, `--init`, and the user's volumes and tmpfs.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{Mount, MountBuilder};

use super::{SpecError, SpecInputs};
use crate::container::mounts::MountSource;

/// Where `--init`'s binary appears in the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Hidden from the container (Docker's list).
pub const MASKED_PATHS: &[&str] = &[
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

/// Read-only in the container (Docker's list).
pub const READONLY_PATHS: &[&str] = &["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

fn mount(destination: &str, typ: &str, source: &str, options: &[&str]) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()?)
}

fn bind(source: &Path, destination: &Path, options: Vec<String>) -> Result<Mount, SpecError> {
    Ok(MountBuilder::default().destination(destination).typ("bind").source(source).options(options).build()?)
}

/// Docker's default mounts.
fn defaults() -> Result<Vec<Mount>, SpecError> {
    Ok(vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"])?,
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        )?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", "ro"])?,
        mount("/sys/fs/cgroup", "cgroup", "cgroup", &["ro", "nosuid", "noexec", "nodev", "relatime"])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"])?,
    ])
}

/// All mounts, defaults first, then the /etc files, then the user's sorted so
/// that a parent directory is mounted before what is mounted inside it.
pub(super) fn build(inputs: &SpecInputs<'_>) -> Result<Vec<Mount>, SpecError> {
    let config = inputs.config;
    let mut mounts = defaults()?;
    let read_only_flag = |read_only: bool| if read_only { "ro" } else { "rw" }.to_string();

    for (file, target) in [
        (inputs.dir.hosts(), "/etc/hosts"),
        (inputs.dir.resolv_conf(), "/etc/resolv.conf"),
        (inputs.dir.hostname(), "/etc/hostname"),
    ] {
        mounts.push(bind(
            &file,
            Path::new(target),
            vec!["rbind".into(), "rprivate".into(), read_only_flag(config.read_only)],
        )?);
    }
    if let Some(init) = &inputs.init_binary {
        mounts.push(bind(init, Path::new(INIT_PATH), vec!["bind".into(), "ro".into()])?);
    }

    let mut user: Vec<(usize, Mount)> = Vec::new();
    for (index, requested) in config.mounts.iter().enumerate() {
        let mount = match &requested.source {
            MountSource::Bind { path, propagation } => bind(
                path,
                &requested.target,
                vec!["rbind".into(), propagation.name().into(), read_only_flag(requested.read_only)],
            )?,
            MountSource::Volume { name, .. } => {
                let path: &PathBuf = inputs
                    .volume_paths
                    .get(index)
                    .and_then(Option::as_ref)
                    .ok_or_else(|| SpecError(format!("volume {name} has no path")))?;
                bind(
                    path,
                    &requested.target,
                    vec!["rbind".into(), "rprivate".into(), read_only_flag(requested.read_only)],
                )?
            }
            MountSource::Tmpfs { options } => {
                let mut options = options.clone();
                options.push(read_only_flag(requested.read_only));
                MountBuilder::default()
                    .destination(&requested.target)
                    .typ("tmpfs")
                    .source("tmpfs")
                    .options(options)
                    .build()?
            }
        };
        user.push((requested.target.components().count(), mount));
    }
    user.sort_by_key(|(depth, _)| *depth);
    mounts.extend(user.into_iter().map(|(_, mount)| mount));
    Ok(mounts)
}
