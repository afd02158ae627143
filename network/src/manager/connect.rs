//! `network connect` / `disconnect`: a veth pair per container per network.

use std::collections::HashSet;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use super::NetworkManager;
use crate::error::NetworkError;
use crate::model::{Attachment, ConnectOptions, Network};
use crate::netlink::{self, Rtnl, VethSpec};
use crate::store::{AttachmentRow, Store};
use crate::{ids, ipam, netns};

fn check_options(container_id: &str, options: &ConnectOptions) -> Result<(), NetworkError> {
    ids::check_container_id(container_id).map_err(NetworkError::Invalid)?;
    let check = |what, name: &str| ids::check_dns_name(what, name).map_err(NetworkError::Invalid);
    check("container name", &options.container_name)?;
    if let Some(hostname) = &options.hostname {
        check("hostname", hostname)?;
    }
    for alias in &options.aliases {
        check("network alias", alias)?;
    }
    for link in &options.links {
        check("link name", &link.name)?;
        check("link alias", &link.alias)?;
    }
    Ok(())
}

impl NetworkManager {
    /// Connects a container's namespace to a network: a veth pair whose inside
    /// end is `eth<n>` with the container's address (kept from an earlier
    /// connection when there is one: the lease outlives a lost namespace), a
    /// default route through the first non-internal network, and the
    /// container's names in the network's DNS (unless the container's other
    /// attachments say it is stopped: see `deactivate`). All or nothing.
    pub fn connect(
        &self,
        container_id: &str,
        netns_path: &Path,
        network: &str,
        options: &ConnectOptions,
    ) -> Result<Attachment, NetworkError> {
        check_options(container_id, options)?;
        let _lock = self.lock()?;
        let network = self.network(network)?;
        let mut rtnl = Rtnl::open()?;
        let host_veth = ids::host_veth_name(&self.config.prefix, container_id, &network.id);
        let previous = Store::attachment(self.store.conn(), container_id, &network.id)?;
        if previous.is_some() && netlink::link_by_name(&mut rtnl, &host_veth)?.is_some() {
            return Err(NetworkError::AlreadyConnected { container: container_id.into(), network: network.name });
        }
        let row = self.store.write(|tx| {
            let row = self.lease(tx, container_id, &network, options, previous.as_ref())?;
            if previous.is_some() {
                Store::delete_attachment(tx, container_id, &network.id)?;
            }
            Store::insert_attachment(tx, &row)?;
            Ok::<_, NetworkError>(row)
        })?;
        // The DNS server registers the names while the veth is plumbed.
        let ids = std::slice::from_ref(&network.id);
        let result = self.begin_sync_dns(ids).and_then(|pending| {
            let plumbed = self.plumb(&mut rtnl, &network, &row, &host_veth, netns_path);
            let registered = pending.finish().map_err(NetworkError::from);
            plumbed.and(registered)
        });
        if let Err(e) = result {
            if let Ok(Some(link)) = netlink::link_by_name(&mut rtnl, &host_veth) {
                let _ = netlink::delete_link(&mut rtnl, link.index, &host_veth);
            }
            // A lease that existed before stays, so the address is still the container's.
            let _ = self.store.write(|tx| match &previous {
                Some(old) => Store::delete_attachment(tx, container_id, &network.id)
                    .and_then(|()| Store::insert_attachment(tx, old)),
                None => Store::delete_attachment(tx, container_id, &network.id),
            });
            let _ = self.sync_dns(ids);
            return Err(e);
        }
        tracing::debug!(container = container_id, network = %network.name, ip = %row.ipv4, "connected");
        Ok(self.attachment(&row, &network))
    }

    /// The attachment row to write: the previous lease's address and interface
    /// when there is one, otherwise `--ip` or the lowest free address.
    fn lease(
        &self,
        tx: &rusqlite::Transaction<'_>,
        container_id: &str,
        network: &Network,
        options: &ConnectOptions,
        previous: Option<&AttachmentRow>,
    ) -> Result<AttachmentRow, NetworkError> {
        let on_network = Store::network_attachments(tx, &network.id)?;
        let mine = Store::container_attachments(tx, container_id)?;
        let (position, ipv4) = match previous {
            Some(old) if options.ip.is_none_or(|ip| ip == old.ipv4) => (old.position, old.ipv4),
            _ => {
                let position = (0u32..).find(|p| mine.iter().all(|r| r.position != *p || r.network_id == network.id));
                let position = position.expect("fewer than 2^32 attachments");
                let others = on_network.iter().filter(|r| r.container_id != container_id);
                let ip = match options.ip {
                    Some(ip) => {
                        self.check_fixed_ip(network, ip)?;
                        if let Some(holder) = on_network.iter().find(|r| r.ipv4 == ip && r.container_id != container_id)
                        {
                            return Err(NetworkError::AddressTaken {
                                ip,
                                network: network.name.clone(),
                                container: holder.container_name.clone(),
                            });
                        }
                        ip
                    }
                    None => {
                        let used: HashSet<_> = others.map(|r| r.ipv4).collect();
                        ipam::choose_address(network.subnet, network.ip_range, network.gateway, &used)
                            .ok_or_else(|| NetworkError::NoAddress { network: network.name.clone() })?
                    }
                };
                (position, ip)
            }
        };
        Ok(AttachmentRow {
            container_id: container_id.to_string(),
            network_id: network.id.clone(),
            position,
            ipv4,
            container_name: options.container_name.clone(),
            hostname: options.hostname.clone(),
            aliases: options.aliases.clone(),
            links: options.links.clone(),
            dns_servers: options.dns_servers.clone(),
            // A stopped container connected to one more network stays unseen until it starts.
            active: mine.iter().find(|r| r.network_id != network.id).is_none_or(|r| r.active),
        })
    }

