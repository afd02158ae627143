//! What a [`crate::NetworkManager`] is opened with.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::{Ipv4Net, Ipv6Net};

/// Where the embedded DNS server forwards names it does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstreams {
    /// The `nameserver` lines of this file (normally /etc/resolv.conf), skipping
    /// loopback ones like Docker does: a container cannot reach the host's 127.0.0.53.
    ResolvConf(PathBuf),
    /// Exactly these servers (tests give a stand-in of their own on 127.0.0.x).
    Explicit(Vec<SocketAddr>),
}

/// How to start the DNS server process: `program args... serve --dir <run>/dns --detach`.
/// The orchestrator passes its own binary and a hidden subcommand; the process
/// calls [`crate::dns::serve_main`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsLauncher {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// The size of the IPv6 subnets cut from the pool: a /64, as SLAAC and every
/// IPv6 network expects.
pub(crate) const IPV6_PREFIX_LEN: u8 = 64;

#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The state root: the database is `<root>/berth.db`.
    pub root: PathBuf,
    /// The run directory: `<run>/netns/<container>`, `<run>/dns/`, the lock.
    pub run: PathBuf,
    /// Starts every link name (bridges `<prefix>0`, `<prefix>1`, veths `<prefix>v...`)
    /// and names the nftables table (`inet <prefix>`): how berth finds its own
    /// objects after a crash, and how tests keep theirs apart. 1 to 6 of [a-z0-9].
    pub prefix: String,
    /// Subnets for networks created without `--subnet` are cut from here.
    pub pool: Ipv4Net,
    /// The prefix length of those subnets.
    pub pool_prefix_len: u8,
    /// IPv6 subnets of networks created with `--ipv6` and without an IPv6
    /// `--subnet` are cut from here, in /64s (a unique local /48 by default).
    pub pool6: Ipv6Net,
    pub upstreams: Upstreams,
    pub dns_server: DnsLauncher,
    /// The search domain of the embedded DNS: `web` and `web.<domain>` both resolve.
    pub domain: String,
    /// The MTU of bridges and veths when a network does not set one.
    pub mtu: u32,
}

impl NetworkConfig {
    /// Docker-like defaults: prefix `berth`, pool 10.89.0.0/16 in /24s, IPv6
    /// pool fd89:6272:7468::/48 in /64s, upstreams from /etc/resolv.conf,
    /// domain `berth.internal`, MTU 1500.
    pub fn new(root: PathBuf, run: PathBuf, dns_server: DnsLauncher) -> Self {
        NetworkConfig {
            root,
            run,
            prefix: "berth".into(),
            pool: "10.89.0.0/16".parse().expect("a valid literal"),
            pool_prefix_len: 24,
            // A unique local (fd00::/8) /48 like Docker's; its global ID spells "brth".
            pool6: "fd89:6272:7468::/48".parse().expect("a valid literal"),
            upstreams: Upstreams::ResolvConf("/etc/resolv.conf".into()),
            dns_server,
            domain: "berth.internal".into(),
            mtu: 1500,
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        let prefix_ok = (1..=6).contains(&self.prefix.len())
            && self.prefix.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && self.prefix.as_bytes()[0].is_ascii_lowercase();
        if !prefix_ok {
            return Err(format!(
                "network name prefix {:?} must be 1 to 6 characters of [a-z0-9], starting with a letter",
                self.prefix
            ));
        }
        if self.pool_prefix_len < self.pool.prefix_len() || self.pool_prefix_len > 30 {
            return Err(format!(
                "subnet size /{} does not fit the pool {} (it must be between /{} and /30)",
                self.pool_prefix_len,
                self.pool,
                self.pool.prefix_len()
            ));
        }
        if self.pool6.prefix_len() > IPV6_PREFIX_LEN {
            return Err(format!("the IPv6 pool {} is smaller than one /{IPV6_PREFIX_LEN}", self.pool6));
        }
        if !(576..=65535).contains(&self.mtu) {
            return Err(format!("MTU {} is outside 576..65535", self.mtu));
        }
        if self.domain.is_empty() || self.domain.starts_with('.') || self.domain.ends_with('.') {
            return Err(format!("DNS domain {:?} must be a name like berth.internal", self.domain));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NetworkConfig {
        NetworkConfig::new("/r".into(), "/run".into(), DnsLauncher { program: "/bin/false".into(), args: vec![] })
    }

    #[test]
    fn defaults_are_valid() {
        config().validate().unwrap();
    }

    #[test]
    fn bad_prefixes_and_sizes_are_refused() {
        for prefix in ["", "toolong1", "Caps", "1abc", "a-b"] {
            let mut c = config();
            c.prefix = prefix.into();
            assert!(c.validate().unwrap_err().contains("prefix"), "{prefix}");
        }
        let mut c = config();
        c.pool_prefix_len = 8;
        assert!(c.validate().unwrap_err().contains("does not fit the pool"));
        let mut c = config();
        c.pool6 = "fd89::/96".parse().unwrap();
        assert!(c.validate().unwrap_err().contains("smaller than one /64"));
    }
}
