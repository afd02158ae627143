//! IPv4 addresses on links.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{NetlinkError, Rtnl};

pub(crate) fn add_address(
    rtnl: &mut Rtnl,
    index: u32,
    ip: Ipv4Addr,
    prefix_len: u8,
    link: &str,
) -> Result<(), NetlinkError> {
    let mut message = AddressMessage::default();
    message.header.family = AddressFamily::Inet;
    message.header.prefix_len = prefix_len;
    message.header.index = index;
    message.attributes.push(AddressAttribute::Local(IpAddr::V4(ip)));
    message.attributes.push(AddressAttribute::Address(IpAddr::V4(ip)));
    if prefix_len < 31 {
        let host_bits = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
        message.attributes.push(AddressAttribute::Broadcast(Ipv4Addr::from(u32::from(ip) | host_bits)));
    }
    rtnl.request(
        || format!("add address {ip}/{prefix_len} to {link}"),
        RouteNetlinkMessage::NewAddress(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    Ok(())
}
