//! The DNS server's input: files under `<run>/dns/` that the manager writes
//! atomically (temp file + rename) and the server reads whole on every reload:
//! the config, a file per network, and the ports it proxies on IPv6 loopback.
//! They can be rebuilt from the database at any time (recovery does), so they
//! live in the run directory, not the state root.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use crate::model::ContainerLink;
use crate::ports::Protocol;

/// `<dir>/config.json`: what is common to every network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ServerConfig {
    /// The search domain, without the trailing dot.
    pub domain: String,
    pub upstreams: Vec<SocketAddr>,
}

/// `<dir>/networks/<network-id>.json`: one network and its running containers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NetworkFile {
    pub id: String,
    pub name: String,
    pub subnet: Ipv4Net,
    /// With IPv6: addresses in it are this network's (PTR answers or NXDOMAIN).
    #[serde(default)]
    pub subnet6: Option<Ipv6Net>,
    pub gateway: Ipv4Addr,
    /// `--internal`: its containers' queries never go upstream (a DNS query is
    /// a way out too: CVE-2024-29018).
    #[serde(default)]
    pub internal: bool,
    pub containers: Vec<ContainerEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ContainerEntry {
    pub id: String,
    pub ip: Ipv4Addr,
    /// Its IPv6 address on a network with IPv6: the AAAA answer.
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// The container name first (the PTR answer), then hostname and aliases.
    pub names: Vec<String>,
    pub links: Vec<ContainerLink>,
    /// `--dns`: where this container's other queries go.
    pub upstreams: Vec<SocketAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum DnsFileError {
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a valid DNS table file: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
}

pub(crate) fn config_path(dir: &Path) -> PathBuf {
    dir.join("config.json")
}

pub(crate) fn networks_dir(dir: &Path) -> PathBuf {
    dir.join("networks")
}

/// `<dir>/proxies.json`: the ports published on IPv6 loopback, which the
/// kernel cannot DNAT (it drops ::1 traffic on any interface but lo): the
/// server listens on [::1]:port and relays to the container.
pub(crate) fn proxies_path(dir: &Path) -> PathBuf {
    dir.join("proxies.json")
}

/// One port the server proxies from [::1]:port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Proxy {
    pub protocol: Protocol,
    pub port: u16,
    /// The container's address and port.
    pub target: SocketAddr,
}

/// Temp file and rename: the server sees the old file or the new one. No fsync:
/// the run directory does not survive a reboot, and recovery rewrites it.
fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), DnsFileError> {
    let write_err = |source| DnsFileError::Write { path: path.to_path_buf(), source };
    let dir = path.parent().expect("table files live in a directory");
    std::fs::create_dir_all(dir).map_err(write_err)?;
    let temp =
        dir.join(format!(".{}.tmp-{}", path.file_name().unwrap_or_default().to_string_lossy(), std::process::id()));
    let bytes = serde_json::to_vec(value).expect("DNS tables serialise");
    let result = std::fs::write(&temp, bytes).and_then(|()| replace(&temp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(write_err)
}

/// Puts `temp` in the place of `path`, atomically. An existing file is
/// exchanged with it, then removed under the temp name: ext4 (auto_da_alloc)
/// writes out a file's data when a rename replaces another file, which took
/// 4-6 ms per DNS file here, under the manager's change lock; an exchange is
/// as atomic and costs no write-out. A plain rename when there is nothing to
/// exchange with (or the file system cannot exchange).
fn replace(temp: &Path, path: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, temp, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => std::fs::remove_file(temp),
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::INVAL) => std::fs::rename(temp, path),
        Err(e) => Err(e.into()),
    }
}

pub(crate) fn write_config(dir: &Path, config: &ServerConfig) -> Result<(), DnsFileError> {
    write_json(&config_path(dir), config)
}

pub(crate) fn write_network(dir: &Path, file: &NetworkFile) -> Result<(), DnsFileError> {
    write_json(&networks_dir(dir).join(format!("{}.json", file.id)), file)
}

pub(crate) fn write_proxies(dir: &Path, proxies: &[Proxy]) -> Result<(), DnsFileError> {
    write_json(&proxies_path(dir), &proxies)
}

