//! Published ports: the `-p` syntax, typed once at the edge, and the host-side
//! checks (is the port free?) made before anything is changed.

mod probe;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub(crate) use probe::{check_free, ephemeral_port};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port specification {spec:?}: {reason}")]
pub struct PortSpecError {
    pub spec: String,
    pub reason: String,
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "tcp" => Ok(Protocol::Tcp),
            "udp" => Ok(Protocol::Udp),
            other => Err(format!("unknown protocol {other:?} (use tcp or udp)")),
        }
    }
}

/// An inclusive range of ports; a single port is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    pub start: u16,
    pub end: u16,
}

impl PortRange {
    pub fn single(port: u16) -> Self {
        PortRange { start: port, end: port }
    }

    /// How many ports the range holds (at least one).
    pub fn count(self) -> usize {
        usize::from(self.end - self.start) + 1
    }

    pub fn ports(self) -> impl Iterator<Item = u16> {
        self.start..=self.end
    }
}

impl FromStr for PortRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let port = |p: &str| -> Result<u16, String> {
            match p.parse::<u16>() {
                Ok(0) | Err(_) => Err(format!("{p:?} is not a port (1-65535)")),
                Ok(n) => Ok(n),
            }
        };
        let range = match s.split_once('-') {
            Some((a, b)) => PortRange { start: port(a)?, end: port(b)? },
            None => PortRange::single(port(s)?),
        };
        if range.start > range.end {
            return Err(format!("the range {s} ends before it starts"));
        }
        Ok(range)
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end { write!(f, "{}", self.start) } else { write!(f, "{}-{}", self.start, self.end) }
    }
}

/// Do two host addresses of published ports overlap? The same address, or the
/// wildcard of the same family on either side: 0.0.0.0 and :: are separate
/// bindings, as Docker publishes a port on both.
pub(crate) fn overlapping(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4() && (a == b || a.is_unspecified() || b.is_unspecified())
}

/// One `-p` argument: `[ip:][host_port[-end]:]container_port[-end][/tcp|udp]`,
/// an IPv6 host address in brackets (`[::1]:8080:80`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// `None`: every address of the host, IPv4 and (when the container has
    /// IPv6) IPv6, like Docker. `0.0.0.0` or `::`: every address of one family.
    pub host_ip: Option<IpAddr>,
    /// `None`: an ephemeral port chosen by berth (`-p 80`).
    pub host_ports: Option<PortRange>,
    pub container_ports: PortRange,
    pub protocol: Protocol,
}

impl PortMapping {
    /// A mapping of one container port to an ephemeral host port (`-P` uses this for every exposed port).
    pub fn ephemeral(container_port: u16, protocol: Protocol) -> Self {
        PortMapping { host_ip: None, host_ports: None, container_ports: PortRange::single(container_port), protocol }
    }
}

impl FromStr for PortMapping {
    type Err = PortSpecError;
    fn from_str(spec: &str) -> Result<Self, PortSpecError> {
        let fail = |reason: String| PortSpecError { spec: spec.to_string(), reason };
        let (rest, protocol) = match spec.rsplit_once('/') {
            Some((rest, proto)) => (rest, proto.parse().map_err(fail)?),
            None => (spec, Protocol::Tcp),
        };
        // An IPv6 host address is bracketed: its colons are not separators.
        let (ip, rest) = match rest.strip_prefix('[') {
            Some(bracketed) => {
                let (ip, after) = bracketed.split_once(']').ok_or_else(|| {
                    fail("an IPv6 host address needs its closing bracket: [ADDRESS]:PORT:PORT".into())
                })?;
                let after = after
                    .strip_prefix(':')
                    .ok_or_else(|| fail("expected [ADDRESS]:[host_port]:container_port".into()))?;
                (Some(ip), after)
            }
            None => (None, rest),
        };
        let parts: Vec<&str> = rest.split(':').collect();
        let (ip, host, container) = match (ip, parts.as_slice()) {
            (None, [container]) => (None, None, *container),
            (None, [host, container]) => (None, Some(*host), *container),
            (None, [ip, host, container]) => (Some(*ip), Some(*host), *container),
            (Some(ip), [host, container]) => (Some(ip), Some(*host), *container),
            _ => return Err(fail("expected [ip:][host_port:]container_port[/protocol]".into())),
        };
        let host_ip = match ip {
            None | Some("") => None,
            Some(ip) => Some(ip.parse::<IpAddr>().map_err(|_| fail(format!("{ip:?} is not an IP address")))?),
        };
        let host_ports = match host {
            None | Some("") => None,
            Some(h) => Some(h.parse::<PortRange>().map_err(fail)?),
        };
        let container_ports: PortRange = container.parse().map_err(fail)?;
        if let Some(h) = host_ports
            && h.count() != container_ports.count()
            && container_ports.count() != 1
        {
            return Err(fail(format!("the host range {h} and the container range {container_ports} differ in length")));
        }
        Ok(PortMapping { host_ip, host_ports, container_ports, protocol })
    }
}

impl fmt::Display for PortMapping {
    /// The `-p` form [`FromStr`] reads back: `127.0.0.1:8080:80/tcp`, `80/udp`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ip = self.host_ip.map(|ip| match ip {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        });
        match (ip, self.host_ports) {
            (Some(ip), Some(host)) => write!(f, "{ip}:{host}:")?,
            (Some(ip), None) => write!(f, "{ip}::")?,
            (None, Some(host)) => write!(f, "{host}:")?,
            (None, None) => {}
        }
        write!(f, "{}/{}", self.container_ports, self.protocol)
    }
}

