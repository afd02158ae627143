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

/// IPv6 routing between the bridges and the uplink (for NAT66 and published
/// ports). Like Docker, berth turns it on for every interface: the kernel then
/// ignores router advertisements on interfaces whose accept_ra is 1, so it
/// says which ones rely on them.
pub(crate) fn enable_ipv6_forward() -> Result<(), SysctlError> {
    let path = PathBuf::from("/proc/sys/net/ipv6/conf/all/forwarding");
    if std::fs::read_to_string(&path).is_ok_and(|current| current.trim() == "1") {
        return Ok(());
    }
    let listening: Vec<String> = std::fs::read_dir("/proc/sys/net/ipv6/conf")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| std::fs::read_to_string(entry.path().join("accept_ra")).is_ok_and(|v| v.trim() == "1"))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !["all", "default", "lo"].contains(&name.as_str()))
        .collect();
    set(path, "1")?;
    if !listening.is_empty() {
        tracing::warn!(
            interfaces = ?listening,
            "IPv6 forwarding is now on: these interfaces stop accepting router advertisements \
             (set net.ipv6.conf.<interface>.accept_ra=2 where the host needs them)"
        );
    }
    Ok(())
}

/// IPv6 on `interface` of the namespace the calling thread is in: on (and
/// without duplicate address detection, so that its link-local address is
/// usable at once) for a network with IPv6; off for one without, so that the
/// interface carries no IPv6 at all (no link-local address, no solicitations).
pub(crate) fn set_ipv6(interface: &str, on: bool) -> Result<(), SysctlError> {
    let conf = PathBuf::from(format!("/proc/sys/net/ipv6/conf/{interface}"));
    if on {
        set(conf.join("accept_dad"), "0")?;
        set(conf.join("disable_ipv6"), "0")
    } else {
        set(conf.join("disable_ipv6"), "1")
    }
}
