//! The values the manager takes and returns.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

/// The network every container joins when it names none, like Docker's `bridge`.
/// It has no embedded DNS (containers on it find each other only through `--link`,
/// written to /etc/hosts), again like Docker.
pub const DEFAULT_NETWORK: &str = "bridge";

/// What `berth network create` asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSpec {
    pub name: String,
    /// `--subnet`; taken from the pool when absent.
    pub subnet: Option<Ipv4Net>,
    /// `--gateway`; the first address of the subnet when absent.
    pub gateway: Option<Ipv4Addr>,
    /// `--ip-range`: containers get addresses from this part of the subnet only.
    pub ip_range: Option<Ipv4Net>,
    /// `--internal`: no route out, no NAT, nothing forwarded in or out.
    pub internal: bool,
    /// Embedded DNS on the gateway (user networks: on; the default bridge: off).
    pub dns: bool,
    pub mtu: Option<u32>,
    pub labels: BTreeMap<String, String>,
    /// `--ipv6`: an IPv6 subnet too (`subnet6`, or a /64 of the IPv6 pool).
    pub ipv6: bool,
    /// The IPv6 `--subnet`, `--gateway` and `--ip-range` (they need `ipv6`).
    pub subnet6: Option<Ipv6Net>,
    pub gateway6: Option<Ipv6Addr>,
    pub ip_range6: Option<Ipv6Net>,
}

impl NetworkSpec {
    /// A user network with everything else default (DNS on).
    pub fn named(name: &str) -> Self {
        NetworkSpec {
            name: name.to_string(),
            subnet: None,
            gateway: None,
            ip_range: None,
            internal: false,
            dns: true,
            mtu: None,
            labels: BTreeMap::new(),
            ipv6: false,
            subnet6: None,
            gateway6: None,
            ip_range6: None,
        }
    }
}

/// A network's IPv6 side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Subnet {
    pub subnet: Ipv6Net,
    pub gateway: Ipv6Addr,
    pub ip_range: Option<Ipv6Net>,
}

/// A network as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// The Linux bridge: `<prefix><n>`.
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub ip_range: Option<Ipv4Net>,
    pub internal: bool,
    pub dns: bool,
    pub mtu: u32,
    pub labels: BTreeMap<String, String>,
    /// Seconds since the Unix epoch.
    pub created: i64,
    /// Present on networks created with `--ipv6`.
    pub ipv6: Option<Ipv6Subnet>,
}

/// `network inspect`: the network and who is on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDetails {
    #[serde(flatten)]
    pub network: Network,
    pub containers: Vec<Attachment>,
}

/// `--link name:alias`: the linked container answers to `alias` for this container only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ContainerLink {
    /// The linked container's name.
    pub name: String,
    pub alias: String,
}

/// Options of one attachment (`--network`, `--ip`, `--ip6`, `--network-alias`, `--link`, `--dns`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ConnectOptions {
    /// `--ip`: a fixed address (must be inside the subnet and free).
    pub ip: Option<Ipv4Addr>,
    /// `--ip6`: a fixed IPv6 address (the network must have IPv6).
    #[serde(default)]
    pub ip6: Option<Ipv6Addr>,
    /// The container's name (without Docker's leading `/`): resolvable on the network.
    pub container_name: String,
    /// `--hostname`: also resolvable when set.
    pub hostname: Option<String>,
    /// `--network-alias` / compose `aliases` (compose passes the service name here:
    /// every replica answers to it, in round-robin order).
    pub aliases: Vec<String>,
    pub links: Vec<ContainerLink>,
    /// `--dns`: the embedded DNS forwards this container's other queries to these.
    pub dns_servers: Vec<IpAddr>,
}

/// A container's place on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub container_id: String,
    pub network_id: String,
    pub network: String,
    /// Inside the container: `eth0`, `eth1`, ... in the order of connection.
    pub interface: String,
    /// The host end of the veth pair, a port of the network's bridge.
    pub host_interface: String,
    pub ipv4: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    /// On a network with IPv6: the container's address there, its prefix
    /// length (0 without) and the gateway.
    pub ipv6: Option<Ipv6Addr>,
    pub ipv6_prefix_len: u8,
    pub ipv6_gateway: Option<Ipv6Addr>,
    pub mac: String,
    pub container_name: String,
    pub hostname: Option<String>,
    pub aliases: Vec<String>,
    pub links: Vec<ContainerLink>,
    pub dns_servers: Vec<IpAddr>,
    /// False while the container is stopped: its names are not served.
    pub active: bool,
}

/// What goes into a container's /etc/resolv.conf beyond the embedded DNS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ResolvOptions {
    /// `--dns`: used directly when the container has no network with DNS.
    pub servers: Vec<IpAddr>,
    /// `--dns-search`.
    pub search: Vec<String>,
    /// `--dns-option`.
    pub options: Vec<String>,
}

/// What goes into a container's /etc/hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostsOptions {
    pub hostname: String,
    /// `--add-host name:ip` / compose `extra_hosts`.
    pub extra_hosts: Vec<(String, IpAddr)>,
}
