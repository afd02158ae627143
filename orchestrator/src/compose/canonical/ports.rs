//! `ports`: short strings (`"8080:80"`, `"127.0.0.1:8000-8010:80-90/udp"`,
//! `"[::1]::80"`, `3000`) rewritten to long entries, one per container port.

use super::super::error::Error;
use super::super::node::{Node, Span, Value};
use super::super::path::Path;
use super::lists::type_error;

/// A port or an inclusive range of ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Range {
    start: u16,
    end: u16,
}

impl Range {
    fn parse(text: &str) -> Result<Range, String> {
        let port = |p: &str| p.parse::<u16>().map_err(|_| format!("{p:?} is not a port number (0-65535)"));
        match text.split_once('-') {
            Some((start, end)) => {
                let range = Range { start: port(start)?, end: port(end)? };
                if range.start > range.end {
                    return Err(format!("the range {text:?} ends before it starts"));
                }
                Ok(range)
            }
            None => {
                let p = port(text)?;
                Ok(Range { start: p, end: p })
            }
        }
    }

    fn len(self) -> u32 {
        u32::from(self.end - self.start) + 1
    }

    fn text(self) -> String {
        if self.start == self.end { self.start.to_string() } else { format!("{}-{}", self.start, self.end) }
    }
}

/// One short port string → its long entries, written at `span`.
fn parse_short(spec: &str, span: &Span) -> Result<Vec<Node>, String> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((rest, protocol)) => (rest, protocol),
        None => (spec, "tcp"),
    };
    if !matches!(protocol, "tcp" | "udp" | "sctp") {
        return Err(format!("unknown protocol {protocol:?}: expected tcp, udp or sctp"));
    }
    let (host_ip, published, target) = split(rest)?;
    if target.is_empty() {
        return Err("the container port is missing".into());
    }
    let target = Range::parse(target).map_err(|e| format!("container port: {e}"))?;
    if target.start == 0 {
        return Err("the container port must not be 0".into());
    }
    let published = match published {
        None | Some("") => None,
        Some(p) => Some(Range::parse(p).map_err(|e| format!("host port: {e}"))?),
    };
    let host_ip = host_ip.filter(|ip| !ip.is_empty());
    if let Some(ip) = host_ip
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(format!("{ip:?} is not an IP address"));
    }
    let entry = |target: u16, published: Option<String>| {
        let mut entries = vec![("mode", Value::String("ingress".into()))];
        entries.extend(host_ip.map(|ip| ("host_ip", Value::String(ip.into()))));
        entries.push(("target", Value::Int(target.into())));
        entries.extend(published.map(|p| ("published", Value::String(p))));
        entries.push(("protocol", Value::String(protocol.into())));
        Node::mapping(span, entries)
    };
    match published {
        // A host range for one container port: any free port of the range.
        Some(host) if target.len() == 1 => Ok(vec![entry(target.start, Some(host.text()))]),
        Some(host) if host.len() == target.len() => {
            Ok((0..target.len() as u16).map(|i| entry(target.start + i, Some((host.start + i).to_string()))).collect())
        }
        Some(host) => {
            Err(format!("the host range {} and the container range {} differ in length", host.text(), target.text()))
        }
        None => Ok((target.start..=target.end).map(|t| entry(t, None)).collect()),
    }
}

/// `[ip:][published:]target`, with IPv6 addresses in brackets (or bare, when unambiguous).
fn split(spec: &str) -> Result<(Option<&str>, Option<&str>, &str), String> {
    if let Some(rest) = spec.strip_prefix('[') {
        let (ip, rest) = rest.split_once(']').ok_or("an IPv6 address opens [ but never closes it")?;
        let rest = rest.strip_prefix(':').ok_or("expected : after the IPv6 address")?;
        let (published, target) = rest.split_once(':').ok_or("expected host port and container port after the IP")?;
        return Ok((Some(ip), Some(published), target));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    match parts.as_slice() {
        [target] => Ok((None, None, target)),
        [published, target] => Ok((None, Some(published), target)),
        [ip, published, target] => Ok((Some(ip), Some(published), target)),
        // A bare IPv6 address: everything before the last two fields.
        [.., published, target] => {
            Ok((Some(&spec[..spec.len() - published.len() - target.len() - 2]), Some(published), target))
        }
        [] => Err("empty port".into()),
    }
}

pub fn canonicalize(node: &mut Node, path: &Path<'_>) -> Result<(), Error> {
    let Value::Seq(items) = &mut node.value else {
        return Err(type_error(node, path, "a list of ports"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (index, item) in std::mem::take(items).into_iter().enumerate() {
        let item_path = path.index(index);
        match &item.value {
            Value::String(_) | Value::Int(_) => {
                let spec = item.scalar_text().unwrap_or_default();
                let entries = parse_short(&spec, &item.span)
                    .map_err(|e| Error::invalid(&item, &item_path, format!("invalid port {spec:?}: {e}")))?;
                out.extend(entries);
            }
            Value::Map(_) => {
                if let Some(published) = item.get_path(&["published"]).filter(|p| !p.is_null()) {
                    let text = published.scalar_text().unwrap_or_default();
                    Range::parse(&text).map_err(|e| {
                        Error::invalid(
                            published,
                            &item_path.key("published"),
                            format!("invalid host port {text:?}: {e}"),
                        )
                    })?;
                }
                out.push(item);
            }
            _ => return Err(type_error(&item, &item_path, "a port string, a number, or a mapping")),
        }
    }
    *items = out;
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ok(spec: &str) -> serde_json::Value {
        let span = Span::synthetic("test");
        serde_json::Value::Array(parse_short(spec, &span).unwrap().iter().map(Node::to_json).collect())
    }

    #[test]
    fn single_ports() {
        assert_eq!(ok("80"), json!([{"mode": "ingress", "target": 80, "protocol": "tcp"}]));
        assert_eq!(ok("8080:80"), json!([{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}]));
        assert_eq!(
            ok("127.0.0.1:8080:80/udp"),
            json!([{"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "published": "8080", "protocol": "udp"}])
        );
        assert_eq!(
            ok("127.0.0.1::80"),
            json!([{"mode": "ingress", "host_ip": "127.0.0.1", "target": 80, "protocol": "tcp"}])
        );
    }

    #[test]
    fn ipv6_hosts() {
        assert_eq!(ok("[::1]:8080:80")[0]["host_ip"], json!("::1"));
        assert_eq!(ok("::1:8080:80")[0]["host_ip"], json!("::1"));
    }

    #[test]
    fn ranges_expand() {
        assert_eq!(ok("3000-3002").as_array().unwrap().len(), 3);
        let pairs = ok("9090-9091:8080-8081");
        assert_eq!(pairs[1]["target"], json!(8081));
        assert_eq!(pairs[1]["published"], json!("9091"));
        assert_eq!(
            ok("8000-9000:80"),
            json!([{"mode": "ingress", "target": 80, "published": "8000-9000", "protocol": "tcp"}])
        );
    }

    #[test]
    fn bad_ports_say_why() {
        for (spec, why) in [
            ("8080:http", "container port: \"http\" is not a port number"),
            ("70000:80", "host port: \"70000\" is not a port number"),
            ("80/icmp", "unknown protocol"),
            ("1-3:1-2", "differ in length"),
            ("5-1", "ends before it starts"),
            ("300.1.1.1:80:80", "is not an IP address"),
            ("8080:", "container port is missing"),
        ] {
            let err = parse_short(spec, &Span::synthetic("test")).unwrap_err();
            assert!(err.contains(why), "{spec}: {err}");
        }
    }
}
