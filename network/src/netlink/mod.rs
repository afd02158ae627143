//! rtnetlink through netlink-packet-route over a plain (blocking) netlink socket.
//! A socket talks to the network namespace it was opened in, so configuring a
//! container means opening one on a thread that has joined the container's
//! namespace (see `netns::in_netns`); nothing here changes the process's namespace.

mod addr;
mod link;
mod route;
mod socket;

pub(crate) use addr::add_address;
pub(crate) use link::{LinkKind, VethSpec, create_bridge, create_veth, delete_link, link_by_name, list_links, set_up};
pub(crate) use route::{add_default_route, list_routes};
pub use socket::NetlinkError;
pub(crate) use socket::Rtnl;
