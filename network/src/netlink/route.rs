//! IPv4 routes: the host's (so IPAM avoids them) and a container's default route.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{NetlinkError, Rtnl};

/// A route of the main table: its destination and outgoing link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RouteV4 {
    pub destination: Ipv4Net,
    pub oif: Option<u32>,
}

/// The IPv4 routes of the main table.
pub(crate) fn list_routes_v4(rtnl: &mut Rtnl) -> Result<Vec<RouteV4>, NetlinkError> {
    let mut request = RouteMessage::default();
    request.header.address_family = AddressFamily::Inet;
    let replies = rtnl.dump("list routes", RouteNetlinkMessage::GetRoute(request))?;
    let mut routes = Vec::new();
    for reply in replies {
        let RouteNetlinkMessage::NewRoute(message) = reply else { continue };
        let table = message
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(message.header.table));
        if table != u32::from(RouteHeader::RT_TABLE_MAIN) {
            continue;
        }
        let mut destination = Ipv4Addr::UNSPECIFIED;
        let mut oif = None;
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => destination = *ip,
                RouteAttribute::Oif(index) => oif = Some(*index),
                _ => {}
            }
        }
        if let Ok(net) = Ipv4Net::new(destination, message.header.destination_prefix_length) {
            routes.push(RouteV4 { destination: net, oif });
        }
    }
    Ok(routes)
}

/// `default via <gateway>` in the namespace the socket belongs to, unless it
/// has a default route already (then false: the first network keeps it).
pub(crate) fn add_default_route(rtnl: &mut Rtnl, gateway: Ipv4Addr, oif: u32) -> Result<bool, NetlinkError> {
    let mut message = RouteMessage::default();
    message.header.address_family = AddressFamily::Inet;
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.protocol = RouteProtocol::Boot;
    message.header.scope = RouteScope::Universe;
    message.header.kind = RouteType::Unicast;
    message.attributes.push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
    message.attributes.push(RouteAttribute::Oif(oif));
    match rtnl.request(
        || format!("add the default route via {gateway}"),
        RouteNetlinkMessage::NewRoute(message),
        NLM_F_CREATE | NLM_F_EXCL,
    ) {
        Ok(_) => Ok(true),
        Err(e) if e.errno() == Some(nix::errno::Errno::EEXIST as i32) => Ok(false),
        Err(e) => Err(e),
    }
}
