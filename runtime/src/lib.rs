//! berth-runtime: images, the registry client, the layer store and containers.
//!
//! It knows nothing of compose or YAML (DESIGN.md, "Workspace").

pub mod container;
pub mod image;
pub mod memory;
pub mod store;
