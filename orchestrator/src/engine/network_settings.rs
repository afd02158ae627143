//! `inspect`'s NetworkSettings, in Docker's shape: the container's place on
//! each network (both families' addresses and gateways) and its published
//! ports, from what the network manager recorded.

use std::collections::BTreeMap;
use std::path::Path;

use berth_network::{Attachment, PublishedPort};
use serde_json::{Value, json};

/// Docker's NetworkSettings of a container with these attachments and ports;
/// `sandbox_key` is its network namespace file (absent for `none`/`host`).
pub fn network_settings(attachments: &[Attachment], ports: &[PublishedPort], sandbox_key: Option<&Path>) -> Value {
    let mut published: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for port in ports {
        published
            .entry(format!("{}/{}", port.container_port, port.protocol))
            .or_default()
            .push(json!({ "HostIp": port.host_ip.to_string(), "HostPort": port.host_port.to_string() }));
    }
    let networks: serde_json::Map<String, Value> = attachments
        .iter()
        .map(|a| {
            let endpoint = json!({
                "IPAMConfig": null,
                "Links": null,
                "Aliases": a.aliases,
                "MacAddress": a.mac,
                "NetworkID": a.network_id,
                "Gateway": a.gateway.to_string(),
                "IPAddress": a.ipv4.to_string(),
                "IPPrefixLen": a.prefix_len,
                "IPv6Gateway": a.ipv6_gateway.map(|ip| ip.to_string()).unwrap_or_default(),
                "GlobalIPv6Address": a.ipv6.map(|ip| ip.to_string()).unwrap_or_default(),
                "GlobalIPv6PrefixLen": a.ipv6_prefix_len,
            });
            (a.network.clone(), endpoint)
        })
        .collect();
    json!({
        "SandboxKey": sandbox_key.map(|p| p.display().to_string()).unwrap_or_default(),
        "Ports": published,
        "Networks": networks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use berth_network::Protocol;

    fn attachment(network: &str, ipv6: Option<&str>) -> Attachment {
        Attachment {
            container_id: "c".into(),
            network_id: format!("{network}-id"),
            network: network.into(),
            interface: "eth0".into(),
            host_interface: "berthv1".into(),
            ipv4: "10.89.1.2".parse().unwrap(),
            prefix_len: 24,
            gateway: "10.89.1.1".parse().unwrap(),
            ipv6: ipv6.map(|ip| ip.parse().unwrap()),
            ipv6_prefix_len: if ipv6.is_some() { 64 } else { 0 },
            ipv6_gateway: ipv6.map(|_| "fd89::1".parse().unwrap()),
            mac: "02:42:0a:59:01:02".into(),
            container_name: "web".into(),
            hostname: None,
            aliases: vec!["www".into()],
            links: vec![],
            dns_servers: vec![],
            active: true,
        }
    }

    #[test]
    fn both_families_per_network_and_ports_by_container_port() {
        let port = |host: &str, container: &str| PublishedPort {
            protocol: Protocol::Tcp,
            host_ip: host.parse().unwrap(),
            host_port: 8080,
            container_ip: container.parse().unwrap(),
            container_port: 80,
        };
        let settings = network_settings(
            &[attachment("dual", Some("fd89::2")), attachment("plain", None)],
            &[port("0.0.0.0", "10.89.1.2"), port("::", "fd89::2")],
            Some(Path::new("/run/berth/netns/c")),
        );
        let dual = &settings["Networks"]["dual"];
        assert_eq!(dual["GlobalIPv6Address"], "fd89::2");
        assert_eq!(dual["GlobalIPv6PrefixLen"], 64);
        assert_eq!(dual["IPv6Gateway"], "fd89::1");
        assert_eq!(dual["IPAddress"], "10.89.1.2");
        assert_eq!(settings["Networks"]["plain"]["GlobalIPv6Address"], "");
        assert_eq!(
            settings["Ports"]["80/tcp"],
            json!([{ "HostIp": "0.0.0.0", "HostPort": "8080" }, { "HostIp": "::", "HostPort": "8080" }])
        );
        assert_eq!(settings["SandboxKey"], "/run/berth/netns/c");
    }
}
