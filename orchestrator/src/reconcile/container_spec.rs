//! A compose service, replica `n`, as the runtime and the network manager take
//! it: create options (command, environment, mounts, limits, security, labels),
//! the networks it joins with their aliases, and the ports it publishes.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use berth_network::{ConnectOptions, ContainerLink, PortMapping, PortRange, Protocol as NetProtocol};
use berth_runtime::container::limits::{Resources, Ulimit, UlimitName};
use berth_runtime::container::mounts::{MountKind, MountRequest, Propagation};
use berth_runtime::container::options::OptionError;
use berth_runtime::container::security::CapabilityArg;
use berth_runtime::container::{CreateOptions, RestartPolicy as RuntimeRestart};

use crate::compose::model::{MountType, Project, Protocol, Service};

/// Labels every container of a project carries, as compose names them
/// (`pkg/api/labels.go`), so tools that read compose's labels read berth's.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const NUMBER: &str = "com.docker.compose.container-number";
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    /// A one-off container's random ID (its name ends in the first 12 digits).
    pub const SLUG: &str = "com.docker.compose.slug";
    pub const IMAGE: &str = "com.docker.compose.image";
    pub const VERSION: &str = "com.docker.compose.version";
}

/// Who the container is: the identity its labels record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity<'a> {
    pub project: &'a str,
    pub service: &'a str,
    pub number: u32,
    pub name: &'a str,
    pub config_hash: &'a str,
    pub image_id: &'a str,
    pub working_dir: &'a str,
    pub config_files: &'a [String],
}

/// One network the container joins.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetworkJoin {
    /// The engine-side network name (`<project>_<key>` unless set or external).
    pub network: String,
    pub options: ConnectOptions,
}

