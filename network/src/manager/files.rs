//! A container's /etc/resolv.conf and /etc/hosts, from its attachments.

use std::net::IpAddr;

use super::{NetworkManager, upstreams};
use crate::container_files::{self, Resolv};
use crate::error::NetworkError;
use crate::model::{HostsOptions, ResolvOptions};
use crate::store::Store;

/// resolv.conf allows three nameservers.
const MAX_NAMESERVERS: usize = 3;

impl NetworkManager {
    /// With a DNS-enabled network: the gateways of those networks, berth's
    /// search domain and `ndots:0` (like Docker's embedded DNS); `--dns` then
    /// only changes where the embedded DNS forwards. Without one: `--dns` or the
    /// host's (non-loopback) servers, as Docker does on its default bridge.
    pub fn resolv_conf_for(&self, container_id: &str, options: &ResolvOptions) -> Result<String, NetworkError> {
        let networks = self.store.networks()?;
        let gateways: Vec<IpAddr> = Store::container_attachments(&self.store.conn(), container_id)?
            .iter()
            .filter_map(|row| networks.iter().find(|n| n.id == row.network_id && n.dns))
            .map(|n| IpAddr::V4(n.gateway))
            .take(MAX_NAMESERVERS)
            .collect();
        let host = self.host_resolv()?;
        let resolv = if gateways.is_empty() {
            Resolv {
                nameservers: if options.servers.is_empty() { host.nameservers } else { options.servers.clone() },
                search: if options.search.is_empty() { host.search } else { options.search.clone() },
                options: if options.options.is_empty() { host.options } else { options.options.clone() },
            }
        } else {
            Resolv {
                nameservers: gateways,
                search: std::iter::once(self.config.domain.clone()).chain(options.search.iter().cloned()).collect(),
                options: std::iter::once("ndots:0".to_string()).chain(options.options.iter().cloned()).collect(),
            }
        };
        Ok(container_files::render_resolv_conf(&resolv))
    }

    /// The host's resolver settings as a container may use them.
    fn host_resolv(&self) -> Result<Resolv, NetworkError> {
        let mut resolv = match &self.config.upstreams {
            crate::config::Upstreams::ResolvConf(path) => {
                container_files::parse_resolv_conf(&std::fs::read_to_string(path).unwrap_or_default())
            }
            crate::config::Upstreams::Explicit(_) => Resolv::default(),
        };
        resolv.nameservers = upstreams(&self.config.upstreams)?.iter().map(|s| s.ip()).collect();
        Ok(resolv)
    }

    /// The container's addresses on its first network (IPv4, and IPv6 where
    /// the network has it) with its hostname and name, its links (the only way they resolve on a network without DNS),
    /// and `--add-host` entries.
    pub fn hosts_for(&self, container_id: &str, options: &HostsOptions) -> Result<String, NetworkError> {
        let rows = Store::container_attachments(&self.store.conn(), container_id)?;
        let mut entries: Vec<(IpAddr, Vec<String>)> = Vec::new();
        if let Some(first) = rows.first() {
            let mut names = vec![options.hostname.clone()];
            if !first.container_name.is_empty() && first.container_name != options.hostname {
                names.push(first.container_name.clone());
            }
            names.retain(|n| !n.is_empty());
            // Both families' addresses, as Docker writes them on a network with IPv6.
            entries.push((IpAddr::V4(first.ipv4), names.clone()));
            if let Some(ipv6) = first.ipv6 {
                entries.push((IpAddr::V6(ipv6), names));
            }
        }
        for row in &rows {
            for link in &row.links {
                let target = Store::network_attachments(&self.store.conn(), &row.network_id)?
                    .into_iter()
                    .find(|other| other.container_name == link.name);
                if let Some(target) = target {
                    for ip in std::iter::once(IpAddr::V4(target.ipv4)).chain(target.ipv6.map(IpAddr::V6)) {
                        if !entries.iter().any(|(have, names)| *have == ip && names.contains(&link.alias)) {
                            entries.push((ip, vec![link.alias.clone(), link.name.clone()]));
                        }
                    }
                }
            }
        }
        Ok(container_files::render_hosts(&entries, &options.extra_hosts))
    }
}
