//! berth's state on disk (DESIGN.md, "State"): where everything lives under the
//! root and run directories, the SQLite database, and atomic file writes.

mod atomic;
mod db;
mod paths;

pub use atomic::{write_atomic, write_atomic_json};
pub use db::{Db, DbError, Migration};
pub use paths::Root;
