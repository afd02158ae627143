//! The OCI runtime spec (`config.json`) for a container, from its recorded
//! configuration and what the monitor found at start (the user's IDs in the
//! image, volume paths, the machine's cgroup setup and limits). Pure: no I/O,
//! so every rule is unit-tested.

mod mounts;
mod resources;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::str::FromStr;

use oci_spec::OciSpecError;
use oci_spec::runtime::{
    Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType,
    PosixRlimit, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder, UserBuilder,
};

use super::cgroup::CgroupSetup;
use super::config::{ContainerConfig, DEFAULT_PATH, env_key};
use super::id::ContainerId;
use super::layout::ContainerDir;
use super::limits::UlimitName;
use super::options::NetworkMode;
use super::security::Seccomp;
use super::user::ExecUser;

pub use mounts::INIT_PATH;

/// Docker's default open-files limit for containers (its daemon runs with LimitNOFILE=infinity).
const DEFAULT_NOFILE: u64 = 1_048_576;

/// What the monitor found out before writing the spec.
#[derive(Clone)]
pub struct SpecInputs<'a> {
    pub id: &'a ContainerId,
    /// Where the container's root file system is mounted.
    pub rootfs: &'a std::path::Path,
    pub config: &'a ContainerConfig,
    pub dir: &'a ContainerDir,
    pub user: &'a ExecUser,
    pub cgroup: CgroupSetup,
    /// The capability set, already resolved from defaults and `--cap-add/--cap-drop`.
    pub capabilities: &'a BTreeSet<String>,
    /// Host paths of the volume mounts, in the order of `config.mounts` (None for binds and tmpfs).
    pub volume_paths: &'a [Option<PathBuf>],
    /// The init binary for `--init`.
    pub init_binary: Option<PathBuf>,
    /// The hard limit this process has for each rlimit: none can be raised above it.
    pub hard_limit: &'a dyn Fn(UlimitName) -> u64,
}

impl std::fmt::Debug for SpecInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecInputs").field("id", self.id).field("cgroup", &self.cgroup).finish_non_exhaustive()
    }
}

/// The spec could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OCI runtime spec: {0}")]
pub struct SpecError(String);

impl From<OciSpecError> for SpecError {
    fn from(e: OciSpecError) -> Self {
        SpecError(e.to_string())
    }
}

/// The container's cgroup, relative to each hierarchy's root.
pub fn cgroup_path(id: &ContainerId) -> PathBuf {
    PathBuf::from(format!("/berth/{id}"))
}

