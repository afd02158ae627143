//! `network create | rm | ls | inspect | prune` and the default `bridge`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use ipnet::IpNet;

use super::NetworkManager;
use crate::config::IPV6_PREFIX_LEN;
use crate::error::NetworkError;
use crate::ipam;
use crate::model::{DEFAULT_NETWORK, Ipv6Subnet, Network, NetworkDetails, NetworkSpec};
use crate::netlink::{self, Rtnl};
use crate::nft::FwNetwork;
use crate::store::Store;
use crate::{ids, sysctl};

impl NetworkManager {
    /// Creates a network: its row, its bridge with the gateway address, its
    /// firewall elements and (with DNS) its DNS listener. All or nothing.
    pub fn create_network(&self, spec: &NetworkSpec) -> Result<Network, NetworkError> {
        if spec.name == DEFAULT_NETWORK {
            return Err(NetworkError::Exists(spec.name.clone()));
        }
        let _lock = self.lock("create a network")?;
        self.create_locked(spec)
    }

    /// The default network, created on first use (bridge `<prefix>0` when free, no DNS).
    pub fn ensure_default_bridge(&self) -> Result<Network, NetworkError> {
        let _lock = self.lock("default network")?;
        let existing = Store::find_network(&self.store.conn(), DEFAULT_NETWORK)?;
        if let Some(network) = existing {
            let mut rtnl = Rtnl::open()?;
            self.ensure_bridge(&mut rtnl, &network)?;
            return Ok(network);
        }
        let mut spec = NetworkSpec::named(DEFAULT_NETWORK);
        spec.dns = false;
        self.create_locked(&spec)
    }

    fn create_locked(&self, spec: &NetworkSpec) -> Result<Network, NetworkError> {
        ids::check_network_name(&spec.name).map_err(NetworkError::Invalid)?;
        if let Some((key, _)) = spec.labels.iter().find(|(k, _)| k.is_empty()) {
            return Err(NetworkError::Invalid(format!("invalid label {key:?}: a label needs a key")));
        }
        if Store::find_network(&self.store.conn(), &spec.name)?.is_some_and(|n| n.name == spec.name) {
            return Err(NetworkError::Exists(spec.name.clone()));
        }
        let mut rtnl = Rtnl::open()?;
        let network = self.plan_network(spec, &mut rtnl)?;
        self.store.write(|tx| Store::insert_network(tx, &network))?;
        let result = self
            .setup_bridge(&mut rtnl, &network)
            .and_then(|_| self.firewall(&self.nft.render_network("add", &fw(&network))))
            .and_then(|()| self.sync_dns(std::slice::from_ref(&network.id)));
        if let Err(e) = result {
            // Undo what was done; whatever fails here, recovery finds by its mark.
            let _ = self.teardown_network(&mut rtnl, &network);
            return Err(e);
        }
        let subnet6 = network.ipv6.map(|v6| v6.subnet.to_string());
        tracing::info!(network = %network.name, bridge = %network.bridge, subnet = %network.subnet, ?subnet6, "network created");
        Ok(network)
    }

