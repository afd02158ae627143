//! Addresses on links.

use std::net::{IpAddr, Ipv4Addr};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{NetlinkError, Rtnl};

/// Adds `ip/prefix_len` to the link. An IPv6 address skips duplicate address
/// detection (IFA_F_NODAD): berth's IPAM already made it unique on its bridge,
/// and DAD would keep it tentative (unusable, not even bindable) for a second.
pub(crate) fn add_address(
    rtnl: &mut Rtnl,
    index: u32,
    ip: IpAddr,
    prefix_len: u8,
    link: &str,
) -> Result<(), NetlinkError> {
    let mut message = AddressMessage::default();
    message.header.prefix_len = prefix_len;
    message.header.index = index;
    match ip {
        IpAddr::V4(v4) => {
            message.header.family = AddressFamily::Inet;
            message.attributes.push(AddressAttribute::Local(ip));
            message.attributes.push(AddressAttribute::Address(ip));
            if prefix_len < 31 {
                let host_bits = u32::MAX.checked_shr(u32::from(prefix_len)).unwrap_or(0);
                message.attributes.push(AddressAttribute::Broadcast(Ipv4Addr::from(u32::from(v4) | host_bits)));
            }
        }
        IpAddr::V6(_) => {
            message.header.family = AddressFamily::Inet6;
            message.header.flags = AddressHeaderFlags::Nodad;
            message.attributes.push(AddressAttribute::Address(ip));
            message.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
    }
    rtnl.request(
        || format!("add address {ip}/{prefix_len} to {link}"),
        RouteNetlinkMessage::NewAddress(message),
        NLM_F_CREATE | NLM_F_EXCL,
    )?;
    Ok(())
}
