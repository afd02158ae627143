//! The few kernel switches berth turns on in the host namespace.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("cannot set {path} to {value}: {source}")]
pub struct SysctlError {
    path: PathBuf,
    value: &'static str,
    source: std::io::Error,
}

fn set(path: PathBuf, value: &'static str) -> Result<(), SysctlError> {
    if std::fs::read_to_string(&path).is_ok_and(|current| current.trim() == value) {
        return Ok(());
    }
    std::fs::write(&path, value).map_err(|source| SysctlError { path, value, source })
}

/// Routing between the bridges and the uplink, needed by outbound NAT and by
/// published ports (Docker and Podman turn it on too, and leave it on).
pub(crate) fn enable_ip_forward() -> Result<(), SysctlError> {
    set("/proc/sys/net/ipv4/ip_forward".into(), "1")
}

/// Lets 127.0.0.1 traffic be DNATed out of `bridge`, so that a published port
/// answers on the host's loopback (the postrouting masquerade gives it a source
/// the container can answer).
pub(crate) fn enable_route_localnet(bridge: &str) -> Result<(), SysctlError> {
    set(PathBuf::from(format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet")), "1")
}
