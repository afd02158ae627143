//! After a crash (of the daemon, the CLI, or the machine): clean up what berth
//! left behind and rebuild the rest from the database, the one source of truth.

use std::collections::{BTreeSet, HashSet};

use serde::Serialize;

use super::NetworkManager;
use crate::error::NetworkError;
use crate::ids::{self, Mark};
use crate::netlink::{self, LinkKind, Rtnl};
use crate::store::Store;

/// What [`NetworkManager::recover`] found and did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// Containers no longer alive whose network state was released.
    pub released_containers: Vec<String>,
    /// Bridges and veths carrying berth's mark that nothing in the database owns.
    pub removed_links: Vec<String>,
    /// Bridges of stored networks that were missing (after a reboot) and were made again.
    pub recreated_bridges: Vec<String>,
    /// Containers whose veths were gone: their names are no longer served
    /// until they start again (their addresses stay leased).
    pub deactivated_containers: Vec<String>,
}

/// In the run directory, which a reboot empties: present once recovery ran since boot.
const RECOVERED_MARKER: &str = "network.recovered";

impl NetworkManager {
    /// [`Self::recover`] without releasing anything, once per boot: the first
    /// berth command after a reboot rebuilds bridges and the firewall table from
    /// the database. (The daemon calls `recover` itself at every start.)
    pub fn recover_after_boot(&self) -> Result<Option<Recovery>, NetworkError> {
        let marker = self.config.run.join(RECOVERED_MARKER);
        if marker.exists() {
            return Ok(None);
        }
        let report = self.recover(None)?;
        std::fs::write(&marker, b"").map_err(NetworkError::io(format!("cannot write {}", marker.display())))?;
        Ok(Some(report))
    }

    /// Run when the daemon or CLI starts. `live`: the containers that still
    /// exist (the runtime knows); everything of any other container is
    /// released. With `None`, no container is released.
    pub fn recover(&self, live: Option<&HashSet<String>>) -> Result<Recovery, NetworkError> {
        // Every container's objects are judged: none may be in the making.
        let _containers = self.lock_containers()?;
        let _lock = self.lock("recover")?;
        let mut report = Recovery::default();
        let mut errors = Vec::new();

        if let Some(live) = live {
            let mut known: BTreeSet<String> =
                Store::all_attachments(&self.store.conn())?.into_iter().map(|r| r.container_id).collect();
            known.extend(Store::ports(&self.store.conn(), None)?.into_iter().map(|(c, _)| c));
            known.extend(self.netns_files()?);
            for container in known.into_iter().filter(|c| !live.contains(c)) {
                match self.release_locked(&container, None) {
                    Ok(()) => report.released_containers.push(container),
                    Err(e) => errors.push(e),
                }
            }
        }

        let mut rtnl = Rtnl::open()?;
        let networks = self.store.networks()?;
        let attachments = Store::all_attachments(&self.store.conn())?;
        for link in netlink::list_links(&mut rtnl)? {
            let Some(mark) = link.alias.as_deref().and_then(|a| ids::parse_alias(&self.config.prefix, a)) else {
                continue;
            };
            let owned = match (mark, link.kind) {
                (Mark::Bridge { network_id }, LinkKind::Bridge) => networks.iter().any(|n| n.id == network_id),
                (Mark::Veth { container_id, network_id }, LinkKind::Veth) => {
                    attachments.iter().any(|r| r.container_id == container_id && r.network_id == network_id)
                }
                _ => false,
            };
            if !owned {
                match netlink::delete_link(&mut rtnl, link.index, &link.name) {
                    Ok(()) => report.removed_links.push(link.name),
                    // ENODEV: a veth whose peer we removed a moment ago took it along.
                    Err(e) if e.errno() == Some(nix::errno::Errno::ENODEV as i32) => {}
                    Err(e) => errors.push(e.into()),
                }
            }
        }
        for network in &networks {
            match self.ensure_bridge(&mut rtnl, network) {
                Ok((_, true)) => report.recreated_bridges.push(network.bridge.clone()),
                Ok((_, false)) => {}
                Err(e) => errors.push(e),
            }
        }
        let mut stale = BTreeSet::new();
        for row in attachments.iter().filter(|r| r.active) {
            let veth = ids::host_veth_name(&self.config.prefix, &row.container_id, &row.network_id);
            if netlink::link_by_name(&mut rtnl, &veth)?.is_none() {
                stale.insert(row.container_id.clone());
            }
        }
        for container in stale {
            match self.store.write(|tx| Store::set_active(tx, &container, false)) {
                Ok(()) => report.deactivated_containers.push(container),
                Err(e) => errors.push(e.into()),
            }
        }

        if let Err(e) = self.firewall_sync() {
            errors.push(e);
        }
        if let Err(e) = self.sync_dns_all() {
            errors.push(e);
        }
        tracing::info!(?report, "network recovery");
        NetworkError::collect(errors).map(|()| report)
    }
}
