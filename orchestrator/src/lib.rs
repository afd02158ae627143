//! berth: the CLI, the daemon and the compose model.
//!
//! The binary in `main.rs` only parses arguments and prints; the work lives here.

pub mod api;
pub mod cli;
pub mod compose;
pub mod daemon;
pub mod engine;
pub mod health;
pub mod reconcile;
