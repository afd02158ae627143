//! `network create | rm | ls | inspect | prune` and the default `bridge`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::NetworkManager;
use crate::error::NetworkError;
use crate::ipam;
use crate::model::{DEFAULT_NETWORK, Network, NetworkDetails, NetworkSpec};
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
        let _lock = self.lock()?;
        self.create_locked(spec)
    }

    /// The default network, created on first use (bridge `<prefix>0` when free, no DNS).
    pub fn ensure_default_bridge(&self) -> Result<Network, NetworkError> {
        let _lock = self.lock()?;
        if let Some(network) = Store::find_network(self.store.conn(), DEFAULT_NETWORK)? {
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
        if Store::find_network(self.store.conn(), &spec.name)?.is_some_and(|n| n.name == spec.name) {
            return Err(NetworkError::Exists(spec.name.clone()));
        }
        let mut rtnl = Rtnl::open()?;
        let network = self.plan_network(spec, &mut rtnl)?;
        self.store.write(|tx| Store::insert_network(tx, &network))?;
        let result = self
            .setup_bridge(&mut rtnl, &network)
            .and_then(|()| self.firewall(&self.nft.render_network("add", &fw(&network))))
            .and_then(|()| self.sync_dns(std::slice::from_ref(&network.id)));
        if let Err(e) = result {
            // Undo what was done; whatever fails here, recovery finds by its mark.
            let _ = self.teardown_network(&mut rtnl, &network);
            return Err(e);
        }
        tracing::info!(network = %network.name, bridge = %network.bridge, subnet = %network.subnet, "network created");
        Ok(network)
    }

    /// Chooses the subnet, gateway and bridge name of a new network.
    fn plan_network(&self, spec: &NetworkSpec, rtnl: &mut Rtnl) -> Result<Network, NetworkError> {
        let mtu = spec.mtu.unwrap_or(self.config.mtu);
        if !(576..=65535).contains(&mtu) {
            return Err(NetworkError::Invalid(format!("--opt mtu={mtu} is outside 576..65535")));
        }
        let existing = self.store.networks()?;
        let routes: Vec<_> = netlink::list_routes_v4(rtnl)?
            .into_iter()
            .filter(|r| r.destination.prefix_len() > 0)
            .map(|r| r.destination)
            .collect();
        let (subnet, gateway) = match spec.subnet {
            Some(subnet) => {
                let gateway = ipam::check_network_addresses(subnet, spec.gateway, spec.ip_range)
                    .map_err(NetworkError::Invalid)?;
                if let Some(other) = existing.iter().find(|n| ipam::overlaps(n.subnet, subnet)) {
                    let what = format!("network {} ({})", other.name, other.subnet);
                    return Err(NetworkError::Overlap { subnet, what });
                }
                if let Some(route) = routes.iter().find(|r| ipam::overlaps(**r, subnet)) {
                    return Err(NetworkError::Overlap { subnet, what: format!("the host route to {route}") });
                }
                (subnet, gateway)
            }
            None => {
                if spec.gateway.is_some() || spec.ip_range.is_some() {
                    return Err(NetworkError::Invalid("--gateway and --ip-range need --subnet".into()));
                }
                let taken: Vec<_> = existing.iter().map(|n| n.subnet).chain(routes.iter().copied()).collect();
                let subnet = ipam::choose_subnet(self.config.pool, self.config.pool_prefix_len, &taken).ok_or(
                    NetworkError::PoolExhausted { pool: self.config.pool, prefix_len: self.config.pool_prefix_len },
                )?;
                let gateway = ipam::check_network_addresses(subnet, None, None).map_err(NetworkError::Invalid)?;
                (subnet, gateway)
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
        })
    }

    /// The bridge with its gateway address, up; the host switches it needs.
    fn setup_bridge(&self, rtnl: &mut Rtnl, network: &Network) -> Result<(), NetworkError> {
        let alias = ids::bridge_alias(&self.config.prefix, &network.id);
        let index = netlink::create_bridge(rtnl, &network.bridge, network.mtu, &alias)?;
        netlink::add_address(rtnl, index, network.gateway, network.subnet.prefix_len(), &network.bridge)?;
        sysctl::enable_route_localnet(&network.bridge)?;
        if !network.internal {
            sysctl::enable_ip_forward()?;
        }
        netlink::set_up(rtnl, index, &network.bridge)?;
        Ok(())
    }

    /// Recreates the bridge of a stored network if it is missing (after a reboot).
    /// Returns whether it had to.
    pub(super) fn ensure_bridge(&self, rtnl: &mut Rtnl, network: &Network) -> Result<bool, NetworkError> {
        if netlink::link_by_name(rtnl, &network.bridge)?.is_some() {
            return Ok(false);
        }
        self.setup_bridge(rtnl, network)?;
        Ok(true)
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
        let _lock = self.lock()?;
        let network = self.network(reference)?;
        if network.name == DEFAULT_NETWORK {
            return Err(NetworkError::Predefined(network.name));
        }
        self.remove_locked(&network, force)
    }

    pub(super) fn remove_locked(&self, network: &Network, force: bool) -> Result<(), NetworkError> {
        let attached = Store::network_attachments(self.store.conn(), &network.id)?;
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
        let containers = Store::network_attachments(self.store.conn(), &network.id)?
            .iter()
            .map(|row| self.attachment(row, &network))
            .collect();
        Ok(NetworkDetails { network, containers })
    }

    /// Removes every user network without containers whose labels match all of
    /// `labels` (`key` or `key=value`); returns the names removed.
    pub fn prune_networks(&self, labels: &[String]) -> Result<Vec<String>, NetworkError> {
        let _lock = self.lock()?;
        let mut removed = Vec::new();
        for network in self.store.networks()? {
            let matches = labels.iter().all(|filter| match filter.split_once('=') {
                Some((k, v)) => network.labels.get(k).is_some_and(|have| have == v),
                None => network.labels.contains_key(filter),
            });
            if network.name == DEFAULT_NETWORK
                || !matches
                || !Store::network_attachments(self.store.conn(), &network.id)?.is_empty()
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
    FwNetwork { bridge: network.bridge.clone(), subnet: network.subnet, internal: network.internal }
}
