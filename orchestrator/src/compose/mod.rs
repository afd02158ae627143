//! The compose model: loading compose files into a normalised, validated project.
//!
//! Pipeline (DESIGN.md, "How data flows", step 1): YAML text → [`yaml`] tree with
//! positions → [`interpolate`] → [`canonical`] long syntax → [`extends`] and
//! [`include`] → [`merge`] of the `-f` files → [`profiles`] → [`normalize`] →
//! typed [`model`] (through [`de`]) → [`validate`]. [`load`] runs it all.

pub mod canonical;
pub mod de;
pub mod dotenv;
pub mod environment;
pub mod error;
mod extends;
pub mod files;
pub mod graph;
pub mod hash;
mod include;
pub mod interpolate;
pub mod load;
pub mod merge;
pub mod model;
pub mod node;
mod normalize;
pub mod path;
pub mod profiles;
pub mod project_name;
pub mod render;
pub mod validate;
pub mod yaml;

pub use error::{Error, ErrorKind};
pub use load::{LoadOptions, Loaded, load};
