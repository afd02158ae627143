//! Links: bridges, veth pairs, up, delete, list.

use std::os::fd::{AsRawFd, BorrowedFd};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    InfoBridgePort, InfoData, InfoKind, InfoPortData, InfoPortKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage,
};

use super::{NetlinkError, Rtnl};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkKind {
    Bridge,
    Veth,
    Other,
}

/// What recovery and the tests need to know of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinkSummary {
    pub index: u32,
    pub name: String,
    pub kind: LinkKind,
    pub alias: Option<String>,
    pub master: Option<u32>,
    /// IFLA_LINK: for a veth, its peer's index (in the peer's namespace).
    pub peer_index: Option<u32>,
    pub up: bool,
}

impl LinkSummary {
    fn from_message(message: &LinkMessage) -> Option<Self> {
        let mut summary = LinkSummary {
            index: message.header.index,
            name: String::new(),
            kind: LinkKind::Other,
            alias: None,
            master: None,
            peer_index: None,
            up: message.header.flags.contains(LinkFlags::Up),
        };
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => summary.name = name.clone(),
                LinkAttribute::IfAlias(alias) => summary.alias = Some(alias.clone()),
                LinkAttribute::Controller(master) => summary.master = Some(*master),
                LinkAttribute::Link(peer) => summary.peer_index = Some(*peer),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        match info {
                            LinkInfo::Kind(InfoKind::Bridge) => summary.kind = LinkKind::Bridge,
                            LinkInfo::Kind(InfoKind::Veth) => summary.kind = LinkKind::Veth,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        (!summary.name.is_empty()).then_some(summary)
    }
}

pub(crate) fn list_links(rtnl: &mut Rtnl) -> Result<Vec<LinkSummary>, NetlinkError> {
    let replies = rtnl.dump("list links", RouteNetlinkMessage::GetLink(LinkMessage::default()))?;
    Ok(replies
        .iter()
        .filter_map(|reply| match reply {
            RouteNetlinkMessage::NewLink(message) => LinkSummary::from_message(message),
            _ => None,
        })
        .collect())
}

/// The link called `name`, if there is one.
pub(crate) fn link_by_name(rtnl: &mut Rtnl, name: &str) -> Result<Option<LinkSummary>, NetlinkError> {
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::IfName(name.to_string()));
    match rtnl.request(|| format!("look up link {name}"), RouteNetlinkMessage::GetLink(message), 0) {
        Ok(replies) => Ok(replies.iter().find_map(|reply| match reply {
            RouteNetlinkMessage::NewLink(message) => LinkSummary::from_message(message),
            _ => None,
        })),
        Err(e) if e.errno() == Some(libc_enodev()) => Ok(None),
        Err(e) => Err(e),
    }
}

/// ENODEV without a libc dependency of our own: nix re-exports the value.
fn libc_enodev() -> i32 {
    nix::errno::Errno::ENODEV as i32
}

/// Creates a bridge (down; [`set_up`] after its address is on) and returns its index.
pub(crate) fn create_bridge(rtnl: &mut Rtnl, name: &str, mtu: u32, alias: &str) -> Result<u32, NetlinkError> {
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::IfName(name.to_string()));
    message.attributes.push(LinkAttribute::Mtu(mtu));
    // The kernel's bridge has STP off, so a port forwards as soon as it is up.
    message.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
    rtnl.request(|| format!("create bridge {name}"), RouteNetlinkMessage::NewLink(message), NLM_F_CREATE | NLM_F_EXCL)?;
    let index = link_by_name(rtnl, name)?
        .ok_or_else(|| NetlinkError {
            op: format!("find bridge {name} after creating it"),
            source: std::io::Error::from_raw_os_error(libc_enodev()),
        })?
        .index;
    set_alias(rtnl, index, name, alias)?;
    Ok(index)
}

