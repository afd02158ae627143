//! The network manager's configuration: berth's root and run directories, the
//! DNS server (this binary, re-executed), and the environment's overrides.

use std::net::{IpAddr, SocketAddr};

use berth_network::{DnsLauncher, NetworkConfig, Upstreams};
use berth_runtime::store::Root;

/// The hidden subcommand that runs the embedded DNS server.
pub const DNS_SERVER_COMMAND: &str = "__dns-server";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable}={value}: {reason}")]
    Variable { variable: &'static str, value: String, reason: String },
}

/// `BERTH_NETWORK_POOL` (a CIDR, cut into /24s), `BERTH_NETWORK_POOL6` (an
/// IPv6 CIDR, cut into /64s for networks created with `--ipv6`),
/// `BERTH_NETWORK_PREFIX` (link and nftables names) and `BERTH_DNS_UPSTREAMS`
/// (comma-separated IP[:PORT], instead of /etc/resolv.conf) change the
/// defaults, like Docker's default-address-pools.
pub fn network_config(root: &Root) -> Result<NetworkConfig, ConfigError> {
    // This very binary, even after its file was replaced (an upgrade while the daemon runs).
    let launcher = DnsLauncher { program: "/proc/self/exe".into(), args: vec![DNS_SERVER_COMMAND.into()] };
    let mut config = NetworkConfig::new(root.root().to_path_buf(), root.run().to_path_buf(), launcher);
    if let Some(pool) = parsed("BERTH_NETWORK_POOL", "not an IPv4 CIDR")? {
        config.pool = pool;
    }
    if let Some(pool) = parsed("BERTH_NETWORK_POOL6", "not an IPv6 CIDR")? {
        config.pool6 = pool;
    }
    if let Ok(prefix) = std::env::var("BERTH_NETWORK_PREFIX") {
        config.prefix = prefix;
    }
    if let Ok(upstreams) = std::env::var("BERTH_DNS_UPSTREAMS") {
        config.upstreams = Upstreams::Explicit(parse_upstreams(&upstreams)?);
    }
    Ok(config)
}

/// The variable's value, parsed, when it is set.
fn parsed<T: std::str::FromStr>(variable: &'static str, reason: &str) -> Result<Option<T>, ConfigError> {
    match std::env::var(variable) {
        Ok(value) => {
            value.parse().map(Some).map_err(|_| ConfigError::Variable { variable, value, reason: reason.to_string() })
        }
        Err(_) => Ok(None),
    }
}

fn parse_upstreams(text: &str) -> Result<Vec<SocketAddr>, ConfigError> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<SocketAddr>().or_else(|_| s.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53))).map_err(|_| {
                ConfigError::Variable {
                    variable: "BERTH_DNS_UPSTREAMS",
                    value: text.to_string(),
                    reason: format!("{s:?} is not IP or IP:PORT"),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_take_ports_or_default_to_53() {
        assert_eq!(
            parse_upstreams("127.0.0.53, 127.0.0.54:5353").unwrap(),
            ["127.0.0.53:53".parse().unwrap(), "127.0.0.54:5353".parse::<SocketAddr>().unwrap()]
        );
        assert!(parse_upstreams("resolver").unwrap_err().to_string().contains("\"resolver\" is not IP"));
    }
}
