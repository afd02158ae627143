//! nftables: one table of berth's own (`inet <prefix>`), so that finding and
//! removing everything berth did to the firewall is one `delete table`.
//!
//! The rules are fixed; what changes are set and map elements (bridges,
//! published ports). So a network or a port is one small batch of element
//! changes, applied atomically by one `nft -f -`, and recovery rewrites the
//! whole table from the database in one transaction.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::ports::PublishedPort;

#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("cannot run nft (install the nftables package): {0}")]
    Spawn(std::io::Error),
    #[error("nft refused berth's rules: {stderr}")]
    Refused { stderr: String },
}

/// A network as the firewall sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FwNetwork {
    pub bridge: String,
    pub subnet: ipnet::Ipv4Net,
    pub subnet6: Option<ipnet::Ipv6Net>,
    pub internal: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Nft {
    table: String,
}

/// The fixed part of the table, for both families at once (an `inet` table).
/// Sets: `bridges` (all of berth's), `nat_bridges` (outbound masquerade, NAT44
/// and NAT66), `internal` (nothing forwarded out), `same` (bridge . bridge
/// pairs: traffic within one network), `subnets`/`subnets6` (the networks'
/// address ranges: postrouting sees no input interface for bridged packets, so
/// hairpin traffic is known by its source). Maps: published ports per family
/// (`..6`), keyed by port (every host address of the family) or by address . port.
const SKELETON: &str = r#"
  set bridges { type ifname; }
  set nat_bridges { type ifname; }
  set internal { type ifname; }
  set same { type ifname . ifname; }
  set subnets { type ipv4_addr; flags interval; }
  set subnets6 { type ipv6_addr; flags interval; }
  map tcp_any { type inet_service : ipv4_addr . inet_service; }
  map tcp_addr { type ipv4_addr . inet_service : ipv4_addr . inet_service; }
  map udp_any { type inet_service : ipv4_addr . inet_service; }
  map udp_addr { type ipv4_addr . inet_service : ipv4_addr . inet_service; }
  map tcp_any6 { type inet_service : ipv6_addr . inet_service; }
  map tcp_addr6 { type ipv6_addr . inet_service : ipv6_addr . inet_service; }
  map udp_any6 { type inet_service : ipv6_addr . inet_service; }
  map udp_addr6 { type ipv6_addr . inet_service : ipv6_addr . inet_service; }
  chain ports {
    dnat ip to ip daddr . tcp dport map @tcp_addr
    dnat ip to tcp dport map @tcp_any
    dnat ip to ip daddr . udp dport map @udp_addr
    dnat ip to udp dport map @udp_any
  }
  chain ports6 {
    dnat ip6 to ip6 daddr . tcp dport map @tcp_addr6
    dnat ip6 to tcp dport map @tcp_any6
    dnat ip6 to ip6 daddr . udp dport map @udp_addr6
    dnat ip6 to udp dport map @udp_any6
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname @bridges fib daddr . iif type local meta l4proto { tcp, udp } th dport 53 return comment "the embedded DNS on the gateway wins"
    meta nfproto ipv4 fib daddr type local jump ports
    meta nfproto ipv6 fib daddr type local jump ports6
  }
  chain output {
    type nat hook output priority -100; policy accept;
    meta nfproto ipv4 fib daddr type local jump ports
    ip6 daddr ::1 return comment "IPv6 loopback: the kernel drops ::1 off lo, a proxy serves it"
    meta nfproto ipv6 fib daddr type local jump ports6
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname @bridges ct status dnat ip saddr 127.0.0.0/8 masquerade comment "published ports from the host's loopback"
    oifname @bridges ct status dnat ip saddr @subnets masquerade comment "hairpin: containers to published ports"
    oifname @bridges ct status dnat ip6 saddr @subnets6 masquerade comment "hairpin over IPv6"
    iifname @nat_bridges oifname != @bridges masquerade comment "outbound, IPv4 and IPv6"
  }
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname . oifname @same accept
    oifname @bridges ct state established,related accept
    oifname @bridges ct status dnat accept
    oifname @bridges drop comment "isolation: nothing else enters a network"
    iifname @internal drop comment "internal networks: nothing leaves"
  }
"#;

fn port_map(port: &PublishedPort) -> String {
    let scope = if port.host_ip.is_unspecified() { "any" } else { "addr" };
    let family = if port.host_ip.is_ipv4() { "" } else { "6" };
    format!("{}_{scope}{family}", port.protocol.as_str())
}

fn port_key(port: &PublishedPort) -> String {
    if port.host_ip.is_unspecified() {
        port.host_port.to_string()
    } else {
        format!("{} . {}", port.host_ip, port.host_port)
    }
}

impl Nft {
    pub fn new(table: &str) -> Self {
        Nft { table: table.to_string() }
    }

    /// The whole table from scratch, replacing whatever is there, in one transaction.
    pub fn render_sync(&self, networks: &[FwNetwork], ports: &[PublishedPort]) -> String {
        let t = &self.table;
        let mut script = format!("table inet {t} {{}}\ndelete table inet {t}\ntable inet {t} {{{SKELETON}}}\n");
        for network in networks {
            script.push_str(&self.render_network("add", network));
        }
        script.push_str(&self.render_ports("add", ports));
        script
    }