/// Sets IFLA_IFALIAS: berth's mark on a link, shown by `ip link`.
fn set_alias(rtnl: &mut Rtnl, index: u32, name: &str, alias: &str) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
    rtnl.request(|| format!("mark link {name}"), RouteNetlinkMessage::SetLink(message), 0)?;
    Ok(())
}

pub(crate) fn set_up(rtnl: &mut Rtnl, index: u32, name: &str) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.header.flags = LinkFlags::Up;
    message.header.change_mask = LinkFlags::Up;
    rtnl.request(|| format!("set link {name} up"), RouteNetlinkMessage::SetLink(message), 0)?;
    Ok(())
}

pub(crate) fn delete_link(rtnl: &mut Rtnl, index: u32, name: &str) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    rtnl.request(|| format!("delete link {name}"), RouteNetlinkMessage::DelLink(message), 0)?;
    Ok(())
}

/// A veth pair whose host end is a bridge port and whose peer is born inside
/// the container's namespace, named and addressed there, in one message.
#[derive(Debug)]
pub(crate) struct VethSpec<'a> {
    pub host_name: &'a str,
    pub host_alias: &'a str,
    pub bridge_index: u32,
    pub mtu: u32,
    pub peer_name: &'a str,
    pub peer_mac: [u8; 6],
    pub peer_netns: BorrowedFd<'a>,
}

/// Returns the index of the host end and of the peer (in its namespace).
pub(crate) fn create_veth(rtnl: &mut Rtnl, spec: &VethSpec<'_>) -> Result<(u32, u32), NetlinkError> {
    let mut peer = LinkMessage::default();
    peer.attributes.push(LinkAttribute::IfName(spec.peer_name.to_string()));
    peer.attributes.push(LinkAttribute::Mtu(spec.mtu));
    peer.attributes.push(LinkAttribute::Address(spec.peer_mac.to_vec()));
    peer.attributes.push(LinkAttribute::NetNsFd(spec.peer_netns.as_raw_fd()));

    let mut message = LinkMessage::default();
    message.header.flags = LinkFlags::Up;
    message.header.change_mask = LinkFlags::Up;
    message.attributes.push(LinkAttribute::IfName(spec.host_name.to_string()));
    message.attributes.push(LinkAttribute::Mtu(spec.mtu));
    message.attributes.push(LinkAttribute::Controller(spec.bridge_index));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::Veth),
        LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer))),
    ]));
    let name = spec.host_name;
    rtnl.request(|| format!("create veth {name}"), RouteNetlinkMessage::NewLink(message), NLM_F_CREATE | NLM_F_EXCL)?;
    let missing = || NetlinkError {
        op: format!("find veth {name} after creating it"),
        source: std::io::Error::from_raw_os_error(libc_enodev()),
    };
    let link = link_by_name(rtnl, name)?.ok_or_else(missing)?;
    let peer_index = link.peer_index.ok_or_else(missing)?;
    mark_port(rtnl, link.index, name, spec.host_alias)?;
    Ok((link.index, peer_index))
}

/// Marks the host end of a veth and turns on hairpin mode on its bridge port:
/// a container reaching its own published port has its packet DNATed back to
/// itself, and br_netfilter then bridges it out of the port it came in by.
/// RTM_NEWLINK on the existing link: the kernel applies bridge-port settings
/// (IFLA_INFO_SLAVE_DATA) only on that path, not on RTM_SETLINK.
fn mark_port(rtnl: &mut Rtnl, index: u32, name: &str, alias: &str) -> Result<(), NetlinkError> {
    let mut message = LinkMessage::default();
    message.header.index = index;
    message.attributes.push(LinkAttribute::IfAlias(alias.to_string()));
    message.attributes.push(LinkAttribute::LinkInfo(vec![
        LinkInfo::PortKind(InfoPortKind::Bridge),
        LinkInfo::PortData(InfoPortData::BridgePort(vec![InfoBridgePort::HairpinMode(true)])),
    ]));
    rtnl.request(|| format!("set up bridge port {name}"), RouteNetlinkMessage::NewLink(message), 0)?;
    Ok(())
}
