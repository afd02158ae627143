//! Routes: the host's (so IPAM avoids them) and a container's default routes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};

use super::{NetlinkError, Rtnl};

fn family_of(ip: IpAddr) -> AddressFamily {
    match ip {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// The destinations of the main table's routes of one family (`like`'s:
/// 0.0.0.0 for IPv4, :: for IPv6), the default route included (as /0).
pub(crate) fn list_routes(rtnl: &mut Rtnl, like: IpAddr) -> Result<Vec<IpNet>, NetlinkError> {
    let mut request = RouteMessage::default();
    request.header.address_family = family_of(like);
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
        let destination = message
            .attributes
            .iter()
            .find_map(|a| match a {
                RouteAttribute::Destination(RouteAddress::Inet(ip)) => Some(IpAddr::V4(*ip)),
                RouteAttribute::Destination(RouteAddress::Inet6(ip)) => Some(IpAddr::V6(*ip)),
                _ => None,
            })
            .unwrap_or(match like {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            });
        if let Ok(net) = IpNet::new(destination, message.header.destination_prefix_length) {
            routes.push(net);
        }
    }
    Ok(routes)
}

/// `default via <gateway>` (of the gateway's family) in the namespace the
/// socket belongs to, unless it has one already (then false: the first
/// network keeps it).
pub(crate) fn add_default_route(rtnl: &mut Rtnl, gateway: IpAddr, oif: u32) -> Result<bool, NetlinkError> {
    let mut message = RouteMessage::default();
    message.header.address_family = family_of(gateway);
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.protocol = RouteProtocol::Boot;
    message.header.scope = RouteScope::Universe;
    message.header.kind = RouteType::Unicast;
    let via = match gateway {
        IpAddr::V4(ip) => RouteAddress::Inet(ip),
        IpAddr::V6(ip) => RouteAddress::Inet6(ip),
    };
    message.attributes.push(RouteAttribute::Gateway(via));
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