/// Builds the spec.
pub fn build(inputs: &SpecInputs<'_>) -> Result<Spec, SpecError> {
    let config = inputs.config;
    let mut args = config.command();
    if inputs.init_binary.is_some() {
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    let capabilities: oci_spec::runtime::Capabilities = inputs
        .capabilities
        .iter()
        .map(|name| {
            Capability::from_str(name.trim_start_matches("CAP_"))
                .map_err(|_| SpecError(format!("unknown capability {name}")))
        })
        .collect::<Result<_, _>>()?;
    let process = ProcessBuilder::default()
        .terminal(config.tty)
        .user(
            UserBuilder::default()
                .uid(inputs.user.uid)
                .gid(inputs.user.gid)
                .additional_gids(inputs.user.additional_gids.clone())
                .build()?,
        )
        .args(args)
        .env(environment(config, inputs.user))
        .cwd(&config.working_dir)
        .capabilities(
            LinuxCapabilitiesBuilder::default()
                .bounding(capabilities.clone())
                .effective(capabilities.clone())
                .permitted(capabilities)
                .inheritable(oci_spec::runtime::Capabilities::new())
                .ambient(oci_spec::runtime::Capabilities::new())
                .build()?,
        )
        .rlimits(rlimits(config, inputs.hard_limit)?)
        .no_new_privileges(config.security.no_new_privileges)
        .build()?;

    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces(&config.network, inputs.cgroup)?)
        .cgroups_path(cgroup_path(inputs.id))
        .resources(resources::build(&config.resources, inputs.cgroup)?)
        .masked_paths(mounts::MASKED_PATHS.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .readonly_paths(mounts::READONLY_PATHS.iter().map(|p| p.to_string()).collect::<Vec<_>>())
        .build()?;
    if config.network != NetworkMode::Host {
        // Namespaced sysctls Docker sets in a container's own network namespace:
        // any port may be bound and ping works without CAP_NET_RAW.
        linux.set_sysctl(Some(
            [
                ("net.ipv4.ip_unprivileged_port_start".to_string(), "0".to_string()),
                ("net.ipv4.ping_group_range".to_string(), "0 2147483647".to_string()),
            ]
            .into(),
        ));
    }
    if config.security.seccomp == Seccomp::Default {
        linux.set_seccomp(Some(super::seccomp::default_filter(inputs.capabilities)));
    }

    Ok(SpecBuilder::default()
        .version("1.0.2")
        .root(RootBuilder::default().path(inputs.rootfs).readonly(config.read_only).build()?)
        .hostname(&config.hostname)
        .mounts(mounts::build(inputs)?)
        .process(process)
        .linux(linux)
        .build()?)
}

/// Docker's environment: PATH, HOSTNAME and TERM (with a TTY) unless the
/// configuration sets them, then the configuration's, then HOME from the user.
fn environment(config: &ContainerConfig, user: &ExecUser) -> Vec<String> {
    let mut env = vec![format!("PATH={DEFAULT_PATH}"), format!("HOSTNAME={}", config.hostname)];
    if config.tty {
        env.push("TERM=xterm".into());
    }
    for pair in &config.env {
        let key = env_key(pair);
        match env.iter_mut().find(|existing| env_key(existing) == key) {
            Some(existing) => *existing = pair.clone(),
            None => env.push(pair.clone()),
        }
    }
    if !env.iter().any(|pair| env_key(pair) == "HOME") {
        env.push(format!("HOME={}", if user.home.is_empty() { "/" } else { &user.home }));
    }
    env
}

fn namespace(typ: LinuxNamespaceType, path: Option<PathBuf>) -> Result<LinuxNamespace, SpecError> {
    let mut builder = LinuxNamespaceBuilder::default().typ(typ);
    if let Some(path) = path {
        builder = builder.path(path);
    }
    Ok(builder.build()?)
}

fn namespaces(network: &NetworkMode, cgroup: CgroupSetup) -> Result<Vec<LinuxNamespace>, SpecError> {
    let mut namespaces = vec![
        namespace(LinuxNamespaceType::Pid, None)?,
        namespace(LinuxNamespaceType::Ipc, None)?,
        namespace(LinuxNamespaceType::Uts, None)?,
        namespace(LinuxNamespaceType::Mount, None)?,
    ];
    match network {
        NetworkMode::None => namespaces.push(namespace(LinuxNamespaceType::Network, None)?),
        NetworkMode::Path(path) => namespaces.push(namespace(LinuxNamespaceType::Network, Some(path.clone()))?),
        NetworkMode::Host => {}
    }
    // Docker gives containers a private cgroup namespace on cgroup v2 only.
    if cgroup.is_unified() {
        namespaces.push(namespace(LinuxNamespaceType::Cgroup, None)?);
    }
    Ok(namespaces)
}

fn rlimit_type(name: UlimitName) -> PosixRlimitType {
    match name {
        UlimitName::Core => PosixRlimitType::RlimitCore,
        UlimitName::Cpu => PosixRlimitType::RlimitCpu,
        UlimitName::Data => PosixRlimitType::RlimitData,
        UlimitName::Fsize => PosixRlimitType::RlimitFsize,
        UlimitName::Locks => PosixRlimitType::RlimitLocks,
        UlimitName::Memlock => PosixRlimitType::RlimitMemlock,
        UlimitName::Msgqueue => PosixRlimitType::RlimitMsgqueue,
        UlimitName::Nice => PosixRlimitType::RlimitNice,
        UlimitName::Nofile => PosixRlimitType::RlimitNofile,
        UlimitName::Nproc => PosixRlimitType::RlimitNproc,
        UlimitName::Rss => PosixRlimitType::RlimitRss,
        UlimitName::Rtprio => PosixRlimitType::RlimitRtprio,
        UlimitName::Rttime => PosixRlimitType::RlimitRttime,
        UlimitName::Sigpending => PosixRlimitType::RlimitSigpending,
        UlimitName::Stack => PosixRlimitType::RlimitStack,
    }
}

/// NOFILE as Docker containers get it, then the user's `--ulimit`s; every
/// limit clamped to what this process may grant (without CAP_SYS_RESOURCE a
/// hard limit cannot be raised).
fn rlimits(config: &ContainerConfig, hard_limit: &dyn Fn(UlimitName) -> u64) -> Result<Vec<PosixRlimit>, SpecError> {
    let mut wanted = vec![(UlimitName::Nofile, DEFAULT_NOFILE, DEFAULT_NOFILE)];
    for ulimit in &config.ulimits {
        wanted.retain(|(name, _, _)| *name != ulimit.name);
        wanted.push((ulimit.name, ulimit.soft, ulimit.hard));
    }
    wanted
        .into_iter()
        .map(|(name, soft, hard)| {
            let ceiling = hard_limit(name);
            if hard > ceiling && config.ulimits.iter().any(|u| u.name == name) {
                tracing::warn!(ulimit = name.name(), hard, ceiling, "hard limit lowered to what berth may grant");
            }
            let hard = hard.min(ceiling);
            Ok(PosixRlimitBuilder::default().typ(rlimit_type(name)).soft(soft.min(hard)).hard(hard).build()?)
        })
        .collect()
}

#[cfg(test)]
mod tests;
