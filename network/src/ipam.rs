//! Address management, pure: which subnet a new network gets, which address a
//! container gets. The manager supplies what is taken (other networks, the
//! host's routes, existing leases) and records the choice in a transaction.
//!
//! One family at a time, the same rules for both: addresses are numbers
//! (`u128`), a subnet's first address is never a container's (IPv4's network
//! address, IPv6's subnet-router anycast address), nor IPv4's broadcast, nor
//! the gateway.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;

fn number(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(ip) => u128::from(u32::from(ip)),
        IpAddr::V6(ip) => u128::from(ip),
    }
}

/// The address `n` of the family of `like`.
fn address(like: IpAddr, n: u128) -> IpAddr {
    match like {
        // The callers stay within one IPv4 subnet, so `n` fits.
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(u32::try_from(n).unwrap_or(u32::MAX))),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

pub(crate) fn overlaps(a: impl Into<IpNet>, b: impl Into<IpNet>) -> bool {
    let (a, b) = (a.into(), b.into());
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first `/prefix_len` of `pool` that overlaps nothing in `taken`.
pub(crate) fn choose_subnet(pool: IpNet, prefix_len: u8, taken: &[IpNet]) -> Option<IpNet> {
    pool.subnets(prefix_len).ok()?.find(|candidate| !taken.iter().any(|t| overlaps(*candidate, *t)))
}

/// Why `ip` can never be a container's address on `subnet`, if it cannot.
fn reserved(subnet: IpNet, gateway: IpAddr, ip: IpAddr) -> Option<&'static str> {
    if ip == gateway {
        Some("it is the gateway")
    } else if ip == subnet.network() {
        Some(match subnet {
            IpNet::V4(_) => "it is the subnet's network address",
            IpNet::V6(_) => "it is the subnet-router anycast address",
        })
    } else if matches!(subnet, IpNet::V4(_)) && ip == subnet.broadcast() {
        Some("it is the subnet's broadcast address")
    } else {
        None
    }
}

/// The addresses a container may get: the subnet's (within `ip_range` if set),
/// lowest first, none of them reserved.
fn assignable(subnet: IpNet, ip_range: Option<IpNet>, gateway: IpAddr) -> impl Iterator<Item = IpAddr> {
    let range = ip_range.unwrap_or(subnet);
    let (first, last) = (number(range.network()), number(range.broadcast()));
    (first..=last).map(move |n| address(gateway, n)).filter(move |ip| reserved(subnet, gateway, *ip).is_none())
}

/// The lowest free address (MACs follow IPv4 addresses, so reuse is safe for neighbours).
pub(crate) fn choose_address(
    subnet: IpNet,
    ip_range: Option<IpNet>,
    gateway: IpAddr,
    used: &HashSet<IpAddr>,
) -> Option<IpAddr> {
    assignable(subnet, ip_range, gateway).find(|ip| !used.contains(ip))
}

/// Why a fixed address (`--ip`, `--ip6`) cannot be a container's on `subnet`.
pub(crate) fn check_fixed_address(subnet: IpNet, gateway: IpAddr, ip: IpAddr) -> Result<(), &'static str> {
    if !subnet.contains(&ip) {
        return Err("it is outside the subnet");
    }
    reserved(subnet, gateway, ip).map_or(Ok(()), Err)
}