#[derive(Clone, Debug)]
pub struct ContainerSpec {
    pub create: CreateOptions,
    /// In order: the first is the container's default route.
    pub networks: Vec<NetworkJoin>,
    pub ports: Vec<PortMapping>,
    /// `network_mode: host` / `none` (no networks joined).
    pub network_mode: Option<String>,
    pub extra_hosts: Vec<(String, IpAddr)>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("services.{service}.{key}: {message}")]
    Invalid { service: String, key: &'static str, message: String },
    #[error("services.{service}.{key}: {source}")]
    Option { service: String, key: &'static str, source: OptionError },
}

pub fn container_spec(project: &Project, service: &Service, id: &Identity<'_>) -> Result<ContainerSpec, SpecError> {
    let invalid =
        |key: &'static str, message: String| SpecError::Invalid { service: id.service.to_string(), key, message };
    let option = |key: &'static str| move |source| SpecError::Option { service: id.service.to_string(), key, source };

    let mut labels: BTreeMap<String, String> = service.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    labels.extend(
        [
            (labels::PROJECT, id.project.to_string()),
            (labels::SERVICE, id.service.to_string()),
            (labels::NUMBER, id.number.to_string()),
            (labels::CONFIG_HASH, id.config_hash.to_string()),
            (labels::WORKING_DIR, id.working_dir.to_string()),
            (labels::CONFIG_FILES, id.config_files.join(",")),
            (labels::ONEOFF, "False".to_string()),
            (labels::IMAGE, id.image_id.to_string()),
            (labels::VERSION, format!("berth {}", env!("CARGO_PKG_VERSION"))),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );

    let mut mounts = Vec::new();
    for (index, volume) in service.volumes.iter().enumerate() {
        let target = PathBuf::from(&volume.target);
        let kind = match volume.kind {
            MountType::Bind => {
                let source = volume
                    .source
                    .clone()
                    .ok_or_else(|| invalid("volumes", format!("[{index}]: a bind mount needs a source")))?;
                let propagation = match volume.bind.as_ref().and_then(|b| b.propagation.as_deref()) {
                    None => Propagation::default(),
                    Some(p) => serde_json::from_value(serde_json::Value::String(p.into()))
                        .map_err(|_| invalid("volumes", format!("[{index}]: unknown propagation {p:?}")))?,
                };
                MountKind::Bind { source: PathBuf::from(source), propagation }
            }
            MountType::Volume => MountKind::Volume {
                name: volume.source.as_ref().map(|key| volume_name(project, key)),
                no_copy: volume.volume.as_ref().and_then(|v| v.nocopy).unwrap_or(false),
            },
            MountType::Tmpfs => {
                let mut options = vec!["noexec".to_string(), "nosuid".to_string(), "nodev".to_string()];
                if let Some(tmpfs) = &volume.tmpfs {
                    options.extend(tmpfs.size.map(|s| format!("size={}", s.0)));
                    options.extend(tmpfs.mode.map(|m| format!("mode={m:o}")));
                }
                MountKind::Tmpfs { options }
            }
            other => return Err(invalid("volumes", format!("[{index}]: mounts of type {other:?} are not supported"))),
        };
        mounts.push(MountRequest { target, read_only: volume.read_only, kind });
    }
    for spec in &service.tmpfs {
        mounts.push(MountRequest::parse_tmpfs(spec).map_err(option("tmpfs"))?);
    }

    let limits = service.deploy.as_ref().and_then(|d| d.resources.as_ref()).and_then(|r| r.limits.as_ref());
    let cpus = service.cpus.or(limits.and_then(|l| l.cpus));
    let resources = Resources {
        memory: service.mem_limit.or(limits.and_then(|l| l.memory)).map(|b| b.0),
        memory_swap: service.memswap_limit.map(|b| i64::try_from(b.0).unwrap_or(i64::MAX)),
        nano_cpus: cpus.map(|c| (c * 1e9).round() as u64),
        cpu_shares: service.cpu_shares.and_then(|s| u64::try_from(s).ok()),
        pids_limit: service.pids_limit.or(limits.and_then(|l| l.pids)),
    };

    let caps = |list: &[String], key: &'static str| {
        list.iter().map(|c| c.parse::<CapabilityArg>().map_err(option(key))).collect::<Result<Vec<_>, _>>()
    };
    let mut create = CreateOptions {
        name: Some(id.name.to_string()),
        cmd: service.command.clone(),
        entrypoint: service.entrypoint.clone(),
        env: service.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect(),
        working_dir: service.working_dir.clone(),
        user: service.user.clone(),
        hostname: service.hostname.clone(),
        tty: service.tty.unwrap_or(false),
        open_stdin: service.stdin_open.unwrap_or(false),
        labels,
        mounts,
        read_only: service.read_only.unwrap_or(false),
        init: service.init.unwrap_or(false),
        resources,
        ulimits: ulimits(service).map_err(|m| invalid("ulimits", m))?,
        stop_signal: service.stop_signal.clone(),
        stop_timeout: service.stop_grace_period.map(|d| u32::try_from(d.0.as_secs()).unwrap_or(u32::MAX)),
        // The reconciler restarts compose containers, honouring the dependency graph.
        restart: RuntimeRestart::No,
        ..CreateOptions::default()
    };
    create.capabilities.add = caps(&service.cap_add, "cap_add")?;
    create.capabilities.drop = caps(&service.cap_drop, "cap_drop")?;
    for opt in &service.security_opt {
        create.security.apply(opt).map_err(option("security_opt"))?;
    }

    let network_mode = service.network_mode.clone();
    let networks = match network_mode.as_deref() {
        Some("host" | "none") => Vec::new(),
        Some(other) => {
            return Err(invalid("network_mode", format!("{other:?} is not supported; use host, none or networks")));
        }
        None => joins(project, service, id).map_err(|m| invalid("networks", m))?,
    };
    let extra_hosts = service
        .extra_hosts
        .iter()
        .flat_map(|(host, ips)| ips.iter().map(move |ip| (host, ip)))
        .map(|(host, ip)| {
            let ip = if ip == "host-gateway" {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                ip.parse().map_err(|_| invalid("extra_hosts", format!("{ip:?} is not an IP address")))?
            };
            Ok((host.clone(), ip))
        })
        .collect::<Result<Vec<_>, SpecError>>()?;
    Ok(ContainerSpec {
        create,
        networks,
        ports: ports(service).map_err(|m| invalid("ports", m))?,
        network_mode,
        extra_hosts,
    })
}

/// The engine-side name of a project volume.
pub fn volume_name(project: &Project, key: &str) -> String {
    project.volumes.get(key).and_then(|v| v.name.clone()).unwrap_or_else(|| format!("{}_{key}", project.name))
}

/// The engine-side name of a project network.
pub fn network_name(project: &Project, key: &str) -> String {
    project.networks.get(key).and_then(|n| n.name.clone()).unwrap_or_else(|| format!("{}_{key}", project.name))
}

fn joins(project: &Project, service: &Service, id: &Identity<'_>) -> Result<Vec<NetworkJoin>, String> {
    let links: Vec<ContainerLink> = service
        .links
        .iter()
        .map(|link| {
            let (target, alias) = link.split_once(':').unwrap_or((link, link));
            // A link names a service; its first replica answers to the alias.
            ContainerLink { name: format!("{}-{target}-1", id.project), alias: alias.to_string() }
        })
        .collect();
    let mut networks: Vec<(&String, Option<&crate::compose::model::ServiceNetwork>)> =
        service.networks.iter().map(|(k, v)| (k, v.as_ref())).collect();
    // Higher priority first, as compose orders them; the first gives the default route.
    networks.sort_by_key(|(_, n)| std::cmp::Reverse(n.and_then(|n| n.gw_priority.or(n.priority)).unwrap_or(0)));
    networks
        .into_iter()
        .map(|(key, attachment)| {
            let mut aliases = vec![id.service.to_string()];
            aliases.extend(attachment.map(|a| a.aliases.clone()).unwrap_or_default());
            let ip = match attachment.and_then(|a| a.ipv4_address.as_deref()) {
                Some(ip) => Some(ip.parse().map_err(|_| format!("{key}.ipv4_address: {ip:?} is not an IPv4 address"))?),
                None => None,
            };
            let ip6 = match attachment.and_then(|a| a.ipv6_address.as_deref()) {
                Some(ip) => Some(ip.parse().map_err(|_| format!("{key}.ipv6_address: {ip:?} is not an IPv6 address"))?),
                None => None,
            };
            let dns_servers = service
                .dns
                .iter()
                .map(|d| d.parse().map_err(|_| format!("dns: {d:?} is not an IP address")))
                .collect::<Result<_, String>>()?;
            Ok(NetworkJoin {
                network: network_name(project, key),
                options: ConnectOptions {
                    ip,
                    ip6,
                    container_name: id.name.to_string(),
                    hostname: service.hostname.clone(),
                    aliases,
                    links: links.clone(),
                    dns_servers,
                },
            })
        })
        .collect()
}

fn ports(service: &Service) -> Result<Vec<PortMapping>, String> {
    service
        .ports
        .iter()
        .map(|port| {
            let host_ip = match port.host_ip.as_deref() {
                None | Some("") => None,
                Some(ip) => Some(
                    ip.trim_start_matches('[')
                        .trim_end_matches(']')
                        .parse::<IpAddr>()
                        .map_err(|_| format!("host_ip {ip:?} is not an IP address"))?,
                ),
            };
            let host_ports = match port.published.as_deref() {
                None | Some("") => None,
                Some(p) => Some(p.parse::<PortRange>()?),
            };
            let protocol = match port.protocol {
                Protocol::Tcp => NetProtocol::Tcp,
                Protocol::Udp => NetProtocol::Udp,
                Protocol::Sctp => return Err(format!("{}: sctp ports are not supported", port.target)),
            };
            Ok(PortMapping { host_ip, host_ports, container_ports: PortRange::single(port.target), protocol })
        })
        .collect()
}

fn ulimits(service: &Service) -> Result<Vec<Ulimit>, String> {
    service
        .ulimits
        .iter()
        .map(|(name, limit)| {
            let name = UlimitName::ALL
                .into_iter()
                .find(|n| n.name() == name)
                .ok_or_else(|| format!("unknown ulimit {name:?}"))?;
            let value = |v: i64| u64::try_from(v).map_err(|_| format!("{}: limits must not be negative", name.name()));
            Ok(Ulimit { name, soft: value(limit.soft)?, hard: value(limit.hard)? })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compose::{LoadOptions, load};

    fn spec(yaml: &str, service: &str) -> Result<ContainerSpec, SpecError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("compose.yaml"), yaml).unwrap();
        let options = LoadOptions { interpolate: true, cwd: dir.path().to_path_buf(), ..Default::default() };
        let project = load(&options).unwrap().project;
        let files = vec!["/p/compose.yaml".to_string()];
        let id = Identity {
            project: &project.name,
            service,
            number: 1,
            name: "demo-web-1",
            config_hash: "hash",
            image_id: "sha256:img",
            working_dir: "/p",
            config_files: &files,
        };
        container_spec(&project, &project.services[service], &id)
    }

    #[test]
    fn a_service_becomes_create_options() {
        let spec = spec(
            "name: demo\nservices:\n  web:\n    image: web\n    command: serve --port 80\n    environment: {A: '1', UNSET: }\n    volumes: ['data:/data', '/host:/host:ro', '/anon']\n    tmpfs: /run\n    mem_limit: 64m\n    deploy: {resources: {limits: {cpus: '0.5', pids: 100}}}\n    cap_add: [NET_ADMIN]\n    ulimits: {nofile: 1024}\n    stop_grace_period: 3s\n    stop_signal: SIGINT\n    ports: ['127.0.0.1:8080:80', '53/udp']\n    labels: {team: a}\nvolumes:\n  data:\n",
            "web",
        )
        .unwrap();
        let c = &spec.create;
        assert_eq!(c.name.as_deref(), Some("demo-web-1"));
        assert_eq!(c.cmd, Some(vec!["serve".into(), "--port".into(), "80".into()]));
        assert_eq!(c.env, ["A=1"]);
        assert_eq!(c.labels["com.docker.compose.project"], "demo");
        assert_eq!(c.labels["com.docker.compose.config-hash"], "hash");
        assert_eq!(c.labels["team"], "a");
        assert_eq!(c.mounts[0].kind, MountKind::Volume { name: Some("demo_data".into()), no_copy: false });
        assert!(c.mounts[1].read_only);
        assert_eq!(c.mounts[2].kind, MountKind::Volume { name: None, no_copy: false });
        assert!(matches!(c.mounts[3].kind, MountKind::Tmpfs { .. }));
        assert_eq!(c.resources.memory, Some(64 << 20));
        assert_eq!(c.resources.nano_cpus, Some(500_000_000));
        assert_eq!(c.resources.pids_limit, Some(100));
        assert_eq!(c.capabilities.add, [CapabilityArg::One("CAP_NET_ADMIN".into())]);
        assert_eq!(c.ulimits, [Ulimit { name: UlimitName::Nofile, soft: 1024, hard: 1024 }]);
        assert_eq!(c.stop_timeout, Some(3));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
        assert_eq!(c.restart, RuntimeRestart::No);
        assert_eq!(spec.networks.len(), 1);
        assert_eq!(spec.networks[0].network, "demo_default");
        assert_eq!(spec.networks[0].options.aliases, ["web"]);
        assert_eq!(spec.ports[0].host_ip, Some(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(spec.ports[0].host_ports, Some(PortRange::single(8080)));
        assert_eq!(spec.ports[1].host_ports, None);
    }

    #[test]
    fn network_aliases_fixed_addresses_and_links() {
        let spec = spec(
            "name: demo\nservices:\n  db: {image: db}\n  web:\n    image: web\n    links: ['db:database']\n    ports: [{target: 80, host_ip: '::1', published: '8080'}]\n    networks:\n      back: {aliases: [api], ipv4_address: 10.99.0.5, ipv6_address: 'fd89::5'}\nnetworks:\n  back: {name: shared-back, enable_ipv6: true}\n",
            "web",
        )
        .unwrap();
        let join = &spec.networks[0];
        assert_eq!(join.network, "shared-back");
        assert_eq!(join.options.aliases, ["web", "api"]);
        assert_eq!(join.options.ip, Some("10.99.0.5".parse().unwrap()));
        assert_eq!(join.options.ip6, Some("fd89::5".parse().unwrap()));
        assert_eq!(spec.ports[0].host_ip, Some("::1".parse().unwrap()));
        assert_eq!(join.options.links, [ContainerLink { name: "demo-db-1".into(), alias: "database".into() }]);
    }

    #[test]
    fn unsupported_settings_are_named() {
        let err = spec("services:\n  web: {image: web, network_mode: 'container:x'}\n", "web").unwrap_err();
        assert_eq!(
            err.to_string(),
            "services.web.network_mode: \"container:x\" is not supported; use host, none or networks"
        );
        let err = spec("services:\n  web: {image: web, cap_add: [FLY]}\n", "web").unwrap_err();
        assert!(err.to_string().starts_with("services.web.cap_add: invalid capability"), "{err}");
    }
}
