//! berth-network: bridges, IPAM, veth pairs, the embedded DNS and published ports.
//!
//! This crate knows nothing of compose or of the runtime (see DESIGN.md, "Workspace").
//! [`NetworkManager`] is the whole public surface: the orchestrator opens one on
//! the state root and run directory, and calls it around a container's life:
//!
//! ```text
//! create:  create_netns(id) -> path the runtime joins; connect(id, path, network, opts) per network
//! start:   publish(id, ports); activate(id); resolv_conf_for / hosts_for -> files to bind-mount
//! stop:    deactivate(id)               (DNS names hidden, ports freed; netns and leases kept)
//! remove:  release(id)                  (everything of the container gone)
//! startup: recover(Some(&live_ids))      (leftovers of a crash cleaned or re-adopted)
//! ```
//!
//! Kernel state is changed through netlink (`netlink`), nftables in one table of
//! berth's own (`nft`), and a long-lived DNS server process (`dns`) whose table
//! the manager writes as files.
//!
//! One manager serves every thread of a process: the verbs of different
//! containers run in parallel, and only their decisions (addresses, DNS files,
//! firewall) are ordered, between threads and processes alike.

mod config;
mod container_files;
pub mod dns;
mod error;
mod ids;
mod ipam;
mod manager;
mod model;
mod netlink;
mod netns;
mod nft;
mod ports;
mod store;
mod sysctl;

pub use config::{DnsLauncher, NetworkConfig, Upstreams};
pub use dns::{DnsControlError, DnsFileError};
pub use error::NetworkError;
/// Subnets in the public API are ipnet's.
pub use ipnet::{IpNet, Ipv4Net, Ipv6Net};
pub use manager::{NetworkManager, Recovery};
pub use model::{
    Attachment, ConnectOptions, ContainerLink, DEFAULT_NETWORK, HostsOptions, Ipv6Subnet, Network, NetworkDetails,
    NetworkSpec, ResolvOptions,
};
pub use netlink::NetlinkError;
pub use netns::NetnsError;
pub use nft::NftError;
pub use ports::{PortMapping, PortRange, PortSpecError, Protocol, PublishedPort};
pub use store::StoreError;
pub use sysctl::SysctlError;
