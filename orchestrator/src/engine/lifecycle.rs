//! Start, stop, kill and remove, with the network steps around the runtime's verbs.

use berth_network::PortMapping;
use berth_runtime::container::prune::Pruned;
use berth_runtime::container::{
    AttachStreams, ContainerError, ContainerId, ExitStatus, NetworkMode, RemoveOptions, Started,
};
use nix::sys::signal::Signal;

use super::{Engine, EngineError};

impl Engine {
    /// Publishes the container's ports, makes its names resolve, and starts it.
    /// Ports are checked before anything runs; a failed start frees them again.
    pub fn start(&self, reference: &str, attach: Option<AttachStreams>) -> Result<Started, EngineError> {
        self.prime_start();
        let record = self.containers().lookup(reference)?;
        let id = record.id.as_str();
        let networked = matches!(record.config.network, NetworkMode::Path(_));
        if networked {
            let mappings = record
                .config
                .port_bindings
                .iter()
                .map(|b| b.parse::<PortMapping>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| EngineError::Container(ContainerError::Internal(format!("recorded port binding: {e}"))))?;
            let network = self.network();
            if !mappings.is_empty() {
                network.publish(id, &mappings)?;
            }
            network.activate(id)?;
        }
        let containers = self.own_containers()?;
        let started = containers.start(id, attach).map_err(|e| {
            // A `--rm` container that could not start is removed by its monitor: its network goes too.
            let removed = matches!(containers.lookup(id), Err(ContainerError::NotFound(_)));
            let network = self.network();
            let cleanup = match (networked, removed) {
                (false, _) => Ok(()),
                (true, false) => network.deactivate(id),
                (true, true) => network.release(id),
            };
            if let Err(cleanup) = cleanup {
                tracing::warn!(container = id, %cleanup, "cannot free the network of a container that did not start");
            }
            EngineError::from(e)
        })?;
        Ok(started)
    }

    /// Stops the container (its stop signal, then SIGKILL after `timeout`) and frees its ports.
    pub fn stop(&self, reference: &str, timeout: Option<u32>) -> Result<Option<ExitStatus>, EngineError> {
        let containers = self.own_containers()?;
        let record = containers.lookup(reference)?;
        let status = containers.stop(record.id.as_str(), timeout)?;
        self.stopped(&record.id)?;
        Ok(status)
    }

    pub fn kill(&self, reference: &str, signal: Signal) -> Result<(), EngineError> {
        Ok(self.own_containers()?.kill(reference, signal)?)
    }

    /// Freezes the container's processes (its names and ports stay: it still runs).
    pub fn pause(&self, reference: &str) -> Result<(), EngineError> {
        self.own_containers()?.pause(reference)?;
        Ok(())
    }

    pub fn unpause(&self, reference: &str) -> Result<(), EngineError> {
        self.own_containers()?.unpause(reference)?;
        Ok(())
    }

    /// The container's process ended (by `stop`, a signal, or on its own): its
    /// names stop resolving and its ports are freed; its address is kept.
    pub fn stopped(&self, id: &ContainerId) -> Result<(), EngineError> {
        Ok(self.network().deactivate(id.as_str())?)
    }

    /// Removes the stopped containers `prune` selects, and their networks.
    pub fn prune(
        &self,
        until: Option<chrono::DateTime<chrono::Utc>>,
        labels: &std::collections::BTreeMap<String, Option<String>>,
    ) -> Result<Pruned, EngineError> {
        let pruned = self.own_containers()?.prune(until, labels)?;
        let network = self.network();
        for id in &pruned.removed {
            network.release(id)?;
        }
        Ok(pruned)
    }

    /// Removes the container and everything of its network.
    pub fn remove(&self, reference: &str, options: RemoveOptions) -> Result<ContainerId, EngineError> {
        let id = self.own_containers()?.remove(reference, options)?;
        self.network().release(id.as_str())?;
        Ok(id)
    }
}