/// The proxies to run; none when the file is absent.
pub(crate) fn load_proxies(dir: &Path) -> Result<Vec<Proxy>, DnsFileError> {
    match read_json(&proxies_path(dir)) {
        Err(DnsFileError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        other => other,
    }
}

pub(crate) fn remove_network(dir: &Path, id: &str) -> Result<(), DnsFileError> {
    let path = networks_dir(dir).join(format!("{id}.json"));
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(DnsFileError::Write { path, source: e }),
        _ => Ok(()),
    }
}

/// The ids of the network files present.
pub(crate) fn network_ids(dir: &Path) -> Result<Vec<String>, DnsFileError> {
    let networks = networks_dir(dir);
    let entries = match std::fs::read_dir(&networks) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(DnsFileError::Read { path: networks, source }),
    };
    let mut ids = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| DnsFileError::Read { path: networks.clone(), source })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(id) = name.strip_suffix(".json").filter(|id| !id.starts_with('.')) {
            ids.push(id.to_string());
        }
    }
    ids.sort();
    Ok(ids)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DnsFileError> {
    let bytes = std::fs::read(path).map_err(|source| DnsFileError::Read { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| DnsFileError::Parse { path: path.to_path_buf(), source })
}

pub(crate) fn load_config(dir: &Path) -> Result<ServerConfig, DnsFileError> {
    read_json(&config_path(dir))
}

/// One network's file; `None` when it is gone.
pub(crate) fn load_network(dir: &Path, id: &str) -> Result<Option<NetworkFile>, DnsFileError> {
    match read_json(&networks_dir(dir).join(format!("{id}.json"))) {
        Ok(file) => Ok(Some(file)),
        Err(DnsFileError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Everything the server needs: the config and every network file.
pub(crate) fn load(dir: &Path) -> Result<(ServerConfig, Vec<NetworkFile>), DnsFileError> {
    let config = load_config(dir)?;
    let mut networks = Vec::new();
    for id in network_ids(dir)? {
        // Removed between listing and reading: the manager's next reload says so.
        networks.extend(load_network(dir, &id)?);
    }
    Ok((config, networks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_round_trip_and_removal_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let config =
            ServerConfig { domain: "berth.internal".into(), upstreams: vec!["127.0.0.53:53".parse().unwrap()] };
        write_config(dir.path(), &config).unwrap();
        let net = NetworkFile {
            id: "n1".into(),
            name: "front".into(),
            subnet: "10.89.1.0/24".parse().unwrap(),
            subnet6: Some("fd89:1::/64".parse().unwrap()),
            gateway: "10.89.1.1".parse().unwrap(),
            internal: false,
            containers: vec![ContainerEntry {
                id: "c1".into(),
                ip: "10.89.1.2".parse().unwrap(),
                ip6: Some("fd89:1::2".parse().unwrap()),
                names: vec!["web-1".into(), "web".into()],
                links: vec![],
                upstreams: vec![],
            }],
        };
        write_network(dir.path(), &net).unwrap();
        assert_eq!(load(dir.path()).unwrap(), (config.clone(), vec![net]));
        remove_network(dir.path(), "n1").unwrap();
        remove_network(dir.path(), "n1").unwrap();
        assert_eq!(load(dir.path()).unwrap(), (config, vec![]));
        assert_eq!(std::fs::read_dir(networks_dir(dir.path())).unwrap().count(), 0, "no temp files left");
        assert_eq!(load_proxies(dir.path()).unwrap(), vec![], "no file, no proxies");
        let proxies = [Proxy { protocol: Protocol::Udp, port: 5353, target: "[fd89:1::2]:53".parse().unwrap() }];
        write_proxies(dir.path(), &proxies).unwrap();
        assert_eq!(load_proxies(dir.path()).unwrap(), proxies);
    }

    #[test]
    fn files_of_an_earlier_berth_without_ipv6_still_load() {
        let text = r#"{"id":"n","name":"n","subnet":"10.89.1.0/24","gateway":"10.89.1.1","containers":[{"id":"c","ip":"10.89.1.2","names":["c"],"links":[],"upstreams":[]}]}"#;
        let file: NetworkFile = serde_json::from_str(text).unwrap();
        assert_eq!((file.subnet6, file.containers[0].ip6), (None, None));
    }

    #[test]
    fn a_broken_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), &ServerConfig { domain: "d".into(), upstreams: vec![] }).unwrap();
        std::fs::create_dir_all(networks_dir(dir.path())).unwrap();
        std::fs::write(networks_dir(dir.path()).join("bad.json"), "{").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bad.json"), "{err}");
    }
}
