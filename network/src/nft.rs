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

use crate::ports::{Protocol, PublishedPort};

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
    pub internal: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Nft {
    table: String,
}

/// The fixed part of the table. Sets: `bridges` (all of berth's), `nat_bridges`
/// (outbound masquerade), `internal` (nothing forwarded out), `same` (bridge .
/// bridge pairs: traffic within one network), `subnets` (the networks' address
/// ranges: postrouting sees no input interface for bridged packets, so hairpin
/// traffic is known by its source). Maps: published ports, keyed by port
/// (every host address) or by address . port.
const SKELETON: &str = r#"
  set bridges { type ifname; }
  set nat_bridges { type ifname; }
  set internal { type ifname; }
  set same { type ifname . ifname; }
  set subnets { type ipv4_addr; flags interval; }
  map tcp_any { type inet_service : ipv4_addr . inet_service; }
  map tcp_addr { type ipv4_addr . inet_service : ipv4_addr . inet_service; }
  map udp_any { type inet_service : ipv4_addr . inet_service; }
  map udp_addr { type ipv4_addr . inet_service : ipv4_addr . inet_service; }
  chain ports {
    dnat ip to ip daddr . tcp dport map @tcp_addr
    dnat ip to tcp dport map @tcp_any
    dnat ip to ip daddr . udp dport map @udp_addr
    dnat ip to udp dport map @udp_any
  }
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    iifname @bridges fib daddr . iif type local meta l4proto { tcp, udp } th dport 53 return comment "the embedded DNS on the gateway wins"
    meta nfproto ipv4 fib daddr type local jump ports
  }
  chain output {
    type nat hook output priority -100; policy accept;
    meta nfproto ipv4 fib daddr type local jump ports
  }
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname @bridges ct status dnat ip saddr 127.0.0.0/8 masquerade comment "published ports from the host's loopback"
    oifname @bridges ct status dnat ip saddr @subnets masquerade comment "hairpin: containers to published ports"
    iifname @nat_bridges oifname != @bridges masquerade comment "outbound"
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

fn port_map(protocol: Protocol, any: bool) -> String {
    format!("{}_{}", protocol.as_str(), if any { "any" } else { "addr" })
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
        let set = if network.internal { "internal" } else { "nat_bridges" };
        let _ = writeln!(script, "{verb} element inet {t} {set} {{ \"{b}\" }}");
        script
    }

    pub fn render_ports(&self, verb: &str, ports: &[PublishedPort]) -> String {
        let mut script = String::new();
        for port in ports {
            let map = port_map(port.protocol, port.host_ip.is_unspecified());
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
    use std::net::Ipv4Addr;

    fn port(protocol: Protocol, host_ip: [u8; 4], host_port: u16) -> PublishedPort {
        PublishedPort {
            protocol,
            host_ip: Ipv4Addr::from(host_ip),
            host_port,
            container_ip: Ipv4Addr::new(10, 89, 0, 2),
            container_port: 80,
        }
    }

    #[test]
    fn network_elements() {
        let nft = Nft::new("bt");
        let net = FwNetwork { bridge: "bt1".into(), subnet: "10.89.1.0/24".parse().unwrap(), internal: false };
        assert_eq!(
            nft.render_network("add", &net),
            "add element inet bt bridges { \"bt1\" }\nadd element inet bt same { \"bt1\" . \"bt1\" }\nadd element inet bt subnets { 10.89.1.0/24 }\nadd element inet bt nat_bridges { \"bt1\" }\n"
        );
        let internal = FwNetwork { bridge: "bt2".into(), subnet: "10.89.2.0/24".parse().unwrap(), internal: true };
        assert!(nft.render_network("delete", &internal).ends_with("delete element inet bt internal { \"bt2\" }\n"));
    }

    #[test]
    fn port_elements() {
        let nft = Nft::new("bt");
        let ports = [port(Protocol::Tcp, [0, 0, 0, 0], 8080), port(Protocol::Udp, [127, 0, 0, 1], 5353)];
        assert_eq!(
            nft.render_ports("add", &ports),
            "add element inet bt tcp_any { 8080 : 10.89.0.2 . 80 }\nadd element inet bt udp_addr { 127.0.0.1 . 5353 : 10.89.0.2 . 80 }\n"
        );
        assert_eq!(
            nft.render_ports("delete", &ports),
            "delete element inet bt tcp_any { 8080 }\ndelete element inet bt udp_addr { 127.0.0.1 . 5353 }\n"
        );
    }

    #[test]
    fn sync_replaces_the_table_atomically() {
        let nft = Nft::new("bt");
        let script = nft.render_sync(
            &[FwNetwork { bridge: "bt0".into(), subnet: "10.89.0.0/24".parse().unwrap(), internal: false }],
            &[],
        );
        assert!(script.starts_with("table inet bt {}\ndelete table inet bt\ntable inet bt {\n"), "{script}");
        assert!(script.contains("add element inet bt nat_bridges { \"bt0\" }"));
    }
}
