//! The compose model: loading compose files into a normalised, validated project.
//!
//! Pipeline (DESIGN.md, "How data flows", step 1): YAML text → [`yaml`] tree with
//! positions → interpolation → canonical long syntax → `extends`/`include` →
//! merge of the `-f` files → typed model → profiles → validation.

pub mod de;
pub mod error;
pub mod node;
pub mod path;
pub mod yaml;

pub use error::{Error, ErrorKind};
