//! Published ports: kernel DNAT (no proxy in the data path), checked before
//! anything changes, recorded so that conflicts between containers are caught
//! and recovery can rebuild the maps.

use std::io;
use std::net::Ipv4Addr;

use super::NetworkManager;
use crate::error::NetworkError;
use crate::ports::{self, PortMapping, Protocol, PublishedPort};
use crate::store::Store;

/// How many times an ephemeral port is drawn before giving up (another process
/// may take each one between the draw and the check).
const EPHEMERAL_TRIES: usize = 32;

impl NetworkManager {
    /// Publishes `mappings` to the container's address on its first network
    /// that leads out. Every port is checked first (held by another container?
    /// bound by a program on the host?); then all are added at once.
    pub fn publish(&self, container_id: &str, mappings: &[PortMapping]) -> Result<Vec<PublishedPort>, NetworkError> {
        let _lock = self.lock()?;
        let networks = self.store.networks()?;
        let target = Store::container_attachments(self.store.conn(), container_id)?
            .into_iter()
            .find(|row| networks.iter().any(|n| n.id == row.network_id && !n.internal))
            .ok_or_else(|| NetworkError::NothingToPublishOn(container_id.to_string()))?;
        let mut planned: Vec<PublishedPort> = Vec::new();
        for mapping in mappings {
            self.plan_mapping(container_id, mapping, target.ipv4, &mut planned)?;
        }
        if planned.is_empty() {
            return Ok(planned);
        }
        self.store.write(|tx| {
            for port in &planned {
                Store::insert_port(tx, container_id, port)?;
            }
            // Inside the transaction: if the kernel refuses, nothing was recorded.
            self.firewall(&self.nft.render_ports("add", &planned))
        })?;
        tracing::debug!(container = container_id, ports = planned.len(), "ports published");
        Ok(planned)
    }

    fn plan_mapping(
        &self,
        container_id: &str,
        mapping: &PortMapping,
        container_ip: Ipv4Addr,
        planned: &mut Vec<PublishedPort>,
    ) -> Result<(), NetworkError> {
        let protocol = mapping.protocol;
        let host_ip = mapping.host_ip.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let port =
            |host_port, container_port| PublishedPort { protocol, host_ip, host_port, container_ip, container_port };
        match mapping.host_ports {
            // 8000-8010:8000-8010, or 8080:80
            Some(host) if host.count() == mapping.container_ports.count() => {
                for (h, c) in host.ports().zip(mapping.container_ports.ports()) {
                    self.check_port(container_id, protocol, host_ip, h, planned)?;
                    planned.push(port(h, c));
                }
            }
            // 8000-8010:80: the first free port of the range.
            Some(host) => {
                let chosen =
                    host.ports().find(|h| self.check_port(container_id, protocol, host_ip, *h, planned).is_ok());
                let h =
                    chosen.ok_or_else(|| NetworkError::NoFreePort { protocol, host_ip, range: host.to_string() })?;
                planned.push(port(h, mapping.container_ports.start));
            }
            // 80: an ephemeral port per container port.
            None => {
                for c in mapping.container_ports.ports() {
                    let h = self.ephemeral(container_id, protocol, host_ip, planned)?;
                    planned.push(port(h, c));
                }
            }
        }
        Ok(())
    }

    fn ephemeral(
        &self,
        container_id: &str,
        protocol: Protocol,
        host_ip: Ipv4Addr,
        planned: &[PublishedPort],
    ) -> Result<u16, NetworkError> {
        for _ in 0..EPHEMERAL_TRIES {
            let candidate = ports::ephemeral_port(protocol, host_ip).map_err(|e| bind_error(host_ip, e))?;
            if self.check_port(container_id, protocol, host_ip, candidate, planned).is_ok() {
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
        host_ip: Ipv4Addr,
        port: u16,
        planned: &[PublishedPort],
    ) -> Result<(), NetworkError> {
        let in_use = |holder: String| NetworkError::PortInUse { protocol, host_ip, port, holder };
        let overlaps = |other: Ipv4Addr| other == host_ip || other.is_unspecified() || host_ip.is_unspecified();
        if planned.iter().any(|p| p.protocol == protocol && p.host_port == port && overlaps(p.host_ip)) {
            return Err(in_use("asked for twice".into()));
        }
        if let Some(holder) = Store::port_holder(self.store.conn(), protocol, host_ip, port)? {
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
        let _lock = self.lock()?;
        self.unpublish_locked(container_id)
    }

    pub(super) fn unpublish_locked(&self, container_id: &str) -> Result<(), NetworkError> {
        let published: Vec<_> =
            Store::ports(self.store.conn(), Some(container_id))?.into_iter().map(|(_, p)| p).collect();
        if published.is_empty() {
            return Ok(());
        }
        self.store.write(|tx| Store::delete_ports(tx, container_id))?;
        self.firewall(&self.nft.render_ports("delete", &published))
    }

    /// `berth port`: what the container has published.
    pub fn ports(&self, container_id: &str) -> Result<Vec<PublishedPort>, NetworkError> {
        Ok(Store::ports(self.store.conn(), Some(container_id))?.into_iter().map(|(_, p)| p).collect())
    }
}

fn bind_error(host_ip: Ipv4Addr, e: io::Error) -> NetworkError {
    if e.kind() == io::ErrorKind::AddrNotAvailable {
        NetworkError::Invalid(format!("host address {host_ip} is not an address of this host"))
    } else {
        NetworkError::io(format!("cannot check host ports on {host_ip}"))(e)
    }
}
