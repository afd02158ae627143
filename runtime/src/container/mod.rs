//! Containers: the record and its tables, the OCI spec berth writes for
//! libcontainer, the per-container monitor, and one file per lifecycle verb
//! (DESIGN.md, "Runtime" and "Process model").

pub mod cgroup;
pub mod config;
pub mod error;
pub mod id;
pub mod layout;
pub mod limits;
pub mod mounts;
pub mod options;
pub mod records;
pub mod seccomp;
pub mod security;
pub mod signal;
pub mod spec;
pub mod state;
pub mod user;

pub use config::ContainerConfig;
pub use error::{ContainerError, StartFailure};
pub use id::ContainerId;
pub use options::{CreateOptions, EtcFiles, NetworkMode, RestartPolicy};
pub use records::ContainerRecord;
pub use state::{State, Status};
