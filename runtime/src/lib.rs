//! berth-runtime: images, the registry client, the layer store and containers.
//!
//! This crate knows nothing of compose or YAML (see DESIGN.md, "Workspace").
