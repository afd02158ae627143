//! Bringing the DNS server's files in line with the database, then reloading
//! it: the networks' names, and the ports it proxies on IPv6 loopback.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use super::NetworkManager;
use crate::dns::{self, ContainerEntry, NetworkFile, PendingReload, Proxy};
use crate::error::NetworkError;
use crate::store::{AttachmentRow, Store};

/// Docker answers to the first 12 digits of a container id too.
const SHORT_ID: usize = 12;

fn entry(row: &AttachmentRow) -> ContainerEntry {
    let mut names: Vec<String> = Vec::new();
    let short_id = row.container_id.get(..SHORT_ID).unwrap_or(&row.container_id).to_string();
    let candidates = std::iter::once(row.container_name.clone())
        .chain(row.hostname.clone())
        .chain(row.aliases.iter().cloned())
        .chain(std::iter::once(short_id));
    for name in candidates {
        if !name.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
            names.push(name);
        }
    }
    ContainerEntry {
        id: row.container_id.clone(),
        ip: row.ipv4,
        ip6: row.ipv6,
        names,
        links: row.links.clone(),
        upstreams: row.dns_servers.iter().map(|ip| SocketAddr::new(*ip, 53)).collect(),
    }
}

impl NetworkManager {
    /// Rewrites the files of `network_ids` (removing those of networks that are
    /// gone or have no DNS) and has the server re-read them.
    pub(super) fn sync_dns(&self, network_ids: &[String]) -> Result<(), NetworkError> {
        Ok(self.begin_sync_dns(network_ids)?.finish()?)
    }

    /// [`Self::sync_dns`] in two halves: files written and reload sent now,
    /// the answer awaited by `finish` (so the server works while we plumb).
    pub(super) fn begin_sync_dns(&self, network_ids: &[String]) -> Result<PendingReload<'_>, NetworkError> {
        self.write_dns_files(network_ids)?;
        Ok(self.dns.begin_reload(Some(network_ids)))
    }

    /// Waits for a reload that [`Self::begin_sync_dns`] sent (or says why it was not sent).
    pub(super) fn await_dns(pending: Result<PendingReload<'_>, NetworkError>) -> Result<(), NetworkError> {
        Ok(pending?.finish()?)
    }

    fn write_dns_files(&self, network_ids: &[String]) -> Result<(), NetworkError> {
        for id in network_ids {
            let network = Store::find_network(&self.store.conn(), id)?.filter(|n| n.id == *id && n.dns);
            match network {
                Some(network) => {
                    let containers = Store::network_attachments(&self.store.conn(), id)?
                        .iter()
                        .filter(|row| row.active)
                        .map(entry)
                        .collect();
                    let file = NetworkFile {
                        id: network.id.clone(),
                        name: network.name.clone(),
                        subnet: network.subnet,
                        subnet6: network.ipv6.map(|v6| v6.subnet),
                        gateway: network.gateway,
                        internal: network.internal,
                        containers,
                    };
                    dns::write_network(self.dns_dir(), &file)?;
                }
                None => dns::remove_network(self.dns_dir(), id)?,
            }
        }
        Ok(())
    }

    /// Every network's file, and no file of a network that no longer exists;
    /// the proxies as published.
    pub(super) fn sync_dns_all(&self) -> Result<(), NetworkError> {
        let mut ids: BTreeSet<String> = self.store.networks()?.into_iter().map(|n| n.id).collect();
        ids.extend(dns::network_ids(self.dns_dir())?);
        self.write_dns_files(&ids.into_iter().collect::<Vec<_>>())?;
        self.write_proxies(&self.store.conn())?;
        self.dns.reload(None)?;
        Ok(())
    }

    /// The proxies as `conn` (the database, or a transaction about to commit)
    /// has the published ports, served before this returns.
    pub(super) fn sync_proxies_in(&self, conn: &rusqlite::Connection) -> Result<(), NetworkError> {
        self.write_proxies(conn)?;
        Ok(self.dns.reload(Some(&[]))?)
    }

    pub(super) fn sync_proxies(&self) -> Result<(), NetworkError> {
        self.sync_proxies_in(&self.store.conn())
    }

    fn write_proxies(&self, conn: &rusqlite::Connection) -> Result<(), NetworkError> {
        let proxies: Vec<Proxy> = Store::ports(conn, None)?
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.proxied())
            .map(|p| Proxy {
                protocol: p.protocol,
                port: p.host_port,
                target: SocketAddr::new(p.container_ip, p.container_port),
            })
            .collect();
        Ok(dns::write_proxies(self.dns_dir(), &proxies)?)
    }

    /// The networks of a container, for a DNS update after it changed.
    pub(super) fn network_ids_of(&self, container_id: &str) -> Result<Vec<String>, NetworkError> {
        Ok(Store::container_attachments(&self.store.conn(), container_id)?.into_iter().map(|r| r.network_id).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_list_each_name_once_with_the_container_name_first() {
        let row = AttachmentRow {
            container_id: "0123456789abcdef0123".into(),
            network_id: "n".into(),
            position: 0,
            ipv4: "10.89.0.2".parse().unwrap(),
            ipv6: Some("fd89::2".parse().unwrap()),
            container_name: "web-1".into(),
            hostname: Some("WEB-1".into()),
            aliases: vec!["web".into(), "web".into()],
            links: vec![],
            dns_servers: vec!["192.0.2.53".parse().unwrap()],
            active: true,
        };
        let entry = entry(&row);
        assert_eq!(entry.names, vec!["web-1", "web", "0123456789ab"]);
        assert_eq!(entry.ip6, Some("fd89::2".parse().unwrap()), "the AAAA answer");
        assert_eq!(entry.upstreams, vec!["192.0.2.53:53".parse::<SocketAddr>().unwrap()]);
    }
}
