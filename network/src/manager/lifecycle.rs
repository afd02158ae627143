//! A container's network life around the runtime's verbs: started (names
//! served), stopped (names hidden, ports freed; namespace and leases kept),
//! removed (everything gone).

use std::collections::BTreeSet;

use super::NetworkManager;
use crate::error::NetworkError;
use crate::netlink::Rtnl;
use crate::store::Store;

impl NetworkManager {
    /// The container runs: its names resolve on its networks.
    pub fn activate(&self, container_id: &str) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        self.store.write(|tx| Store::set_active(tx, container_id, true))?;
        self.sync_dns(&self.network_ids_of(container_id)?)
    }

    /// The container stopped: its names stop resolving and its published ports
    /// are freed. Its namespace, veths and addresses stay for the next start.
    pub fn deactivate(&self, container_id: &str) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        let mut errors = Vec::new();
        if let Err(e) = self.unpublish_locked(container_id) {
            errors.push(e);
        }
        if let Err(e) = self.store.write(|tx| Store::set_active(tx, container_id, false)) {
            errors.push(e.into());
        }
        match self.network_ids_of(container_id) {
            Ok(ids) => {
                if let Err(e) = self.sync_dns(&ids) {
                    errors.push(e);
                }
            }
            Err(e) => errors.push(e),
        }
        NetworkError::collect(errors)
    }

    /// The container is removed: ports, attachments (leases), veths and the
    /// namespace file all go. Goes on past failures and reports them all.
    pub fn release(&self, container_id: &str) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        self.release_locked(container_id)
    }

    pub(super) fn release_locked(&self, container_id: &str) -> Result<(), NetworkError> {
        let mut errors = Vec::new();
        if let Err(e) = self.unpublish_locked(container_id) {
            errors.push(e);
        }
        let networks = self.store.networks()?;
        let rows = Store::container_attachments(&self.store.conn(), container_id)?;
        let mut touched = BTreeSet::new();
        let mut rtnl = Rtnl::open()?;
        for row in rows {
            touched.insert(row.network_id.clone());
            match networks.iter().find(|n| n.id == row.network_id) {
                Some(network) => {
                    if let Err(e) = self.disconnect_locked(&mut rtnl, network, &row) {
                        errors.push(e);
                    }
                }
                None => {
                    if let Err(e) = self.store.write(|tx| Store::delete_attachment(tx, container_id, &row.network_id)) {
                        errors.push(e.into());
                    }
                }
            }
        }
        if let Err(e) = self.remove_netns(container_id) {
            errors.push(e);
        }
        if !touched.is_empty()
            && let Err(e) = self.sync_dns(&touched.into_iter().collect::<Vec<_>>())
        {
            errors.push(e);
        }
        NetworkError::collect(errors)
    }

    /// Removes everything this manager's prefix and run directory hold: every
    /// container's network state, every network (the default one too), the
    /// firewall table and the DNS server. For `system reset` and test teardown.
    pub fn remove_everything(&self) -> Result<(), NetworkError> {
        let _lock = self.lock()?;
        let mut errors = Vec::new();
        let mut containers: BTreeSet<String> =
            Store::all_attachments(&self.store.conn())?.into_iter().map(|r| r.container_id).collect();
        containers.extend(Store::ports(&self.store.conn(), None)?.into_iter().map(|(c, _)| c));
        containers.extend(self.netns_files()?);
        for container in containers {
            if let Err(e) = self.release_locked(&container) {
                errors.push(e);
            }
        }
        for network in self.store.networks()? {
            if let Err(e) = self.remove_locked(&network, true) {
                errors.push(e);
            }
        }
        if let Err(e) = self.nft.apply(&self.nft.render_delete_table()) {
            errors.push(e.into());
        }
        self.dns.stop();
        NetworkError::collect(errors)
    }
}
