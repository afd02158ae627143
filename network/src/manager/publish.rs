//! Published ports: kernel DNAT (no proxy in the data path, but for IPv6
//! loopback, which the kernel cannot DNAT), checked before anything changes,
//! recorded so that conflicts between containers are caught and recovery can
//! rebuild the maps.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::NetworkManager;
use crate::error::NetworkError;
use crate::ports::{self, PortMapping, Protocol, PublishedPort};
use crate::store::Store;

/// How many times an ephemeral port is drawn before giving up (another process
/// may take each one between the draw and the check).
const EPHEMERAL_TRIES: usize = 32;

/// The container's addresses that published ports lead to, per family.
#[derive(Debug, Clone, Copy)]
struct Targets {
    v4: Ipv4Addr,
    v6: Option<Ipv6Addr>,
}

impl NetworkManager {
    /// Publishes `mappings` to the container's address on its first network
    /// that leads out (IPv6 ones to its address on the first such network with
    /// IPv6). A mapping without a host address is published on every IPv4
    /// address and, when the container has IPv6, on every IPv6 address too,
    /// with the same host port, as Docker does. Every port is checked first
    /// (held by another container? bound by a program on the host?); then all
    /// are added at once.
    pub fn publish(&self, container_id: &str, mappings: &[PortMapping]) -> Result<Vec<PublishedPort>, NetworkError> {
        let _container = self.lock_container(container_id)?;
        // All of it: the firewall table is shared, and so is every host port.
        let _lock = self.lock("publish")?;
        let networks = self.store.networks()?;
        let rows = Store::container_attachments(&self.store.conn(), container_id)?;
        let outward =
            |row: &&crate::store::AttachmentRow| networks.iter().any(|n| n.id == row.network_id && !n.internal);
        let first =
            rows.iter().find(outward).ok_or_else(|| NetworkError::NothingToPublishOn(container_id.to_string()))?;
        let targets = Targets { v4: first.ipv4, v6: rows.iter().filter(outward).find_map(|row| row.ipv6) };
        let mut planned: Vec<PublishedPort> = Vec::new();
        for mapping in mappings {
            self.plan_mapping(container_id, mapping, targets, &mut planned)?;
        }
        if planned.is_empty() {
            return Ok(planned);
        }
        let proxied = planned.iter().any(PublishedPort::proxied);
        let recorded = self.store.write(|tx| {
            for port in &planned {
                Store::insert_port(tx, container_id, port)?;
            }
            // Inside the transaction: if the kernel refuses, or a proxy cannot
            // listen, nothing was recorded.
            self.firewall(&self.nft.render_ports("add", &planned))?;
            if proxied {
                self.sync_proxies_in(tx)?;
            }
            Ok::<_, NetworkError>(())
        });
        if let Err(e) = recorded {
            if proxied {
                // The DNAT elements and the proxies back to what the database says.
                let _ = self.firewall_sync();
                let _ = self.sync_proxies();
            }
            return Err(e);
        }
        tracing::debug!(container = container_id, ports = planned.len(), "ports published");
        Ok(planned)
    }

    fn plan_mapping(
        &self,
        container_id: &str,
        mapping: &PortMapping,
        targets: Targets,
        planned: &mut Vec<PublishedPort>,
    ) -> Result<(), NetworkError> {
        let protocol = mapping.protocol;
        // (host address, container address) of every binding of this mapping.
        let bindings: Vec<(IpAddr, IpAddr)> = match mapping.host_ip {
            None => std::iter::once((Ipv4Addr::UNSPECIFIED.into(), targets.v4.into()))
                .chain(targets.v6.map(|v6| (Ipv6Addr::UNSPECIFIED.into(), v6.into())))
                .collect(),
            Some(host @ IpAddr::V4(_)) => vec![(host, targets.v4.into())],
            Some(host @ IpAddr::V6(_)) => match targets.v6 {
                Some(v6) => vec![(host, v6.into())],
                None => {
                    let mapping = mapping.to_string();
                    return Err(NetworkError::NoIpv6ToPublish { container: container_id.to_string(), mapping });
                }
            },
        };
        let free = |port: u16, planned: &[PublishedPort]| {
            bindings
                .iter()
                .try_for_each(|(host_ip, _)| self.check_port(container_id, protocol, *host_ip, port, planned))
        };
        let add = |host_port, container_port, planned: &mut Vec<PublishedPort>| {
            for (host_ip, container_ip) in &bindings {
                let (host_ip, container_ip) = (*host_ip, *container_ip);
                planned.push(PublishedPort { protocol, host_ip, host_port, container_ip, container_port });
            }
        };
        let host_ip = bindings[0].0;
        match mapping.host_ports {
            // 8000-8010:8000-8010, or 8080:80
            Some(host) if host.count() == mapping.container_ports.count() => {
                for (h, c) in host.ports().zip(mapping.container_ports.ports()) {
                    free(h, planned)?;
                    add(h, c, planned);
                }
            }
            // 8000-8010:80: the first free port of the range.
            Some(host) => {
                let chosen = host.ports().find(|h| free(*h, planned).is_ok());
                let h =
                    chosen.ok_or_else(|| NetworkError::NoFreePort { protocol, host_ip, range: host.to_string() })?;
                add(h, mapping.container_ports.start, planned);
            }
            // 80: an ephemeral port per container port, free on every binding.
            None => {
                for c in mapping.container_ports.ports() {
                    let h = self.ephemeral(protocol, host_ip, |port| free(port, planned))?;
                    add(h, c, planned);
                }
            }
        }
        Ok(())
    }

