//! Start, stop, kill and remove, with the network steps around the runtime's verbs.

use berth_network::PortMapping;
use berth_runtime::container::{
    AttachStreams, ContainerError, ContainerId, ExitStatus, NetworkMode, RemoveOptions, Started,
};
use nix::sys::signal::Signal;

use super::{Engine, EngineError};

impl Engine {
    /// Publishes the container's ports, makes its names resolve, and starts it.
    /// Ports are checked before anything runs; a failed start frees them again.
    pub fn start(&self, reference: &str, attach: Option<AttachStreams>) -> Result<Started, EngineError> {
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
        self.own_containers()?.start(id, attach).map_err(|e| {
            if networked && let Err(cleanup) = self.network().deactivate(id) {
                tracing::warn!(container = id, %cleanup, "cannot free the network of a container that did not start");
            }
            e.into()
        })
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

    /// The container's process ended (by `stop`, a signal, or on its own): its
    /// names stop resolving and its ports are freed; its address is kept.
    pub fn stopped(&self, id: &ContainerId) -> Result<(), EngineError> {
        Ok(self.network().deactivate(id.as_str())?)
    }

    /// Removes the container and everything of its network.
    pub fn remove(&self, reference: &str, options: RemoveOptions) -> Result<ContainerId, EngineError> {
        let id = self.own_containers()?.remove(reference, options)?;
        self.network().release(id.as_str())?;
        Ok(id)
    }
}
