//! Identifiers and names: network ids, link names, MAC addresses, and the checks
//! user-given names pass before they reach a path, a link or the DNS.

use std::io::Read;
use std::net::Ipv4Addr;

use sha2::{Digest, Sha256};

/// A new network id: 64 hex digits from the kernel's random source, like Docker's.
pub(crate) fn new_network_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// The host end of a container's veth on a network: `<prefix>v<8 hex>`. Derived,
/// not stored alone, so that recovery can tell which attachment a link belongs to.
pub(crate) fn host_veth_name(prefix: &str, container_id: &str, network_id: &str) -> String {
    let digest = Sha256::new().chain_update(container_id).chain_update([0]).chain_update(network_id).finalize();
    format!("{prefix}v{}", &hex::encode(digest)[..8])
}

/// IFLA_IFALIAS of a bridge: berth's mark, naming the prefix (so managers with
/// different prefixes never take each other's links) and the network.
pub(crate) fn bridge_alias(prefix: &str, network_id: &str) -> String {
    format!("berth:{prefix}:network:{network_id}")
}

/// IFLA_IFALIAS of the host end of a veth.
pub(crate) fn veth_alias(prefix: &str, container_id: &str, network_id: &str) -> String {
    format!("berth:{prefix}:attachment:{container_id}:{network_id}")
}

/// What a link's alias says it is, if it is one of ours (for `prefix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mark<'a> {
    Bridge { network_id: &'a str },
    Veth { container_id: &'a str, network_id: &'a str },
}

pub(crate) fn parse_alias<'a>(prefix: &str, alias: &'a str) -> Option<Mark<'a>> {
    let rest = alias.strip_prefix("berth:")?.strip_prefix(prefix)?.strip_prefix(':')?;
    if let Some(network_id) = rest.strip_prefix("network:") {
        return Some(Mark::Bridge { network_id });
    }
    let (container_id, network_id) = rest.strip_prefix("attachment:")?.split_once(':')?;
    Some(Mark::Veth { container_id, network_id })
}

/// A MAC address made from the IPv4 address, as Docker does (02:42:a:b:c:d): an
/// address that returns to another container keeps its MAC, so no neighbour
/// holds a stale ARP entry for it.
pub(crate) fn mac_for(ip: Ipv4Addr) -> [u8; 6] {
    let [a, b, c, d] = ip.octets();
    [0x02, 0x42, a, b, c, d]
}

pub(crate) fn mac_string(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Network names as Docker accepts them: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`, at most 128.
pub(crate) fn check_network_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let first_ok = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric());
    if !first_ok || name.len() > 128 || !bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b)) {
        return Err(format!(
            "invalid network name {name:?}: use letters, digits, '_', '.', '-', starting with a letter or digit"
        ));
    }
    Ok(())
}

/// Container ids name files under `<run>/netns/`: no separators, no dot-names.
pub(crate) fn check_container_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && !id.starts_with('.')
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !ok {
        return Err(format!("invalid container id {id:?}"));
    }
    Ok(())
}

/// Names served by the DNS (container names, aliases, hostnames, link aliases):
/// dot-separated labels of `[A-Za-z0-9_-]`, each 1..=63 long.
pub(crate) fn check_dns_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len()) && label.bytes().all(|b| b.is_ascii_alphanumeric() || b"_-".contains(&b))
        });
    if !ok {
        return Err(format!("invalid {what} {name:?}: it must be a DNS name (letters, digits, '-', '_', dots)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn veth_names_fit_the_kernel_limit_and_are_stable() {
        let a = host_veth_name("berth", "c1", "n1");
        assert_eq!(a, host_veth_name("berth", "c1", "n1"));
        assert_ne!(a, host_veth_name("berth", "c1", "n2"));
        assert!(a.len() <= 15 && a.starts_with("berthv"), "{a}");
    }

    #[test]
    fn aliases_are_read_back_for_their_prefix_only() {
        assert_eq!(parse_alias("bt1", &bridge_alias("bt1", "n1")), Some(Mark::Bridge { network_id: "n1" }));
        assert_eq!(
            parse_alias("bt1", &veth_alias("bt1", "c1", "n1")),
            Some(Mark::Veth { container_id: "c1", network_id: "n1" })
        );
        assert_eq!(parse_alias("bt", &bridge_alias("bt1", "n1")), None);
        assert_eq!(parse_alias("bt1", &bridge_alias("bt11", "n1")), None);
        assert_eq!(parse_alias("bt1", "something else"), None);
    }

    #[test]
    fn mac_carries_the_address() {
        assert_eq!(mac_string(mac_for(Ipv4Addr::new(10, 89, 1, 2))), "02:42:0a:59:01:02");
    }

    #[test]
    fn names_are_checked() {
        check_network_name("my_net-1.x").unwrap();
        assert!(check_network_name("-x").is_err());
        assert!(check_network_name("a/b").is_err());
        check_container_id("0123abc").unwrap();
        assert!(check_container_id("../x").is_err());
        assert!(check_container_id("..").is_err());
        check_dns_name("alias", "db.internal").unwrap();
        assert!(check_dns_name("alias", "a..b").is_err());
        assert!(check_dns_name("alias", "a b").is_err());
    }

    #[test]
    fn network_ids_are_random_hex() {
        let a = new_network_id().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_network_id().unwrap());
    }
}
