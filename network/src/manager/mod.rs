//! [`NetworkManager`]: the one entry point. Each verb lives in its own file.
//!
//! Every change decides under `<run>/network.lock`, so two berth processes (the
//! daemon and a CLI, say) or two threads never interleave their decisions; the
//! database is the truth, the kernel and the DNS files are brought in line
//! with it, and `recover` re-derives all of them from it after a crash. The
//! kernel work of one container (its veths, addresses, routes, namespace) is
//! done outside that lock, under the container's own (see `locks`), so
//! containers are plumbed in parallel. The manager is `Sync`: one is shared by
//! every thread of the daemon.

mod connect;
mod dns_sync;
mod files;
mod lifecycle;
mod locks;
mod netns_files;
mod networks;
mod publish;
mod recover;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::{NetworkConfig, Upstreams};
use crate::dns::{DnsControl, ServerConfig};
use crate::error::NetworkError;
use crate::model::{Attachment, Network};
use crate::nft::Nft;
use crate::store::{AttachmentRow, Store};
use crate::{container_files, ids};
use locks::{ChangeLock, ContainerLock};

pub use recover::Recovery;

// The daemon shares one manager between the threads that create containers.
const _: fn() = || {
    fn shared<T: Send + Sync>() {}
    shared::<NetworkManager>();
};

#[derive(Debug)]
pub struct NetworkManager {
    config: NetworkConfig,
    store: Store,
    nft: Nft,
    dns: DnsControl,
}

impl NetworkManager {
    /// Opens the network state under `config.root` / `config.run`. Touches no
    /// kernel state: that happens on the first change, or in [`Self::recover`].
    pub fn open(config: NetworkConfig) -> Result<Self, NetworkError> {
        config.validate().map_err(NetworkError::Config)?;
        let store = Store::open(&config.root.join("berth.db"))?;
        std::fs::create_dir_all(&config.run)
            .map_err(NetworkError::io(format!("cannot create the run directory {}", config.run.display())))?;
        let dns = DnsControl::new(config.run.join("dns"), config.dns_server.clone());
        let server_config = ServerConfig { domain: config.domain.clone(), upstreams: upstreams(&config.upstreams)? };
        crate::dns::write_config(dns.dir(), &server_config)?;
        Ok(NetworkManager { nft: Nft::new(&config.prefix), config, store, dns })
    }

    pub fn config(&self) -> &NetworkConfig {
        &self.config
    }

    /// The decisions' lock; `what` names the step in the debug log.
    fn lock(&self, what: &'static str) -> Result<ChangeLock, NetworkError> {
        ChangeLock::take(&self.config.run, what)
    }

    /// The kernel objects of one container are this thread's until the guard drops.
    fn lock_container(&self, container_id: &str) -> Result<ContainerLock, NetworkError> {
        ContainerLock::one(&self.config.run, container_id)
    }

    /// Every container's kernel objects: for verbs that remove or re-derive them all.
    fn lock_containers(&self) -> Result<ContainerLock, NetworkError> {
        ContainerLock::all(&self.config.run)
    }

    /// `<run>/netns/<container-id>`: the file the runtime joins.
    pub fn netns_path(&self, container_id: &str) -> PathBuf {
        self.config.run.join("netns").join(container_id)
    }

    fn dns_dir(&self) -> &Path {
        self.dns.dir()
    }

    fn network(&self, reference: &str) -> Result<Network, NetworkError> {
        Store::find_network(&self.store.conn(), reference)?.ok_or_else(|| NetworkError::NotFound(reference.to_string()))
    }

    /// The public view of a stored attachment.
    fn attachment(&self, row: &AttachmentRow, network: &Network) -> Attachment {
        Attachment {
            container_id: row.container_id.clone(),
            network_id: network.id.clone(),
            network: network.name.clone(),
            interface: format!("eth{}", row.position),
            host_interface: ids::host_veth_name(&self.config.prefix, &row.container_id, &network.id),
            ipv4: row.ipv4,
            prefix_len: network.subnet.prefix_len(),
            gateway: network.gateway,
            ipv6: row.ipv6,
            ipv6_prefix_len: network.ipv6.filter(|_| row.ipv6.is_some()).map_or(0, |v6| v6.subnet.prefix_len()),
            ipv6_gateway: network.ipv6.filter(|_| row.ipv6.is_some()).map(|v6| v6.gateway),
            mac: ids::mac_string(ids::mac_for(row.ipv4)),
            container_name: row.container_name.clone(),
            hostname: row.hostname.clone(),
            aliases: row.aliases.clone(),
            links: row.links.clone(),
            dns_servers: row.dns_servers.clone(),
            active: row.active,
        }
    }

    /// Applies an incremental firewall change; if that fails (the table was
    /// deleted, an element is missing), rewrites the whole table from the database.
    fn firewall(&self, script: &str) -> Result<(), NetworkError> {
        if let Err(e) = self.nft.apply(script) {
            tracing::debug!(error = %e, "incremental nftables change failed; rewriting the table");
            self.firewall_sync()?;
        }
        Ok(())
    }

    fn firewall_sync(&self) -> Result<(), NetworkError> {
        let networks: Vec<_> = self.store.networks()?.iter().map(networks::fw).collect();
        let ports: Vec<_> = Store::ports(&self.store.conn(), None)?.into_iter().map(|(_, p)| p).collect();
        Ok(self.nft.apply(&self.nft.render_sync(&networks, &ports))?)
    }

    /// A container's attachments with their networks, in `eth0, eth1, ...` order.
    pub fn attachments(&self, container_id: &str) -> Result<Vec<Attachment>, NetworkError> {
        let networks = self.store.networks()?;
        let rows = Store::container_attachments(&self.store.conn(), container_id)?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(network) = networks.iter().find(|n| n.id == row.network_id) {
                out.push(self.attachment(&row, network));
            }
        }
        Ok(out)
    }
}

/// The upstream servers the DNS forwards to, as configured.
fn upstreams(config: &Upstreams) -> Result<Vec<SocketAddr>, NetworkError> {
    match config {
        Upstreams::Explicit(servers) => Ok(servers.clone()),
        Upstreams::ResolvConf(path) => {
            let text = match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
                Err(e) => return Err(NetworkError::io(format!("cannot read {}", path.display()))(e)),
            };
            Ok(container_files::parse_resolv_conf(&text)
                .nameservers
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 53))
                .collect())
        }
    }
}
