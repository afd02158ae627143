//! What pull and push report as they go. The library only reports; the CLI
//! draws per-layer progress bars on a terminal and plain lines elsewhere.

use serde::{Deserialize, Serialize};

use super::digest::Digest;

/// Serializable, so that the daemon can send them to the CLI as they happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// The reference was resolved to this manifest (or index) digest.
    Resolved { reference: String, digest: Digest },
    /// Something happened to one layer (or, for push, one blob).
    Layer { digest: Digest, state: LayerState },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LayerState {
    /// The store already has it (pull) or the registry does (push).
    Exists,
    /// Bytes moved so far.
    Transferring { done: u64, total: u64 },
    /// A transient failure; trying again.
    Retrying { attempt: u32, error: String },
    /// Downloaded, verified and unpacked (pull) or uploaded (push).
    Complete,
}

/// A receiver of progress events; must be cheap, it is called for every chunk.
pub trait Progress: Send + Sync {
    fn report(&self, event: Event);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn report(&self, _event: Event) {}
}

impl<F: Fn(Event) + Send + Sync> Progress for F {
    fn report(&self, event: Event) {
        self(event)
    }
}