    fn ephemeral(
        &self,
        protocol: Protocol,
        host_ip: IpAddr,
        free: impl Fn(u16) -> Result<(), NetworkError>,
    ) -> Result<u16, NetworkError> {
        for _ in 0..EPHEMERAL_TRIES {
            let candidate = ports::ephemeral_port(protocol, host_ip).map_err(|e| bind_error(host_ip, e))?;
            if free(candidate).is_ok() {
                return Ok(candidate);
            }
        }
        Err(NetworkError::NoFreePort { protocol, host_ip, range: "the ephemeral range".into() })
    }

    /// Is `host_ip:port` free: not in this request, not published by a
    /// container, not bound by a program on the host?
    fn check_port(
        &self,
        container_id: &str,
        protocol: Protocol,
        host_ip: IpAddr,
        port: u16,
        planned: &[PublishedPort],
    ) -> Result<(), NetworkError> {
        let in_use = |holder: String| NetworkError::PortInUse { protocol, host_ip, port, holder };
        if planned
            .iter()
            .any(|p| p.protocol == protocol && p.host_port == port && ports::overlapping(p.host_ip, host_ip))
        {
            return Err(in_use("asked for twice".into()));
        }
        if let Some(holder) = Store::port_holder(&self.store.conn(), protocol, host_ip, port)? {
            let whom =
                if holder == container_id { "this container".to_string() } else { format!("container {holder}") };
            return Err(in_use(format!("published by {whom}")));
        }
        match ports::check_free(protocol, host_ip, port) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => Err(in_use("a program on the host listens there".into())),
            Err(e) => Err(bind_error(host_ip, e)),
        }
    }

    /// Frees the container's published ports (when it stops).
    pub fn unpublish(&self, container_id: &str) -> Result<(), NetworkError> {
        let _container = self.lock_container(container_id)?;
        let _lock = self.lock("unpublish")?;
        self.unpublish_locked(container_id)
    }

    pub(super) fn unpublish_locked(&self, container_id: &str) -> Result<(), NetworkError> {
        let published: Vec<_> =
            Store::ports(&self.store.conn(), Some(container_id))?.into_iter().map(|(_, p)| p).collect();
        if published.is_empty() {
            return Ok(());
        }
        self.store.write(|tx| Store::delete_ports(tx, container_id))?;
        let firewall = self.firewall(&self.nft.render_ports("delete", &published));
        let proxies = match published.iter().any(PublishedPort::proxied) {
            true => self.sync_proxies(),
            false => Ok(()),
        };
        firewall.and(proxies)
    }

    /// `berth port`: what the container has published.
    pub fn ports(&self, container_id: &str) -> Result<Vec<PublishedPort>, NetworkError> {
        Ok(Store::ports(&self.store.conn(), Some(container_id))?.into_iter().map(|(_, p)| p).collect())
    }
}

fn bind_error(host_ip: IpAddr, e: io::Error) -> NetworkError {
    if e.kind() == io::ErrorKind::AddrNotAvailable {
        NetworkError::Invalid(format!("host address {host_ip} is not an address of this host"))
    } else {
        NetworkError::io(format!("cannot check host ports on {host_ip}"))(e)
    }
}