    /// Chooses the subnets, gateways and bridge name of a new network.
    fn plan_network(&self, spec: &NetworkSpec, rtnl: &mut Rtnl) -> Result<Network, NetworkError> {
        let mtu = spec.mtu.unwrap_or(self.config.mtu);
        if !(576..=65535).contains(&mtu) {
            return Err(NetworkError::Invalid(format!("--opt mtu={mtu} is outside 576..65535")));
        }
        if !spec.ipv6 {
            let given = (spec.subnet6.map(|s| format!("--subnet {s}")))
                .or_else(|| spec.gateway6.map(|g| format!("--gateway {g}")))
                .or_else(|| spec.ip_range6.map(|r| format!("--ip-range {r}")));
            if let Some(what) = given {
                return Err(NetworkError::Invalid(format!("{what} is IPv6: add --ipv6 to create a network with IPv6")));
            }
        }
        let existing = self.store.networks()?;
        let v4 = Family {
            subnet: spec.subnet.map(IpNet::V4),
            gateway: spec.gateway.map(IpAddr::V4),
            ip_range: spec.ip_range.map(IpNet::V4),
            pool: IpNet::V4(self.config.pool),
            prefix_len: self.config.pool_prefix_len,
            taken: existing.iter().map(|n| (n.name.as_str(), IpNet::V4(n.subnet))).collect(),
        };
        let (IpNet::V4(subnet), IpAddr::V4(gateway)) = self.plan_family(&v4, rtnl)? else {
            unreachable!("a plan keeps its family")
        };
        let ipv6 = match spec.ipv6 {
            false => None,
            true => {
                let v6 = Family {
                    subnet: spec.subnet6.map(IpNet::V6),
                    gateway: spec.gateway6.map(IpAddr::V6),
                    ip_range: spec.ip_range6.map(IpNet::V6),
                    pool: IpNet::V6(self.config.pool6),
                    prefix_len: IPV6_PREFIX_LEN,
                    taken: existing.iter().filter_map(|n| Some((n.name.as_str(), IpNet::V6(n.ipv6?.subnet)))).collect(),
                };
                let (IpNet::V6(subnet), IpAddr::V6(gateway)) = self.plan_family(&v6, rtnl)? else {
                    unreachable!("a plan keeps its family")
                };
                Some(Ipv6Subnet { subnet, gateway, ip_range: spec.ip_range6 })
            }
        };
        let mut bridge = None;
        for n in 0u32..10_000 {
            let name = format!("{}{n}", self.config.prefix);
            if existing.iter().all(|e| e.bridge != name) && netlink::link_by_name(rtnl, &name)?.is_none() {
                bridge = Some(name);
                break;
            }
        }
        let bridge = bridge.ok_or_else(|| NetworkError::Invalid("no free bridge name left".into()))?;
        Ok(Network {
            id: ids::new_network_id().map_err(NetworkError::io("cannot read /dev/urandom"))?,
            name: spec.name.clone(),
            bridge,
            subnet,
            gateway,
            ip_range: spec.ip_range,
            internal: spec.internal,
            dns: spec.dns,
            mtu,
            labels: spec.labels.clone(),
            created: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64),
            ipv6,
        })
    }

    /// One family's subnet (given, or the first free one of the pool) and
    /// gateway, the range checked: never overlapping another network or a
    /// route of the host.
    fn plan_family(&self, family: &Family<'_>, rtnl: &mut Rtnl) -> Result<(IpNet, IpAddr), NetworkError> {
        let any = match family.pool {
            IpNet::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            IpNet::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        };
        let routes: Vec<IpNet> =
            netlink::list_routes(rtnl, any)?.into_iter().filter(|r| r.prefix_len() > 0 && !is_link_local(*r)).collect();
        match family.subnet {
            Some(subnet) => {
                let gateway = ipam::check_network_addresses(subnet, family.gateway, family.ip_range)
                    .map_err(NetworkError::Invalid)?;
                if let Some((name, other)) = family.taken.iter().find(|(_, n)| ipam::overlaps(*n, subnet)) {
                    return Err(NetworkError::Overlap { subnet, what: format!("network {name} ({other})") });
                }
                if let Some(route) = routes.iter().find(|r| ipam::overlaps(**r, subnet)) {
                    return Err(NetworkError::Overlap { subnet, what: format!("the host route to {route}") });
                }
                Ok((subnet, gateway))
            }
            None => {
                if family.gateway.is_some() || family.ip_range.is_some() {
                    let which = if any.is_ipv4() { "IPv4" } else { "IPv6" };
                    return Err(NetworkError::Invalid(format!(
                        "the {which} --gateway and --ip-range need its --subnet"
                    )));
                }
                let taken: Vec<IpNet> = family.taken.iter().map(|(_, n)| *n).chain(routes).collect();
                let subnet = ipam::choose_subnet(family.pool, family.prefix_len, &taken)
                    .ok_or(NetworkError::PoolExhausted { pool: family.pool, prefix_len: family.prefix_len })?;
                let gateway = ipam::check_network_addresses(subnet, None, None).map_err(NetworkError::Invalid)?;
                Ok((subnet, gateway))
            }
        }
    }

    /// The bridge with its gateway addresses, up; the host switches it needs.
    /// Returns its index.
    fn setup_bridge(&self, rtnl: &mut Rtnl, network: &Network) -> Result<u32, NetworkError> {
        let alias = ids::bridge_alias(&self.config.prefix, &network.id);
        let index = netlink::create_bridge(rtnl, &network.bridge, network.mtu, &alias)?;
        let gateway = IpAddr::V4(network.gateway);
        netlink::add_address(rtnl, index, gateway, network.subnet.prefix_len(), &network.bridge)?;
        sysctl::enable_route_localnet(&network.bridge)?;
        if let Some(v6) = network.ipv6 {
            // On even where the host's default turns IPv6 off for new links.
            sysctl::set_ipv6(&network.bridge, true)?;
            netlink::add_address(rtnl, index, IpAddr::V6(v6.gateway), v6.subnet.prefix_len(), &network.bridge)?;
        }
        if !network.internal {
            sysctl::enable_ip_forward()?;
            if network.ipv6.is_some() {
                sysctl::enable_ipv6_forward()?;
            }
        }
        netlink::set_up(rtnl, index, &network.bridge)?;
        Ok(index)
    }

    /// Recreates the bridge of a stored network if it is missing (after a reboot).
    /// Returns its index, and whether it had to.
    pub(super) fn ensure_bridge(&self, rtnl: &mut Rtnl, network: &Network) -> Result<(u32, bool), NetworkError> {
        if let Some(bridge) = netlink::link_by_name(rtnl, &network.bridge)? {
            return Ok((bridge.index, false));
        }
        Ok((self.setup_bridge(rtnl, network)?, true))
    }

    /// Removes a network's kernel state, DNS file and row, going on past failures.
    fn teardown_network(&self, rtnl: &mut Rtnl, network: &Network) -> Result<(), NetworkError> {
        let mut errors: Vec<NetworkError> = Vec::new();
        match netlink::link_by_name(rtnl, &network.bridge) {
            Ok(Some(link)) => {
                if let Err(e) = netlink::delete_link(rtnl, link.index, &link.name) {
                    errors.push(e.into());
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e.into()),
        }
        if let Err(e) = self.store.write(|tx| Store::delete_network(tx, &network.id)) {
            errors.push(e.into());
        }
        if let Err(e) = self.firewall(&self.nft.render_network("delete", &fw(network))) {
            errors.push(e);
        }
        if let Err(e) = self.sync_dns(std::slice::from_ref(&network.id)) {
            errors.push(e);
        }
        NetworkError::collect(errors)
    }

    /// Removes a network. With containers attached it refuses, unless `force`,
    /// which disconnects them first. The default `bridge` is never removed here.
    pub fn remove_network(&self, reference: &str, force: bool) -> Result<(), NetworkError> {
        // With force, it disconnects containers: no veth of theirs may be in the making.
        let _containers = self.lock_containers()?;
        let _lock = self.lock("remove a network")?;
        let network = self.network(reference)?;
        if network.name == DEFAULT_NETWORK {
            return Err(NetworkError::Predefined(network.name));
        }
        self.remove_locked(&network, force)
    }

    pub(super) fn remove_locked(&self, network: &Network, force: bool) -> Result<(), NetworkError> {
        let attached = Store::network_attachments(&self.store.conn(), &network.id)?;
        if !attached.is_empty() && !force {
            let containers = attached.iter().map(|r| r.container_name.as_str()).collect::<Vec<_>>().join(", ");
            return Err(NetworkError::InUse { network: network.name.clone(), containers });
        }
        let mut rtnl = Rtnl::open()?;
        for row in &attached {
            self.disconnect_locked(&mut rtnl, network, row)?;
        }
        self.teardown_network(&mut rtnl, network)?;
        tracing::info!(network = %network.name, "network removed");
        Ok(())
    }

    pub fn list_networks(&self) -> Result<Vec<Network>, NetworkError> {
        Ok(self.store.networks()?)
    }

    pub fn inspect_network(&self, reference: &str) -> Result<NetworkDetails, NetworkError> {
        let network = self.network(reference)?;
        let containers = Store::network_attachments(&self.store.conn(), &network.id)?
            .iter()
            .map(|row| self.attachment(row, &network))
            .collect();
        Ok(NetworkDetails { network, containers })
    }

    /// Removes every user network without containers whose labels match all of
    /// `labels` (`key` or `key=value`); returns the names removed.
    pub fn prune_networks(&self, labels: &[String]) -> Result<Vec<String>, NetworkError> {
        let _containers = self.lock_containers()?;
        let _lock = self.lock("prune networks")?;
        let mut removed = Vec::new();
        for network in self.store.networks()? {
            let matches = labels.iter().all(|filter| match filter.split_once('=') {
                Some((k, v)) => network.labels.get(k).is_some_and(|have| have == v),
                None => network.labels.contains_key(filter),
            });
            if network.name == DEFAULT_NETWORK
                || !matches
                || !Store::network_attachments(&self.store.conn(), &network.id)?.is_empty()
            {
                continue;
            }
            self.remove_locked(&network, false)?;
            removed.push(network.name);
        }
        Ok(removed)
    }
}

pub(super) fn fw(network: &Network) -> FwNetwork {
    FwNetwork {
        bridge: network.bridge.clone(),
        subnet: network.subnet,
        subnet6: network.ipv6.map(|v6| v6.subnet),
        internal: network.internal,
    }
}

/// What one family of a new network asks for, and what is taken already.
struct Family<'a> {
    subnet: Option<IpNet>,
    gateway: Option<IpAddr>,
    ip_range: Option<IpNet>,
    pool: IpNet,
    prefix_len: u8,
    /// Other networks' subnets of this family, by name.
    taken: Vec<(&'a str, IpNet)>,
}

/// IPv6 link-local routes (fe80::/64 on every link) say nothing about which
/// subnets are in use.
fn is_link_local(route: IpNet) -> bool {
    matches!(route, IpNet::V6(net) if net.network().segments()[0] & 0xffc0 == 0xfe80)
}
