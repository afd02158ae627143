//! Creating a container with its network: the namespace and attachments are
//! made first (the runtime joins the namespace by path), and undone if the
//! runtime refuses the container.

use std::net::IpAddr;

use berth_network::{DEFAULT_NETWORK, HostsOptions, NetworkManager, PortMapping, ResolvOptions};
use berth_runtime::container::{ContainerId, ContainerRecord, CreateOptions, EtcFiles, NetworkMode};

use super::{Engine, EngineError};
use crate::reconcile::container_spec::NetworkJoin;

/// How the container is networked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum NetworkChoice {
    /// `--network none`: only loopback.
    None,
    /// `--network host`: the host's namespace.
    Host,
    /// A namespace of its own, joined to these networks (the first gives the default route).
    Networks(Vec<NetworkJoin>),
}

/// Everything `create` needs; the CLI sends it to the daemon as it is.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunRequest {
    /// The image reference as the user gave it.
    pub image: String,
    pub create: CreateOptions,
    pub network: NetworkChoice,
    pub ports: Vec<PortMapping>,
    /// `--add-host` / `extra_hosts`.
    pub extra_hosts: Vec<(String, IpAddr)>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    pub resolv: ResolvOptions,
}

impl Engine {
    /// Creates the container (not started). On failure nothing is left: no
    /// record, no directory, no namespace, no attachment.
    pub fn create(&self, request: RunRequest) -> Result<ContainerRecord, EngineError> {
        // Most containers are started right after they are created.
        self.prime_start();
        let image = self.images.resolve(&request.image)?;
        let id = ContainerId::generate().map_err(|e| {
            EngineError::Container(berth_runtime::container::ContainerError::io("cannot read", "/dev/urandom", e))
        })?;
        let mut create = request.create;
        create.id = Some(id.clone());
        create.port_bindings = request.ports.iter().map(ToString::to_string).collect();
        let hostname = create.hostname.clone().unwrap_or_else(|| id.short().to_string());
        let mut choice = request.network;
        if let NetworkChoice::Networks(joins) = &mut choice {
            // Resolvable by its name on every network, generated names too (as Docker).
            let name = match &create.name {
                Some(name) => name.clone(),
                None => self.containers().free_name()?,
            };
            create.name = Some(name.clone());
            for join in joins.iter_mut().filter(|join| join.options.container_name.is_empty()) {
                join.options.container_name = name.clone();
                join.options.hostname = create.hostname.clone();
            }
        }
        let network = self.network();
        create.network = match &choice {
            NetworkChoice::None => NetworkMode::None,
            NetworkChoice::Host => NetworkMode::Host,
            NetworkChoice::Networks(joins) => {
                let netns = connect_all(network, id.as_str(), joins)?;
                let etc = etc_files(network, id.as_str(), &hostname, &request.extra_hosts, &request.resolv);
                match etc {
                    Ok(etc) => create.etc = etc,
                    Err(e) => return Err(undo(network, id.as_str(), e.into())),
                }
                // Docker's HostConfig.NetworkMode: the first network's name.
                create.network_name = joins.first().map(|join| join.network.clone());
                NetworkMode::Path(netns)
            }
        };
        let networked = matches!(choice, NetworkChoice::Networks(_));
        self.own_containers()?.create(&image, &request.image, &create).map_err(|e| {
            if networked {
                return undo(network, id.as_str(), e.into());
            }
            e.into()
        })
    }
}

/// The container's namespace, joined to every network; undone on failure.
fn connect_all(network: &NetworkManager, id: &str, joins: &[NetworkJoin]) -> Result<std::path::PathBuf, EngineError> {
    let netns = network.create_netns(id)?;
    for join in joins {
        // Docker's `bridge` exists from the start; berth makes it when first used.
        let ready = match join.network.as_str() {
            DEFAULT_NETWORK => network.ensure_default_bridge().map(drop),
            _ => Ok(()),
        };
        if let Err(e) = ready.and_then(|()| network.connect(id, &netns, &join.network, &join.options).map(drop)) {
            return Err(undo(network, id, e.into()));
        }
    }
    Ok(netns)
}

fn etc_files(
    network: &NetworkManager,
    id: &str,
    hostname: &str,
    extra_hosts: &[(String, IpAddr)],
    resolv: &ResolvOptions,
) -> Result<EtcFiles, berth_network::NetworkError> {
    let hosts = HostsOptions { hostname: hostname.to_string(), extra_hosts: extra_hosts.to_vec() };
    Ok(EtcFiles {
        hosts: Some(network.hosts_for(id, &hosts)?),
        resolv_conf: Some(network.resolv_conf_for(id, resolv)?),
    })
}

/// Releases what was made for `id` and returns the error that made it necessary.
fn undo(network: &NetworkManager, id: &str, error: EngineError) -> EngineError {
    if let Err(cleanup) = network.release(id) {
        tracing::warn!(container = id, %cleanup, "cannot undo the network setup of a container that was not created");
    }
    error
}
