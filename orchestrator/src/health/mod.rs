//! Healthchecks with Docker's semantics (DESIGN.md, "How data flows", step 6:
//! health changes wake the reconciler).
//!
//! - [`config`]: the check a container runs — the compose service's
//!   `healthcheck` over the image's HEALTHCHECK, field by field, with Docker's defaults.
//! - [`state`]: the rules as a pure state machine (`starting` / `healthy` /
//!   `unhealthy`, failing streak, the last five probes, when the next is due).
//! - [`probe`]: one probe as a process, its output bounded, killed at its timeout.
//! - [`monitor`]: a tokio task per container that probes on schedule, saves
//!   the health next to the container (`health.json`, for `inspect` and `ps`
//!   in any process, and for a restarted daemon), and reports changes.

pub mod config;
mod error;
pub mod image;
mod kill;
pub mod monitor;
pub mod persist;
pub mod probe;
pub mod state;
#[cfg(test)]
mod test_support;

pub use config::{HealthConfig, HealthTest, resolve};
pub use error::HealthError;
pub use image::{ImageHealth, ImageHealthcheck};
pub use monitor::{HealthEvent, HealthMonitor, StopReason};
pub use persist::{health_path, load};
pub use probe::run_probe;
pub use state::{Health, HealthState, HealthStatus, ProbeLog, ProbeOutcome, ProbeResult, Transition};
