//! berth-network: bridges, IPAM, veth pairs, the embedded DNS and published ports.
//!
//! This crate knows nothing of compose or of the runtime (see DESIGN.md, "Workspace").
