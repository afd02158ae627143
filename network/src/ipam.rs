//! Address management, pure: which subnet a new network gets, which address a
//! container gets. The manager supplies what is taken (other networks, the
//! host's routes, existing leases) and records the choice in a transaction.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

pub(crate) fn overlaps(a: Ipv4Net, b: Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first `/prefix_len` of `pool` that overlaps nothing in `taken`.
pub(crate) fn choose_subnet(pool: Ipv4Net, prefix_len: u8, taken: &[Ipv4Net]) -> Option<Ipv4Net> {
    pool.subnets(prefix_len).ok()?.find(|candidate| !taken.iter().any(|t| overlaps(*candidate, *t)))
}

/// The addresses a container may get: the subnet's hosts (within `ip_range` if
/// set), never the gateway.
fn assignable(subnet: Ipv4Net, ip_range: Option<Ipv4Net>, gateway: Ipv4Addr) -> impl Iterator<Item = Ipv4Addr> {
    let range = ip_range.unwrap_or(subnet);
    let (network, broadcast) = (subnet.network(), subnet.broadcast());
    let (first, last) = (u32::from(range.network()), u32::from(range.broadcast()));
    (first..=last).map(Ipv4Addr::from).filter(move |ip| *ip != network && *ip != broadcast && *ip != gateway)
}

/// The lowest free address (MACs follow addresses, so reuse is safe for neighbours).
pub(crate) fn choose_address(
    subnet: Ipv4Net,
    ip_range: Option<Ipv4Net>,
    gateway: Ipv4Addr,
    used: &HashSet<Ipv4Addr>,
) -> Option<Ipv4Addr> {
    assignable(subnet, ip_range, gateway).find(|ip| !used.contains(ip))
}

/// Checks `--subnet/--gateway/--ip-range` and returns the gateway to use.
pub(crate) fn check_network_addresses(
    subnet: Ipv4Net,
    gateway: Option<Ipv4Addr>,
    ip_range: Option<Ipv4Net>,
) -> Result<Ipv4Addr, String> {
    if subnet != subnet.trunc() {
        return Err(format!("--subnet {subnet} has host bits set; did you mean {}?", subnet.trunc()));
    }
    if subnet.prefix_len() > 30 {
        return Err(format!("--subnet {subnet} is too small: it must hold a gateway and a container (/30 at most)"));
    }
    let gateway = match gateway {
        Some(gw) => gw,
        None => subnet.hosts().next().ok_or_else(|| format!("--subnet {subnet} has no host addresses"))?,
    };
    if !subnet.contains(&gateway) || gateway == subnet.network() || gateway == subnet.broadcast() {
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

    fn net(s: &str) -> Ipv4Net {
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
    fn addresses_are_the_lowest_free_within_the_range() {
        let subnet = net("10.89.3.0/24");
        let gw = Ipv4Addr::new(10, 89, 3, 1);
        let mut used = HashSet::new();
        assert_eq!(choose_address(subnet, None, gw, &used), Some(Ipv4Addr::new(10, 89, 3, 2)));
        used.insert(Ipv4Addr::new(10, 89, 3, 2));
        assert_eq!(choose_address(subnet, None, gw, &used), Some(Ipv4Addr::new(10, 89, 3, 3)));
        let range = Some(net("10.89.3.128/30"));
        assert_eq!(choose_address(subnet, range, gw, &used), Some(Ipv4Addr::new(10, 89, 3, 128)));
        let tiny = net("10.89.4.0/30");
        let gw = Ipv4Addr::new(10, 89, 4, 1);
        assert_eq!(choose_address(tiny, None, gw, &HashSet::new()), Some(Ipv4Addr::new(10, 89, 4, 2)));
        assert_eq!(choose_address(tiny, None, gw, &[Ipv4Addr::new(10, 89, 4, 2)].into()), None);
    }

    #[test]
    fn user_addresses_are_checked() {
        let s = net("172.30.0.0/24");
        assert_eq!(check_network_addresses(s, None, None), Ok(Ipv4Addr::new(172, 30, 0, 1)));
        assert_eq!(
            check_network_addresses(s, Some(Ipv4Addr::new(172, 30, 0, 254)), None),
            Ok(Ipv4Addr::new(172, 30, 0, 254))
        );
        let err = |g: Option<&str>, r: Option<&str>, sub: &str| {
            check_network_addresses(net(sub), g.map(|g| g.parse().unwrap()), r.map(net)).unwrap_err()
        };
        assert!(err(None, None, "172.30.0.5/24").contains("host bits"));
        assert!(err(Some("172.31.0.1"), None, "172.30.0.0/24").contains("--gateway"));
        assert!(err(Some("172.30.0.255"), None, "172.30.0.0/24").contains("--gateway"));
        assert!(err(None, Some("172.31.0.0/25"), "172.30.0.0/24").contains("not inside"));
        assert!(err(None, Some("172.30.0.0/32"), "172.30.0.0/24").contains("leaves no address"));
        assert!(err(None, None, "172.30.0.0/31").contains("too small"));
    }
}