    pub fn render_network(&self, verb: &str, network: &FwNetwork) -> String {
        let (t, b, subnet) = (&self.table, &network.bridge, network.subnet);
        let mut script = format!(
            "{verb} element inet {t} bridges {{ \"{b}\" }}\n{verb} element inet {t} same {{ \"{b}\" . \"{b}\" }}\n{verb} element inet {t} subnets {{ {subnet} }}\n"
        );
        if let Some(subnet6) = network.subnet6 {
            let _ = writeln!(script, "{verb} element inet {t} subnets6 {{ {subnet6} }}");
        }
        let set = if network.internal { "internal" } else { "nat_bridges" };
        let _ = writeln!(script, "{verb} element inet {t} {set} {{ \"{b}\" }}");
        script
    }

    /// The DNAT elements of `ports` (those on ::1 alone have none: a proxy serves them).
    pub fn render_ports(&self, verb: &str, ports: &[PublishedPort]) -> String {
        let mut script = String::new();
        for port in ports.iter().filter(|p| p.translated()) {
            let map = port_map(port);
            let key = port_key(port);
            let _ = if verb == "delete" {
                writeln!(script, "delete element inet {} {map} {{ {key} }}", self.table)
            } else {
                writeln!(
                    script,
                    "{verb} element inet {} {map} {{ {key} : {} . {} }}",
                    self.table, port.container_ip, port.container_port
                )
            };
        }
        script
    }

    pub fn render_delete_table(&self) -> String {
        format!("table inet {0} {{}}\ndelete table inet {0}\n", self.table)
    }

    /// Applies a script as one nftables transaction: all of it or none.
    pub fn apply(&self, script: &str) -> Result<(), NftError> {
        if script.is_empty() {
            return Ok(());
        }
        tracing::debug!(table = %self.table, script, "nft");
        let mut child = Command::new("nft")
            .args(["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(NftError::Spawn)?;
        let written = child.stdin.take().expect("stdin is piped").write_all(script.as_bytes());
        let output = child.wait_with_output().map_err(NftError::Spawn)?;
        if !output.status.success() {
            return Err(NftError::Refused { stderr: String::from_utf8_lossy(&output.stderr).trim().to_string() });
        }
        written.map_err(NftError::Spawn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Protocol;

    fn port(protocol: Protocol, host_ip: &str, host_port: u16) -> PublishedPort {
        let host_ip: std::net::IpAddr = host_ip.parse().unwrap();
        let container_ip = if host_ip.is_ipv4() { "10.89.0.2" } else { "fd89::2" };
        PublishedPort { protocol, host_ip, host_port, container_ip: container_ip.parse().unwrap(), container_port: 80 }
    }

    fn fw(bridge: &str, subnet: &str, internal: bool) -> FwNetwork {
        FwNetwork { bridge: bridge.into(), subnet: subnet.parse().unwrap(), subnet6: None, internal }
    }

    #[test]
    fn network_elements() {
        let nft = Nft::new("bt");
        let net = fw("bt1", "10.89.1.0/24", false);
        assert_eq!(
            nft.render_network("add", &net),
            "add element inet bt bridges { \"bt1\" }\nadd element inet bt same { \"bt1\" . \"bt1\" }\nadd element inet bt subnets { 10.89.1.0/24 }\nadd element inet bt nat_bridges { \"bt1\" }\n"
        );
        let internal = fw("bt2", "10.89.2.0/24", true);
        assert!(nft.render_network("delete", &internal).ends_with("delete element inet bt internal { \"bt2\" }\n"));
        let dual = FwNetwork { subnet6: Some("fd89:1::/64".parse().unwrap()), ..fw("bt3", "10.89.3.0/24", false) };
        assert!(nft.render_network("add", &dual).contains("add element inet bt subnets6 { fd89:1::/64 }\n"));
    }

    #[test]
    fn port_elements() {
        let nft = Nft::new("bt");
        let ports = [port(Protocol::Tcp, "0.0.0.0", 8080), port(Protocol::Udp, "127.0.0.1", 5353)];
        assert_eq!(
            nft.render_ports("add", &ports),
            "add element inet bt tcp_any { 8080 : 10.89.0.2 . 80 }\nadd element inet bt udp_addr { 127.0.0.1 . 5353 : 10.89.0.2 . 80 }\n"
        );
        assert_eq!(
            nft.render_ports("delete", &ports),
            "delete element inet bt tcp_any { 8080 }\ndelete element inet bt udp_addr { 127.0.0.1 . 5353 }\n"
        );
        // IPv6: its own maps; ::1 alone has no element (the proxy serves it).
        let v6 = [port(Protocol::Tcp, "::", 8080), port(Protocol::Udp, "fd00::9", 53), port(Protocol::Tcp, "::1", 81)];
        assert_eq!(
            nft.render_ports("add", &v6),
            "add element inet bt tcp_any6 { 8080 : fd89::2 . 80 }\nadd element inet bt udp_addr6 { fd00::9 . 53 : fd89::2 . 80 }\n"
        );
    }

    #[test]
    fn sync_replaces_the_table_atomically() {
        let nft = Nft::new("bt");
        let script = nft.render_sync(&[fw("bt0", "10.89.0.0/24", false)], &[]);
        assert!(script.starts_with("table inet bt {}\ndelete table inet bt\ntable inet bt {\n"), "{script}");
        assert!(script.contains("add element inet bt nat_bridges { \"bt0\" }"));
    }
}