    fn check_fixed_ip(&self, network: &Network, ip: std::net::Ipv4Addr) -> Result<(), NetworkError> {
        let reason = if !network.subnet.contains(&ip) {
            Some("it is outside the subnet")
        } else if ip == network.gateway {
            Some("it is the gateway")
        } else if ip == network.subnet.network() || ip == network.subnet.broadcast() {
            Some("it is the subnet's network or broadcast address")
        } else {
            None
        };
        match reason {
            Some(reason) => {
                Err(NetworkError::AddressOutside { ip, network: network.name.clone(), subnet: network.subnet, reason })
            }
            None => Ok(()),
        }
    }

    /// The kernel side of an attachment: the veth (peer born inside the
    /// namespace), then the address, link and default route from inside.
    fn plumb(
        &self,
        rtnl: &mut Rtnl,
        network: &Network,
        row: &AttachmentRow,
        host_veth: &str,
        netns_path: &Path,
    ) -> Result<(), NetworkError> {
        self.ensure_bridge(rtnl, network)?;
        let bridge = netlink::link_by_name(rtnl, &network.bridge)?.ok_or_else(|| {
            NetworkError::Invalid(format!("the bridge {} of network {} vanished", network.bridge, network.name))
        })?;
        let netns_file = File::open(netns_path)
            .map_err(NetworkError::io(format!("cannot open the network namespace {}", netns_path.display())))?;
        let interface = format!("eth{}", row.position);
        let alias = ids::veth_alias(&self.config.prefix, &row.container_id, &network.id);
        let (_, peer_index) = netlink::create_veth(
            rtnl,
            &VethSpec {
                host_name: host_veth,
                host_alias: &alias,
                bridge_index: bridge.index,
                mtu: network.mtu,
                peer_name: &interface,
                peer_mac: ids::mac_for(row.ipv4),
                peer_netns: netns_file.as_fd(),
            },
        )?;
        let (ip, prefix_len, gateway, internal) =
            (row.ipv4, network.subnet.prefix_len(), network.gateway, network.internal);
        netns::in_netns(netns_path, || -> Result<(), NetworkError> {
            let mut inside = Rtnl::open()?;
            netlink::add_address(&mut inside, peer_index, ip, prefix_len, &interface)?;
            // Not at creation: a veth cannot be opened before its peer is linked to it (ENOTCONN).
            netlink::set_up(&mut inside, peer_index, &interface)?;
            // The first network that leads out gets the default route; later ones do not replace it.
            if !internal {
                netlink::add_default_route(&mut inside, gateway, peer_index)?;
            }
            Ok(())
        })??;
        Ok(())
    }

    /// Disconnects a container from a network: the veth goes (its peer with it),
    /// the lease is released, ports published on that address are unpublished.
    pub fn disconnect(&self, container_id: &str, network: &str) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        let network = self.network(network)?;
        let row = Store::attachment(self.store.conn(), container_id, &network.id)?.ok_or_else(|| {
            NetworkError::NotConnected { container: container_id.to_string(), network: network.name.clone() }
        })?;
        let mut rtnl = Rtnl::open()?;
        self.disconnect_locked(&mut rtnl, &network, &row)?;
        self.sync_dns(std::slice::from_ref(&network.id))
    }

    /// The work of [`Self::disconnect`] without the lock and the DNS reload.
    pub(super) fn disconnect_locked(
        &self,
        rtnl: &mut Rtnl,
        network: &Network,
        row: &AttachmentRow,
    ) -> Result<(), NetworkError> {
        let mut errors = Vec::new();
        let stale_ports: Vec<_> = Store::ports(self.store.conn(), Some(&row.container_id))?
            .into_iter()
            .map(|(_, p)| p)
            .filter(|p| p.container_ip == row.ipv4)
            .collect();
        if let Err(e) = self.store.write(|tx| {
            Store::delete_attachment(tx, &row.container_id, &network.id)?;
            Store::delete_ports_to(tx, &row.container_id, row.ipv4)?;
            Ok::<_, NetworkError>(())
        }) {
            errors.push(e);
        }
        if !stale_ports.is_empty()
            && let Err(e) = self.firewall(&self.nft.render_ports("delete", &stale_ports))
        {
            errors.push(e);
        }
        let host_veth = ids::host_veth_name(&self.config.prefix, &row.container_id, &network.id);
        match netlink::link_by_name(rtnl, &host_veth) {
            Ok(Some(link)) => {
                if let Err(e) = netlink::delete_link(rtnl, link.index, &host_veth) {
                    errors.push(e.into());
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e.into()),
        }
        NetworkError::collect(errors)
    }
}