/// A port as the kernel forwards it: what `berth port` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub protocol: Protocol,
    /// 0.0.0.0 (::) for every IPv4 (IPv6) address of the host.
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_ip: IpAddr,
    pub container_port: u16,
}

impl PublishedPort {
    /// Where the host answers: `0.0.0.0:8080`, `[::]:8080` when shown.
    pub fn host(&self) -> SocketAddr {
        SocketAddr::new(self.host_ip, self.host_port)
    }

    /// The kernel cannot DNAT from IPv6 loopback (it drops packets from or to
    /// ::1 that arrive on any other interface), so a port published on ::1, or
    /// on every IPv6 address, is served on [::1] by a proxy instead.
    pub(crate) fn proxied(&self) -> bool {
        matches!(self.host_ip, IpAddr::V6(ip) if ip.is_loopback() || ip.is_unspecified())
    }

    /// Has a DNAT rule: every port but one on ::1 alone.
    pub(crate) fn translated(&self) -> bool {
        !matches!(self.host_ip, IpAddr::V6(ip) if ip.is_loopback())
    }
}

impl fmt::Display for PublishedPort {
    /// `80/tcp -> 0.0.0.0:8080` or `80/tcp -> [::]:8080`, as `docker port` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} -> {}", self.container_port, self.protocol, self.host())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> PortMapping {
        s.parse().unwrap()
    }

    #[test]
    fn mappings_print_as_they_parse() {
        for spec in [
            "80/tcp",
            "8080:80/tcp",
            "127.0.0.1:8080:80/udp",
            "127.0.0.1::80/tcp",
            "8000-8010:8000-8010/tcp",
            "[::1]:8080:80/tcp",
            "[::]::80/udp",
            "0.0.0.0:8080:80/tcp",
        ] {
            assert_eq!(parse(spec).to_string(), spec);
        }
    }

    #[test]
    fn docker_short_syntax() {
        let range = |a, b| PortRange { start: a, end: b };
        assert_eq!(parse("80"), PortMapping::ephemeral(80, Protocol::Tcp));
        assert_eq!(
            parse("8080:80"),
            PortMapping {
                host_ip: None,
                host_ports: Some(range(8080, 8080)),
                container_ports: range(80, 80),
                protocol: Protocol::Tcp
            }
        );
        assert_eq!(
            parse("127.0.0.1:8080:80/udp"),
            PortMapping {
                host_ip: Some(IpAddr::from([127, 0, 0, 1])),
                host_ports: Some(range(8080, 8080)),
                container_ports: range(80, 80),
                protocol: Protocol::Udp
            }
        );
        assert_eq!(parse("127.0.0.1::80").host_ports, None);
        // 0.0.0.0 is every IPv4 address, not every address (Docker's meaning too).
        assert_eq!(parse("0.0.0.0:1:2").host_ip, Some(IpAddr::from([0, 0, 0, 0])));
        assert_eq!(parse("[::1]:8080:80").host_ip, Some("::1".parse().unwrap()));
        assert_eq!(parse("[fd89::5]:8080:80/udp").host_ports, Some(range(8080, 8080)));
        assert_eq!(parse("[::]::80").host_ports, None);
        assert_eq!(parse("8000-8010:8000-8010").host_ports, Some(range(8000, 8010)));
        assert_eq!(parse("8000-8010:80").container_ports, range(80, 80));
        assert_eq!(parse("53/UDP").protocol, Protocol::Udp);
    }

    #[test]
    fn bad_specs_say_why() {
        for (spec, reason) in [
            ("80/sctp", "unknown protocol"),
            ("0", "not a port"),
            ("70000", "not a port"),
            ("a:1:2:3", "expected"),
            ("x.y:80:80", "not an IP address"),
            ("8010-8000:80", "ends before it starts"),
            ("8000-8001:80-82", "differ in length"),
            ("[::1:80:80", "closing bracket"),
            ("[::1]80:80", "expected [ADDRESS]"),
            ("[::1]:1:80:80", "expected"),
            ("[nope]:80:80", "not an IP address"),
        ] {
            let err = spec.parse::<PortMapping>().unwrap_err();
            assert!(err.to_string().contains(reason), "{spec}: {err}");
            assert!(err.to_string().contains(spec), "{err}");
        }
    }

    #[test]
    fn published_ports_print_like_docker_port() {
        let p = PublishedPort {
            protocol: Protocol::Tcp,
            host_ip: IpAddr::from([0, 0, 0, 0]),
            host_port: 32768,
            container_ip: IpAddr::from([10, 89, 0, 2]),
            container_port: 80,
        };
        assert_eq!(p.to_string(), "80/tcp -> 0.0.0.0:32768");
        assert!(p.translated() && !p.proxied());
        let v6 = PublishedPort { host_ip: "::".parse().unwrap(), container_ip: "fd89::2".parse().unwrap(), ..p };
        assert_eq!(v6.to_string(), "80/tcp -> [::]:32768");
        assert!(v6.translated() && v6.proxied(), "every IPv6 address: DNAT, and ::1 by the proxy");
        let loopback = PublishedPort { host_ip: "::1".parse().unwrap(), ..v6 };
        assert!(!loopback.translated() && loopback.proxied());
    }

    #[test]
    fn wildcards_overlap_their_own_family_only() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(overlapping(ip("0.0.0.0"), ip("127.0.0.1")));
        assert!(overlapping(ip("::1"), ip("::")));
        assert!(overlapping(ip("::1"), ip("::1")));
        assert!(!overlapping(ip("0.0.0.0"), ip("::")));
        assert!(!overlapping(ip("::1"), ip("fd89::1")));
    }
}
