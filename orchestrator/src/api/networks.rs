//! Messages of the network endpoints (`/v1/networks/...`): what `network
//! create|ls|inspect|rm|prune|connect|disconnect` send and get. `create` sends
//! a [`berth_network::NetworkSpec`], `ls` gets [`berth_network::Network`]s and
//! `inspect` a [`berth_network::NetworkDetails`].

use std::net::{Ipv4Addr, Ipv6Addr};

use berth_network::ContainerLink;
use serde::{Deserialize, Serialize};

/// `POST /v1/networks/{name}/remove`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveRequest {
    /// Disconnect attached containers first.
    pub force: bool,
}

/// `POST /v1/networks/prune`: the names of the networks removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PruneRequest {
    /// `KEY` or `KEY=VALUE`: only networks with every one of these labels.
    pub labels: Vec<String>,
}

/// `POST /v1/networks/{name}/connect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectRequest {
    pub container: String,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub aliases: Vec<String>,
    pub links: Vec<ContainerLink>,
}

/// `POST /v1/networks/{name}/disconnect`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectRequest {
    pub container: String,
}
