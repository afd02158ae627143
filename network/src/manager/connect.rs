//! `network connect` / `disconnect`: a veth pair per container per network.

use std::collections::HashSet;
use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::IpNet;

use super::NetworkManager;
use crate::error::NetworkError;
use crate::model::{Attachment, ConnectOptions, Network};
use crate::netlink::{self, Rtnl, VethSpec};
use crate::store::{AttachmentRow, Store};
use crate::{ids, ipam, netns, sysctl};

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
    ///
    /// The lease, the DNS files and a missing bridge are made under the change
    /// lock; the veth, addresses and routes, which are the container's alone,
    /// are made after it is released, so containers connect in parallel.
    pub fn connect(
        &self,
        container_id: &str,
        netns_path: &Path,
        network: &str,
        options: &ConnectOptions,
    ) -> Result<Attachment, NetworkError> {
        check_options(container_id, options)?;
        let _container = self.lock_container(container_id)?;
        let mut rtnl = Rtnl::open()?;
        // Read before the change lock: the container's lock keeps its row and
        // veth as they are, and the network and its bridge (removing them waits
        // for every container's lock).
        let network = self.network(network)?;
        let host_veth = ids::host_veth_name(&self.config.prefix, container_id, &network.id);
        let previous = Store::attachment(&self.store.conn(), container_id, &network.id)?;
        if previous.is_some() && netlink::link_by_name(&mut rtnl, &host_veth)?.is_some() {
            return Err(NetworkError::AlreadyConnected { container: container_id.into(), network: network.name });
        }
        let bridge = netlink::link_by_name(&mut rtnl, &network.bridge)?.map(|link| link.index);
        let lock = self.lock("connect")?;
        let row = self.store.write(|tx| {
            let row = self.lease(tx, container_id, &network, options, previous.as_ref())?;
            if previous.is_some() {
                Store::delete_attachment(tx, container_id, &network.id)?;
            }
            Store::insert_attachment(tx, &row)?;
            Ok::<_, NetworkError>(row)
        })?;
        let ids = std::slice::from_ref(&network.id);
        // A bridge missing (after a reboot) is made again, under the lock.
        let bridge = match bridge {
            Some(index) => Ok(index),
            None => self.ensure_bridge(&mut rtnl, &network).map(|(index, _)| index),
        };
        let decided = bridge.and_then(|bridge| Ok((bridge, self.begin_sync_dns(ids)?)));
        drop(lock);
        // The DNS server registers the names while the veth is plumbed.
        let result = decided.and_then(|(bridge, pending)| {
            let plumbed = self.plumb(&mut rtnl, &network, &row, &host_veth, bridge, netns_path);
            let registered = pending.finish().map_err(NetworkError::from);
            plumbed.and(registered)
        });
        if let Err(e) = result {
            self.undo_connect(&mut rtnl, &network, &host_veth, container_id, previous.as_ref());
            return Err(e);
        }
        tracing::debug!(container = container_id, network = %network.name, ip = %row.ipv4, ipv6 = ?row.ipv6, "connected");
        Ok(self.attachment(&row, &network))
    }

    /// Takes back a connection that failed after its row was written: the veth
    /// (the container's own), then, under the change lock, the row and the names.
    fn undo_connect(
        &self,
        rtnl: &mut Rtnl,
        network: &Network,
        host_veth: &str,
        container_id: &str,
        previous: Option<&AttachmentRow>,
    ) {
        let _ = self.unplumb(rtnl, host_veth);
        let ids = std::slice::from_ref(&network.id);
        let pending = self.lock("connect: undo").and_then(|_lock| {
            // A lease that existed before stays, so the address is still the container's.
            self.store.write(|tx| match previous {
                Some(old) => Store::delete_attachment(tx, container_id, &network.id)
                    .and_then(|()| Store::insert_attachment(tx, old)),
                None => Store::delete_attachment(tx, container_id, &network.id),
            })?;
            self.begin_sync_dns(ids)
        });
        if let Err(e) = Self::await_dns(pending) {
            // What is left is found by `recover` (a lease without its veth).
            tracing::warn!(container = container_id, network = %network.name, error = %e, "cannot undo a failed connection");
        }
    }

    /// The attachment row to write: the previous lease's addresses and
    /// interface when there is one, otherwise `--ip`/`--ip6` or the lowest free
    /// addresses.
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
        let others: Vec<&AttachmentRow> = on_network.iter().filter(|r| r.container_id != container_id).collect();
        let position = match previous {
            Some(old) => old.position,
            None => (0u32..)
                .find(|p| mine.iter().all(|r| r.position != *p || r.network_id == network.id))
                .expect("fewer than 2^32 attachments"),
        };
        let v4 = Pool {
            subnet: IpNet::V4(network.subnet),
            ip_range: network.ip_range.map(IpNet::V4),
            gateway: IpAddr::V4(network.gateway),
            taken: others.iter().map(|r| (IpAddr::V4(r.ipv4), r.container_name.as_str())).collect(),
        };
        let kept = previous.map(|old| IpAddr::V4(old.ipv4));
        let IpAddr::V4(ipv4) = self.address(network, &v4, options.ip.map(IpAddr::V4), kept)? else {
            unreachable!("an address keeps its pool's family")
        };
        let ipv6 = match (network.ipv6, options.ip6) {
            (Some(v6), fixed) => {
                let pool = Pool {
                    subnet: IpNet::V6(v6.subnet),
                    ip_range: v6.ip_range.map(IpNet::V6),
                    gateway: IpAddr::V6(v6.gateway),
                    taken: others
                        .iter()
                        .filter_map(|r| Some((IpAddr::V6(r.ipv6?), r.container_name.as_str())))
                        .collect(),
                };
                let kept = previous.and_then(|old| old.ipv6).map(IpAddr::V6);
                let IpAddr::V6(ip) = self.address(network, &pool, fixed.map(IpAddr::V6), kept)? else {
                    unreachable!("an address keeps its pool's family")
                };
                Some(ip)
            }
            (None, Some(ip)) => {
                return Err(NetworkError::NoIpv6 { network: network.name.clone(), what: format!("--ip6 {ip}") });
            }
            (None, None) => None,
        };
        Ok(AttachmentRow {
            container_id: container_id.to_string(),
            network_id: network.id.clone(),
            position,
            ipv4,
            ipv6,
            container_name: options.container_name.clone(),
            hostname: options.hostname.clone(),
            aliases: options.aliases.clone(),
            links: options.links.clone(),
            dns_servers: options.dns_servers.clone(),
            // A stopped container connected to one more network stays unseen until it starts.
            active: mine.iter().find(|r| r.network_id != network.id).is_none_or(|r| r.active),
        })
    }

    /// One family's address: the one asked for (`fixed`, checked and free),
    /// else the one the container had (`kept`), else the lowest free one.
    fn address(
        &self,
        network: &Network,
        pool: &Pool<'_>,
        fixed: Option<IpAddr>,
        kept: Option<IpAddr>,
    ) -> Result<IpAddr, NetworkError> {
        if let Some(ip) = fixed.filter(|ip| Some(*ip) != kept) {
            ipam::check_fixed_address(pool.subnet, pool.gateway, ip).map_err(|reason| {
                NetworkError::AddressOutside { ip, network: network.name.clone(), subnet: pool.subnet, reason }
            })?;
            if let Some((_, holder)) = pool.taken.iter().find(|(taken, _)| *taken == ip) {
                let container = holder.to_string();
                return Err(NetworkError::AddressTaken { ip, network: network.name.clone(), container });
            }
            return Ok(ip);
        }
        if let Some(ip) = kept {
            return Ok(ip);
        }
        let used: HashSet<IpAddr> = pool.taken.iter().map(|(ip, _)| *ip).collect();
        ipam::choose_address(pool.subnet, pool.ip_range, pool.gateway, &used)
            .ok_or_else(|| NetworkError::NoAddress { network: network.name.clone() })
    }

    /// The kernel side of an attachment: the veth (peer born inside the
    /// namespace) on the bridge `bridge_index`, then the address, link and
    /// default route from inside. Touches nothing but the container's own
    /// objects, so it runs without the change lock.
    fn plumb(
        &self,
        rtnl: &mut Rtnl,
        network: &Network,
        row: &AttachmentRow,
        host_veth: &str,
        bridge_index: u32,
        netns_path: &Path,
    ) -> Result<(), NetworkError> {
        let netns_file = File::open(netns_path)
            .map_err(NetworkError::io(format!("cannot open the network namespace {}", netns_path.display())))?;
        let interface = format!("eth{}", row.position);
        let alias = ids::veth_alias(&self.config.prefix, &row.container_id, &network.id);
        let (_, peer_index) = netlink::create_veth(
            rtnl,
            &VethSpec {
                host_name: host_veth,
                host_alias: &alias,
                bridge_index,
                mtu: network.mtu,
                peer_name: &interface,
                peer_mac: ids::mac_for(row.ipv4),
                peer_netns: netns_file.as_fd(),
            },
        )?;
        let mut addresses = vec![(IpAddr::V4(row.ipv4), network.subnet.prefix_len(), IpAddr::V4(network.gateway))];
        if let (Some(v6), Some(ip)) = (network.ipv6, row.ipv6) {
            addresses.push((IpAddr::V6(ip), v6.subnet.prefix_len(), IpAddr::V6(v6.gateway)));
        }
        let internal = network.internal;
        netns::in_netns(netns_path, || -> Result<(), NetworkError> {
            let mut inside = Rtnl::open()?;
            // IPv6 on this interface only where the network has it.
            sysctl::set_ipv6(&interface, addresses.len() > 1)?;
            for (ip, prefix_len, _) in &addresses {
                netlink::add_address(&mut inside, peer_index, *ip, *prefix_len, &interface)?;
            }
            // Not at creation: a veth cannot be opened before its peer is linked to it (ENOTCONN).
            netlink::set_up(&mut inside, peer_index, &interface)?;
            // The first network that leads out gets the default route of each
            // of its families; later ones do not replace it.
            if !internal {
                for (_, _, gateway) in &addresses {
                    netlink::add_default_route(&mut inside, *gateway, peer_index)?;
                }
            }
            Ok(())
        })??;
        Ok(())
    }

    /// Disconnects a container from a network: the veth goes (its peer with it),
    /// the lease is released, ports published on that address are unpublished.
    /// Goes on past failures and reports them all.
    pub fn disconnect(&self, container_id: &str, network: &str) -> Result<(), NetworkError> {
        let _container = self.lock_container(container_id)?;
        let mut rtnl = Rtnl::open()?;
        let lock = self.lock("disconnect")?;
        let network = self.network(network)?;
        let row = Store::attachment(&self.store.conn(), container_id, &network.id)?.ok_or_else(|| {
            NetworkError::NotConnected { container: container_id.to_string(), network: network.name.clone() }
        })?;
        let mut errors = self.forget(&network, &row);
        let pending = self.begin_sync_dns(std::slice::from_ref(&network.id));
        drop(lock);
        let host_veth = ids::host_veth_name(&self.config.prefix, container_id, &network.id);
        if let Err(e) = self.unplumb(&mut rtnl, &host_veth) {
            errors.push(e);
        }
        if let Err(e) = Self::await_dns(pending) {
            errors.push(e);
        }
        NetworkError::collect(errors)
    }

    /// [`Self::disconnect`] of one attachment, all under the locks the caller
    /// holds, without the DNS reload.
    pub(super) fn disconnect_locked(
        &self,
        rtnl: &mut Rtnl,
        network: &Network,
        row: &AttachmentRow,
    ) -> Result<(), NetworkError> {
        let mut errors = self.forget(network, row);
        let host_veth = ids::host_veth_name(&self.config.prefix, &row.container_id, &network.id);
        if let Err(e) = self.unplumb(rtnl, &host_veth) {
            errors.push(e);
        }
        NetworkError::collect(errors)
    }

    /// Under the change lock: the attachment's row and the ports published on
    /// its addresses go, from the database and the firewall. Returns the errors.
    pub(super) fn forget(&self, network: &Network, row: &AttachmentRow) -> Vec<NetworkError> {
        let mut errors = Vec::new();
        let addresses: Vec<IpAddr> = std::iter::once(IpAddr::V4(row.ipv4)).chain(row.ipv6.map(IpAddr::V6)).collect();
        let stale_ports: Vec<_> = match Store::ports(&self.store.conn(), Some(&row.container_id)) {
            Ok(ports) => ports.into_iter().map(|(_, p)| p).filter(|p| addresses.contains(&p.container_ip)).collect(),
            Err(e) => {
                errors.push(e.into());
                Vec::new()
            }
        };
        if let Err(e) = self.store.write(|tx| {
            Store::delete_attachment(tx, &row.container_id, &network.id)?;
            for ip in &addresses {
                Store::delete_ports_to(tx, &row.container_id, *ip)?;
            }
            Ok::<_, NetworkError>(())
        }) {
            errors.push(e);
        }
        if !stale_ports.is_empty()
            && let Err(e) = self.firewall(&self.nft.render_ports("delete", &stale_ports))
        {
            errors.push(e);
        }
        if stale_ports.iter().any(|p| p.proxied())
            && let Err(e) = self.sync_proxies()
        {
            errors.push(e);
        }
        errors
    }

    /// Deletes the host end of a container's veth (its peer goes with it), if it is there.
    pub(super) fn unplumb(&self, rtnl: &mut Rtnl, host_veth: &str) -> Result<(), NetworkError> {
        let Some(link) = netlink::link_by_name(rtnl, host_veth)? else { return Ok(()) };
        match netlink::delete_link(rtnl, link.index, host_veth) {
            // Gone in between, with the namespace that held its peer.
            Err(e) if e.errno() == Some(nix::errno::Errno::ENODEV as i32) => Ok(()),
            other => Ok(other?),
        }
    }
}

/// One family's addresses on a network, and who holds which.
struct Pool<'a> {
    subnet: IpNet,
    ip_range: Option<IpNet>,
    gateway: IpAddr,
    /// Other containers' addresses, with their names.
    taken: Vec<(IpAddr, &'a str)>,
}
