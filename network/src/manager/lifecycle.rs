//! A container's network life around the runtime's verbs: started (names
//! served), stopped (names hidden, ports freed; namespace and leases kept),
//! removed (everything gone).

use std::collections::BTreeSet;

use super::NetworkManager;
use super::locks::ChangeLock;
use crate::error::NetworkError;
use crate::ids;
use crate::netlink::Rtnl;
use crate::store::Store;

impl NetworkManager {
    /// The container runs: its names resolve on its networks.
    pub fn activate(&self, container_id: &str) -> Result<(), NetworkError> {
        let _container = self.lock_container(container_id)?;
        let pending = {
            let _lock = self.lock("activate")?;
            self.store.write(|tx| Store::set_active(tx, container_id, true))?;
            self.begin_sync_dns(&self.network_ids_of(container_id)?)?
        };
        Ok(pending.finish()?)
    }

    /// The container stopped: its names stop resolving and its published ports
    /// are freed. Its namespace, veths and addresses stay for the next start.
    pub fn deactivate(&self, container_id: &str) -> Result<(), NetworkError> {
        let _container = self.lock_container(container_id)?;
        let mut errors = Vec::new();
        let lock = self.lock("deactivate")?;
        if let Err(e) = self.unpublish_locked(container_id) {
            errors.push(e);
        }
        if let Err(e) = self.store.write(|tx| Store::set_active(tx, container_id, false)) {
            errors.push(e.into());
        }
        let pending = self.network_ids_of(container_id).and_then(|ids| self.begin_sync_dns(&ids));
        drop(lock);
        if let Err(e) = Self::await_dns(pending) {
            errors.push(e);
        }
        NetworkError::collect(errors)
    }

    /// The container is removed: ports, attachments (leases), veths and the
    /// namespace file all go. Goes on past failures and reports them all.
    pub fn release(&self, container_id: &str) -> Result<(), NetworkError> {
        let _container = self.lock_container(container_id)?;
        let lock = self.lock("release")?;
        self.release_locked(container_id, Some(lock))
    }

    /// [`Self::release`] under the container's lock (or every container's) and
    /// the change lock. The records go first; `lock`, when given, is released
    /// before the kernel work (the container's veths and namespace); without
    /// it, the caller keeps its own lock throughout.
    pub(super) fn release_locked(&self, container_id: &str, lock: Option<ChangeLock>) -> Result<(), NetworkError> {
        let mut errors = Vec::new();
        if let Err(e) = self.unpublish_locked(container_id) {
            errors.push(e);
        }
        let networks = self.store.networks()?;
        let rows = Store::container_attachments(&self.store.conn(), container_id)?;
        let mut touched = BTreeSet::new();
        let mut veths = Vec::new();
        for row in rows {
            touched.insert(row.network_id.clone());
            match networks.iter().find(|n| n.id == row.network_id) {
                Some(network) => {
                    errors.extend(self.forget(network, &row));
                    veths.push(ids::host_veth_name(&self.config.prefix, container_id, &network.id));
                }
                None => {
                    if let Err(e) = self.store.write(|tx| Store::delete_attachment(tx, container_id, &row.network_id)) {
                        errors.push(e.into());
                    }
                }
            }
        }
        let touched: Vec<String> = touched.into_iter().collect();
        let pending = match touched.is_empty() {
            true => None,
            false => Some(self.begin_sync_dns(&touched)),
        };
        drop(lock);
        let mut rtnl = Rtnl::open()?;
        for veth in &veths {
            if let Err(e) = self.unplumb(&mut rtnl, veth) {
                errors.push(e);
            }
        }
        if let Err(e) = self.remove_netns_file(container_id) {
            errors.push(e);
        }
        if let Some(pending) = pending
            && let Err(e) = Self::await_dns(pending)
        {
            errors.push(e);
        }
        NetworkError::collect(errors)
    }

    /// Removes everything this manager's prefix and run directory hold: every
    /// container's network state, every network (the default one too), the
    /// firewall table and the DNS server. For `system reset` and test teardown.
    pub fn remove_everything(&self) -> Result<(), NetworkError> {
        let _containers = self.lock_containers()?;
        let _lock = self.lock("remove everything")?;
        let mut errors = Vec::new();
        let mut containers: BTreeSet<String> =
            Store::all_attachments(&self.store.conn())?.into_iter().map(|r| r.container_id).collect();
        containers.extend(Store::ports(&self.store.conn(), None)?.into_iter().map(|(c, _)| c));
        containers.extend(self.netns_files()?);
        for container in containers {
            if let Err(e) = self.release_locked(&container, None) {
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