/// Checks `--subnet/--gateway/--ip-range` of one family and returns the gateway
/// to use (the subnet's first host address when not given).
pub(crate) fn check_network_addresses(
    subnet: IpNet,
    gateway: Option<IpAddr>,
    ip_range: Option<IpNet>,
) -> Result<IpAddr, String> {
    if subnet != subnet.trunc() {
        return Err(format!("--subnet {subnet} has host bits set; did you mean {}?", subnet.trunc()));
    }
    // Room for the reserved first address, a gateway and a container.
    let smallest = subnet.max_prefix_len() - 2;
    if subnet.prefix_len() > smallest {
        return Err(format!(
            "--subnet {subnet} is too small: it must hold a gateway and a container (/{smallest} at most)"
        ));
    }
    let gateway = gateway.unwrap_or_else(|| address(subnet.network(), number(subnet.network()) + 1));
    let is_host = subnet.contains(&gateway)
        && gateway != subnet.network()
        && !(matches!(subnet, IpNet::V4(_)) && gateway == subnet.broadcast());
    if !is_host {
        return Err(format!("--gateway {gateway} is not a host address of --subnet {subnet}"));
    }
    if let Some(range) = ip_range {
        if range != range.trunc() {
            return Err(format!("--ip-range {range} has host bits set; did you mean {}?", range.trunc()));
        }
        if !subnet.contains(&range) {
            return Err(format!("--ip-range {range} is not inside --subnet {subnet}"));
        }
        if assignable(subnet, Some(range), gateway).next().is_none() {
            return Err(format!("--ip-range {range} leaves no address for containers"));
        }
    }
    Ok(gateway)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_skip_whatever_overlaps() {
        let pool = net("10.89.0.0/16");
        assert_eq!(choose_subnet(pool, 24, &[]), Some(net("10.89.0.0/24")));
        // A host route inside the pool, a bigger route covering two /24s, another network.
        let taken = [net("10.89.0.128/25"), net("10.89.2.0/23"), net("10.89.1.0/24")];
        assert_eq!(choose_subnet(pool, 24, &taken), Some(net("10.89.4.0/24")));
        // A route containing the whole pool leaves nothing.
        assert_eq!(choose_subnet(pool, 24, &[net("10.0.0.0/8")]), None);
        assert_eq!(choose_subnet(net("10.89.0.0/24"), 16, &[]), None);
    }

    #[test]
    fn ipv6_subnets_are_cut_from_the_pool_around_host_routes() {
        let pool = net("fd89:6272:7468::/48");
        assert_eq!(choose_subnet(pool, 64, &[]), Some(net("fd89:6272:7468::/64")));
        let taken = [net("fd89:6272:7468::/63"), net("fd89:6272:7468:2::/64"), net("fd00::/64")];
        assert_eq!(choose_subnet(pool, 64, &taken), Some(net("fd89:6272:7468:3::/64")));
        // The host's uplink prefix (fd00::/64 here) never overlaps the default pool.
        assert!(!overlaps(pool, net("fd00::/64")));
        assert_eq!(choose_subnet(pool, 64, &[net("fd89::/16")]), None);
    }

    #[test]
    fn addresses_are_the_lowest_free_within_the_range() {
        let subnet = net("10.89.3.0/24");
        let gw = ip("10.89.3.1");
        let mut used = HashSet::new();
        assert_eq!(choose_address(subnet, None, gw, &used), Some(ip("10.89.3.2")));
        used.insert(ip("10.89.3.2"));
        assert_eq!(choose_address(subnet, None, gw, &used), Some(ip("10.89.3.3")));
        let range = Some(net("10.89.3.128/30"));
        assert_eq!(choose_address(subnet, range, gw, &used), Some(ip("10.89.3.128")));
        let tiny = net("10.89.4.0/30");
        let gw = ip("10.89.4.1");
        assert_eq!(choose_address(tiny, None, gw, &HashSet::new()), Some(ip("10.89.4.2")));
        assert_eq!(choose_address(tiny, None, gw, &[ip("10.89.4.2")].into()), None);
    }

    #[test]
    fn ipv6_addresses_skip_the_anycast_address_and_the_gateway() {
        let subnet = net("fd89:1:2:3::/64");
        let gw = ip("fd89:1:2:3::1");
        let mut used = HashSet::new();
        assert_eq!(choose_address(subnet, None, gw, &used), Some(ip("fd89:1:2:3::2")));
        used.insert(ip("fd89:1:2:3::2"));
        assert_eq!(choose_address(subnet, None, gw, &used), Some(ip("fd89:1:2:3::3")));
        // A gateway elsewhere in the subnet frees ::1; the anycast address stays out.
        assert_eq!(choose_address(subnet, None, ip("fd89:1:2:3::ff"), &HashSet::new()), Some(ip("fd89:1:2:3::1")));
        let range = Some(net("fd89:1:2:3:8000::/65"));
        assert_eq!(choose_address(subnet, range, gw, &used), Some(ip("fd89:1:2:3:8000::")));
        // The last address of a v6 subnet is an address like any other (no broadcast).
        let tiny = net("fd89::/126");
        let taken = [ip("fd89::2")].into();
        assert_eq!(choose_address(tiny, None, ip("fd89::1"), &taken), Some(ip("fd89::3")));
    }

    #[test]
    fn fixed_addresses_say_why_they_cannot_be_used() {
        let (v4, gw4) = (net("10.89.5.0/24"), ip("10.89.5.1"));
        assert_eq!(check_fixed_address(v4, gw4, ip("10.89.5.9")), Ok(()));
        assert_eq!(check_fixed_address(v4, gw4, ip("10.89.6.9")), Err("it is outside the subnet"));
        assert_eq!(check_fixed_address(v4, gw4, ip("10.89.5.1")), Err("it is the gateway"));
        assert_eq!(check_fixed_address(v4, gw4, ip("10.89.5.255")), Err("it is the subnet's broadcast address"));
        let (v6, gw6) = (net("fd89::/64"), ip("fd89::1"));
        assert_eq!(check_fixed_address(v6, gw6, ip("fd89::ffff:ffff:ffff:ffff")), Ok(()));
        assert_eq!(check_fixed_address(v6, gw6, ip("fd89::")), Err("it is the subnet-router anycast address"));
        assert_eq!(check_fixed_address(v6, gw6, ip("fd8a::5")), Err("it is outside the subnet"));
    }

    #[test]
    fn user_addresses_are_checked() {
        let s = net("172.30.0.0/24");
        assert_eq!(check_network_addresses(s, None, None), Ok(ip("172.30.0.1")));
        assert_eq!(check_network_addresses(s, Some(ip("172.30.0.254")), None), Ok(ip("172.30.0.254")));
        let err = |g: Option<&str>, r: Option<&str>, sub: &str| {
            check_network_addresses(net(sub), g.map(ip), r.map(net)).unwrap_err()
        };
        assert!(err(None, None, "172.30.0.5/24").contains("host bits"));
        assert!(err(Some("172.31.0.1"), None, "172.30.0.0/24").contains("--gateway"));
        assert!(err(Some("172.30.0.255"), None, "172.30.0.0/24").contains("--gateway"));
        assert!(err(None, Some("172.31.0.0/25"), "172.30.0.0/24").contains("not inside"));
        assert!(err(None, Some("172.30.0.0/32"), "172.30.0.0/24").contains("leaves no address"));
        assert!(err(None, None, "172.30.0.0/31").contains("too small"));
        // The same rules for IPv6, with its own limits.
        assert_eq!(check_network_addresses(net("fd89:7::/64"), None, None), Ok(ip("fd89:7::1")));
        assert!(err(None, None, "fd89:7::1/64").contains("host bits"));
        assert!(err(None, None, "fd89:7::/127").contains("/126 at most"));
        assert!(err(Some("fd89:7::"), None, "fd89:7::/64").contains("--gateway"));
        assert!(err(None, Some("fd89:8::/80"), "fd89:7::/64").contains("not inside"));
    }
}
