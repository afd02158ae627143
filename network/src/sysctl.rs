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
/// ports), turned on for every interface as Docker does. The kernel then
/// ignores router advertisements on interfaces whose accept_ra is 1, so this
/// names those whose default route came from one (they would lose it when it
/// expires).
pub(crate) fn enable_ipv6_forward() -> Result<(), SysctlError> {
    let path = PathBuf::from("/proc/sys/net/ipv6/conf/all/forwarding");
    if std::fs::read_to_string(&path).is_ok_and(|current| current.trim() == "1") {
        return Ok(());
    }
    set(path, "1")?;
    let learned = ra_default_routes(&std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default());
    let affected: Vec<String> = learned
        .into_iter()
        .filter(|link| {
            std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{link}/accept_ra")).is_ok_and(|v| v.trim() == "1")
        })
        .collect();
    if !affected.is_empty() {
        tracing::warn!(
            interfaces = ?affected,
            "IPv6 forwarding is now on: these interfaces have a default route from router advertisements, \
             which they no longer accept; set net.ipv6.conf.<interface>.accept_ra=2 to keep them"
        );
    }
    Ok(())
}

/// The interfaces of /proc/net/ipv6_route's default routes learned from
/// router advertisements (RTF_DEFAULT or RTF_ADDRCONF set).
fn ra_default_routes(table: &str) -> Vec<String> {
    const RTF_DEFAULT: u32 = 0x0001_0000;
    const RTF_ADDRCONF: u32 = 0x0004_0000;
    let mut links: Vec<String> = table
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [destination, prefix_len, .., flags, link] = fields.as_slice() else { return None };
            let flags = u32::from_str_radix(flags, 16).ok()?;
            let default = destination.bytes().all(|b| b == b'0') && *prefix_len == "00";
            (default && flags & (RTF_DEFAULT | RTF_ADDRCONF) != 0).then(|| link.to_string())
        })
        .collect();
    links.dedup();
    links
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_routes_from_router_advertisements_are_found() {
        let table = "\
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe80000000000000000000fffe000001 00000400 00000001 00000000 00450003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 fd000000000000000000000000000001 00000400 00000001 00000000 00000003     eth1
fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth1
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
";
        assert_eq!(ra_default_routes(table), vec!["eth0".to_string()]);
    }
}
