//! The engine: the runtime (images, containers) and the network manager put
//! together, as every command needs them. A container's life is a runtime verb
//! wrapped in the network steps around it (DESIGN.md, "How data flows", step 5):
//! create = netns + connect + create; start = publish + activate + start;
//! stop = stop + deactivate; remove = remove + release.
//!
//! Everything here is blocking; the daemon calls it from `spawn_blocking`.

mod config;
mod create;
mod lifecycle;
mod network_settings;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use berth_network::{NetworkError, NetworkManager};
use berth_runtime::container::{ContainerError, Containers, MigrationPrimer, MonitorSpawner};
use berth_runtime::image::{ImageError, ImageStore};
use berth_runtime::store::Root;

pub use config::{ConfigError, network_config};
pub use create::{NetworkChoice, RunRequest};
pub use network_settings::network_settings;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Network(#[from] NetworkError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

#[derive(Debug)]
pub struct Engine {
    root: Root,
    images: ImageStore,
    containers: Mutex<Containers>,
    /// Forks every container's monitor (shared by all container stores opened here).
    spawner: Arc<MonitorSpawner>,
    /// Begins the wait of a container's cgroup migration while it is prepared.
    primer: Option<MigrationPrimer>,
    /// Shared, not locked: it serialises only its decisions (its own lock, held
    /// for moments), and plumbs containers in parallel.
    network: NetworkManager,
}

impl Engine {
    /// Opens the stores under `root` and brings the network state in line with
    /// the containers: bridges and firewall rebuilt after a reboot, and the
    /// addresses, ports and veths of containers that are gone (removed while no
    /// daemon ran, say by their own `--rm`) released. The daemon opens it once.
    pub fn open(root: &Root) -> Result<Engine, EngineError> {
        let network = NetworkManager::open(network_config(root)?)?;
        let containers = Containers::open(root)?;
        // Now rather than at the first start: that start is not kept waiting,
        // and the spawner is of this daemon's build (see MonitorSpawner::start).
        containers.spawner().start()?;
        let live: HashSet<String> = containers.all()?.into_iter().map(|record| record.id.to_string()).collect();
        let recovery = network.recover(Some(&live))?;
        if !recovery.released_containers.is_empty() {
            tracing::info!(containers = ?recovery.released_containers, "released the network of removed containers");
        }
        Ok(Engine {
            root: root.clone(),
            images: ImageStore::open(root)?,
            spawner: containers.spawner(),
            primer: MigrationPrimer::start(),
            containers: Mutex::new(containers),
            network,
        })
    }

    pub fn root(&self) -> &Root {
        &self.root
    }

    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    /// The container store; held only for one call at a time.
    pub fn containers(&self) -> MutexGuard<'_, Containers> {
        self.containers.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A container store of its own (its own database connection), for calls
    /// that take time (start, stop, wait, logs) and must not hold the shared one:
    /// containers of a stack start and stop in parallel.
    pub fn own_containers(&self) -> Result<Containers, EngineError> {
        let helper = self.containers().helper().clone();
        Ok(Containers::open_sharing(&self.root, helper, Arc::clone(&self.spawner))?)
    }

    /// A container is about to be started (see [`MigrationPrimer`]).
    fn prime_start(&self) {
        if let Some(primer) = &self.primer {
            primer.prime();
        }
    }

    pub fn network(&self) -> &NetworkManager {
        &self.network
    }
}
