//! The crate's error: what the user asked, what failed, what to do.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::dns::{DnsControlError, DnsFileError};
use crate::netlink::NetlinkError;
use crate::netns::NetnsError;
use crate::nft::NftError;
use crate::ports::Protocol;
use crate::store::StoreError;
use crate::sysctl::SysctlError;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("invalid network configuration: {0}")]
    Config(String),
    /// Bad input named in the message (a name, a subnet, an option).
    #[error("{0}")]
    Invalid(String),
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {0} already exists")]
    Exists(String),
    #[error("{0} is a pre-defined network and cannot be removed")]
    Predefined(String),
    #[error("network {network} has containers attached ({containers}); disconnect them first, or remove it with force")]
    InUse { network: String, containers: String },
    #[error("no free subnet left in the pool {pool}: every /{prefix_len} overlaps a network or a route of the host")]
    PoolExhausted { pool: IpNet, prefix_len: u8 },
    #[error("subnet {subnet} overlaps {what}")]
    Overlap { subnet: IpNet, what: String },
    #[error("network {network} has no free address left")]
    NoAddress { network: String },
    #[error("address {ip} is not usable on network {network} ({subnet}): {reason}")]
    AddressOutside { ip: IpAddr, network: String, subnet: IpNet, reason: &'static str },
    #[error("address {ip} on network {network} is already used by container {container}")]
    AddressTaken { ip: IpAddr, network: String, container: String },
    #[error("network {network} has no IPv6 ({what}); create it with --ipv6")]
    NoIpv6 { network: String, what: String },
    #[error("container {container} is already connected to network {network}")]
    AlreadyConnected { container: String, network: String },
    #[error("container {container} is not connected to network {network}")]
    NotConnected { container: String, network: String },
    #[error("port {port}/{protocol} is already in use on {host_ip} ({holder}); choose another host port")]
    PortInUse { protocol: Protocol, host_ip: IpAddr, port: u16, holder: String },
    #[error("no free {protocol} port in {range} on {host_ip}; choose another range")]
    NoFreePort { protocol: Protocol, host_ip: IpAddr, range: String },
    #[error("container {0} is on no network that can publish ports (internal networks cannot)")]
    NothingToPublishOn(String),
    #[error(
        "cannot publish {mapping}: container {container} has no IPv6 address on a network that can publish ports; connect it to a network created with --ipv6"
    )]
    NoIpv6ToPublish { container: String, mapping: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error(transparent)]
    Netns(#[from] NetnsError),
    #[error(transparent)]
    Firewall(#[from] NftError),
    #[error(transparent)]
    Sysctl(#[from] SysctlError),
    #[error(transparent)]
    DnsFiles(#[from] DnsFileError),
    #[error(transparent)]
    Dns(#[from] DnsControlError),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    /// Teardown goes on after a failure and reports everything it met.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<NetworkError>),
}

impl NetworkError {
    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetworkError {
        let what = what.into();
        move |source| NetworkError::Io { what, source }
    }

    /// One error, several, or none, from what a teardown collected.
    pub(crate) fn collect(mut errors: Vec<NetworkError>) -> Result<(), NetworkError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(NetworkError::Several(errors)),
        }
    }
}
