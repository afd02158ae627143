//! Answering, pure: a table built from the network files, and the decision for
//! one query (answer it here, or forward it upstream). Answers depend on who
//! asks: a container sees the names of the networks it is on, like aardvark-dns.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, PTR};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use ipnet::IpNet;

use super::files::{NetworkFile, ServerConfig};

#[derive(Debug)]
struct NetTable {
    /// The IPv4 subnet, and the IPv6 one on a network with IPv6.
    subnets: Vec<IpNet>,
    internal: bool,
    /// Lower-case name -> addresses of both families, in the order containers joined.
    names: HashMap<String, Vec<IpAddr>>,
    /// Address -> the container's name (the PTR answer).
    ptr: HashMap<IpAddr, String>,
}

#[derive(Debug, Default)]
struct Requester {
    networks: Vec<usize>,
    /// Link alias (lower case) -> linked container's name.
    links: HashMap<String, String>,
    upstreams: Vec<SocketAddr>,
}

/// Everything the server knows, swapped whole on reload.
#[derive(Debug)]
pub(crate) struct Table {
    domain: String,
    upstreams: Vec<SocketAddr>,
    networks: Vec<NetTable>,
    by_gateway: HashMap<Ipv4Addr, usize>,
    requesters: HashMap<IpAddr, usize>,
    containers: Vec<Requester>,
    rotation: AtomicUsize,
}

/// How the query came: UDP answers must fit in 512 bytes (we send no EDNS
/// record back), or say they are truncated so the client asks again over TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Udp,
    Tcp,
}

/// The classic UDP payload limit (RFC 1035).
const UDP_LIMIT: usize = 512;

/// What to do with one query.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Reply(Vec<u8>),
    /// Send the query as it is to these servers, in order, and relay the answer.
    Forward(Vec<SocketAddr>),
    /// Not even a DNS header: nothing to answer.
    Drop,
}

impl Table {
    pub fn new(config: &ServerConfig, files: &[NetworkFile]) -> Self {
        let mut table = Table {
            domain: config.domain.trim_end_matches('.').to_ascii_lowercase(),
            upstreams: config.upstreams.clone(),
            networks: Vec::new(),
            by_gateway: HashMap::new(),
            requesters: HashMap::new(),
            containers: Vec::new(),
            rotation: AtomicUsize::new(0),
        };
        let mut container_index: HashMap<&str, usize> = HashMap::new();
        for file in files {
            let network = table.networks.len();
            let subnets = std::iter::once(IpNet::V4(file.subnet)).chain(file.subnet6.map(IpNet::V6)).collect();
            let mut net = NetTable { subnets, internal: file.internal, names: HashMap::new(), ptr: HashMap::new() };
            for entry in &file.containers {
                let addresses: Vec<IpAddr> =
                    std::iter::once(IpAddr::V4(entry.ip)).chain(entry.ip6.map(IpAddr::V6)).collect();
                for name in &entry.names {
                    let ips = net.names.entry(name.to_ascii_lowercase()).or_default();
                    for ip in &addresses {
                        if !ips.contains(ip) {
                            ips.push(*ip);
                        }
                    }
                }
                if let Some(first) = entry.names.first() {
                    for ip in &addresses {
                        net.ptr.insert(*ip, first.clone());
                    }
                }
                let index = *container_index.entry(entry.id.as_str()).or_insert_with(|| {
                    table.containers.push(Requester::default());
                    table.containers.len() - 1
                });
                let requester = &mut table.containers[index];
                requester.networks.push(network);
                for link in &entry.links {
                    requester.links.insert(link.alias.to_ascii_lowercase(), link.name.to_ascii_lowercase());
                }
                if requester.upstreams.is_empty() {
                    requester.upstreams.clone_from(&entry.upstreams);
                }
                for ip in addresses {
                    table.requesters.insert(ip, index);
                }
            }
            table.by_gateway.insert(file.gateway, network);
            table.networks.push(net);
        }
        table
    }

    /// The gateway addresses to listen on.
    pub fn gateways(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.by_gateway.keys().copied()
    }

    /// The networks whose names `source` may see: its own, or (for a client that
    /// is not a container, such as the host) the network whose gateway it asked.
    fn scope(&self, source: IpAddr, gateway: Ipv4Addr) -> (Vec<usize>, Option<&Requester>) {
        let requester = self.requesters.get(&source).map(|i| &self.containers[*i]);
        match requester {
            Some(r) => (r.networks.clone(), Some(r)),
            None => (self.by_gateway.get(&gateway).copied().into_iter().collect(), None),
        }
    }

    pub fn handle(&self, packet: &[u8], source: IpAddr, gateway: Ipv4Addr, transport: Transport) -> Outcome {
        match self.answer(packet, source, gateway) {
            Outcome::Reply(bytes) if transport == Transport::Udp && bytes.len() > UDP_LIMIT => {
                match Message::from_vec(&bytes) {
                    Ok(message) => Outcome::Reply(message.truncate().to_vec().unwrap_or(bytes)),
                    Err(_) => Outcome::Reply(bytes),
                }
            }
            outcome => outcome,
        }
    }

    fn answer(&self, packet: &[u8], source: IpAddr, gateway: Ipv4Addr) -> Outcome {
        let Ok(query) = Message::from_vec(packet) else {
            return match packet {
                [hi, lo, ..] => Outcome::Reply(error_reply(u16::from_be_bytes([*hi, *lo]), ResponseCode::FormErr)),
                _ => Outcome::Drop,
            };
        };
        if query.metadata.message_type != MessageType::Query {
            return Outcome::Drop;
        }
        if query.metadata.op_code != OpCode::Query || query.queries.len() != 1 {
            return Outcome::Reply(reply(&query, ResponseCode::NotImp, Vec::new()));
        }
        let question = &query.queries[0];
        let (scope, requester) = self.scope(source, gateway);
        let qname = question.name.to_ascii().trim_end_matches('.').to_ascii_lowercase();
        let local = if question.query_type == RecordType::PTR {
            self.reverse(&qname, &scope, &question.name)
        } else {
            self.forward_name(&qname, &scope, requester, question.query_type, &question.name)
        };
        // Only internal networks: no way out, not even by DNS.
        let sealed = !scope.is_empty() && scope.iter().all(|n| self.networks[*n].internal);
        match local {
            Some((code, answers)) => Outcome::Reply(reply(&query, code, answers)),
            None if sealed => Outcome::Reply(reply(&query, ResponseCode::Refused, Vec::new())),
            None => {
                let upstreams = requester.map(|r| &r.upstreams).filter(|u| !u.is_empty()).unwrap_or(&self.upstreams);
                if upstreams.is_empty() {
                    Outcome::Reply(reply(&query, ResponseCode::ServFail, Vec::new()))
                } else {
                    Outcome::Forward(upstreams.clone())
                }
            }
        }
    }

    /// A and AAAA for container names (NODATA for the other types, and for
    /// AAAA of a container without IPv6). `None`: not ours, forward it.
    fn forward_name(
        &self,
        qname: &str,
        scope: &[usize],
        requester: Option<&Requester>,
        qtype: RecordType,
        owner: &Name,
    ) -> Option<(ResponseCode, Vec<Record>)> {
        let (label, in_domain) = match qname.strip_suffix(&self.domain) {
            Some("") => return Some((ResponseCode::NoError, Vec::new())),
            Some(rest) if rest.ends_with('.') => (&rest[..rest.len() - 1], true),
            _ => (qname, false),
        };
        let label = requester.and_then(|r| r.links.get(label)).map_or(label, String::as_str);
        let mut known = false;
        let mut ips: Vec<IpAddr> = Vec::new();
        for network in scope {
            for ip in self.networks[*network].names.get(label).into_iter().flatten() {
                known = true;
                let wanted = match qtype {
                    RecordType::A => ip.is_ipv4(),
                    RecordType::AAAA => ip.is_ipv6(),
                    RecordType::ANY => true,
                    _ => false,
                };
                if wanted && !ips.contains(ip) {
                    ips.push(*ip);
                }
            }
        }
        if !known {
            // Unknown names of our domain, and bare names, stop here: no upstream knows them.
            return (in_domain || !label.contains('.')).then_some((ResponseCode::NXDomain, Vec::new()));
        }
        if ips.is_empty() {
            // The name exists but has no records of this type: NODATA.
            return Some((ResponseCode::NoError, Vec::new()));
        }
        // Round-robin: every answer starts one further along the list.
        let start = self.rotation.fetch_add(1, Ordering::Relaxed) % ips.len();
        ips.rotate_left(start);
        let record = |ip| match ip {
            IpAddr::V4(ip) => RData::A(A(ip)),
            IpAddr::V6(ip) => RData::AAAA(AAAA(ip)),
        };
        Some((
            ResponseCode::NoError,
            ips.into_iter().map(|ip| Record::from_rdata(owner.clone(), 0, record(ip))).collect(),
        ))
    }

    /// PTR for container addresses. `None`: not in any of our subnets, forward it.
    fn reverse(&self, qname: &str, scope: &[usize], owner: &Name) -> Option<(ResponseCode, Vec<Record>)> {
        let ip = parse_reverse(qname)?;
        for network in scope {
            if let Some(name) = self.networks[*network].ptr.get(&ip) {
                let target = Name::from_ascii(format!("{name}.{}.", self.domain)).ok()?;
                return Some((
                    ResponseCode::NoError,
                    vec![Record::from_rdata(owner.clone(), 0, RData::PTR(PTR(target)))],
                ));
            }
        }
        let ours = self.networks.iter().any(|n| n.subnets.iter().any(|s| s.contains(&ip)));
        ours.then_some((ResponseCode::NXDomain, Vec::new()))
    }
}

/// `4.3.2.1.in-addr.arpa` -> 1.2.3.4; `b.a.9.8.[...].ip6.arpa` (32 nibbles,
/// lowest first) -> the IPv6 address.
fn parse_reverse(qname: &str) -> Option<IpAddr> {
    if let Some(digits) = qname.strip_suffix(".in-addr.arpa") {
        let mut octets = digits.split('.').map(|o| o.parse::<u8>().ok()).collect::<Option<Vec<u8>>>()?;
        if octets.len() != 4 {
            return None;
        }
        octets.reverse();
        return Some(IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])));
    }
    let nibbles = qname.strip_suffix(".ip6.arpa")?;
    let mut value: u128 = 0;
    let mut count = 0;
    for nibble in nibbles.split('.').rev() {
        let digit = match nibble.as_bytes() {
            [c] => char::from(*c).to_digit(16)?,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
        count += 1;
    }
    (count == 32).then(|| IpAddr::V6(Ipv6Addr::from(value)))
}

fn reply(query: &Message, code: ResponseCode, answers: Vec<Record>) -> Vec<u8> {
    let mut response = Message::response(query.metadata.id, query.metadata.op_code);
    response.metadata.recursion_desired = query.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.authoritative = code != ResponseCode::ServFail;
    response.metadata.response_code = code;
    response.queries.clone_from(&query.queries);
    response.answers = answers;
    response.to_vec().unwrap_or_else(|_| error_reply(query.metadata.id, ResponseCode::ServFail))
}

/// A header-only answer, for queries that cannot be parsed or answered.
pub(crate) fn error_reply(id: u16, code: ResponseCode) -> Vec<u8> {
    let mut response = Message::response(id, OpCode::Query);
    response.metadata.response_code = code;
    response.to_vec().expect("a header-only message encodes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::files::ContainerEntry;
    use crate::model::ContainerLink;
    use hickory_proto::op::Query;

    fn entry(id: &str, ip: &str, names: &[&str]) -> ContainerEntry {
        ContainerEntry {
            id: id.into(),
            ip: ip.parse().unwrap(),
            ip6: None,
            names: names.iter().map(|n| n.to_string()).collect(),
            links: vec![],
            upstreams: vec![],
        }
    }

    fn table() -> Table {
        let config = ServerConfig { domain: "berth.internal".into(), upstreams: vec!["127.0.0.9:53".parse().unwrap()] };
        let mut client = entry("client", "10.89.1.10", &["client"]);
        client.links.push(ContainerLink { name: "db-1".into(), alias: "database".into() });
        let mut both = entry("both", "10.89.2.20", &["both"]);
        both.upstreams.push("127.0.0.77:53".parse().unwrap());
        let front = NetworkFile {
            id: "front".into(),
            name: "front".into(),
            subnet: "10.89.1.0/24".parse().unwrap(),
            subnet6: None,
            gateway: "10.89.1.1".parse().unwrap(),
            internal: false,
            containers: vec![
                client,
                entry("web1", "10.89.1.2", &["web-1", "web"]),
                entry("web2", "10.89.1.3", &["web-2", "web"]),
                entry("db1", "10.89.1.4", &["db-1"]),
            ],
        };
        let back = NetworkFile {
            id: "back".into(),
            name: "back".into(),
            subnet: "10.89.2.0/24".parse().unwrap(),
            subnet6: None,
            gateway: "10.89.2.1".parse().unwrap(),
            internal: false,
            containers: vec![entry("secret", "10.89.2.2", &["secret"]), both.clone()],
        };
        let mut both_front = both;
        both_front.ip = "10.89.1.20".parse().unwrap();
        let mut front = front;
        front.containers.push(both_front);
        Table::new(&config, &[front, back])
    }

    fn ask(table: &Table, from: &str, gateway: &str, name: &str, qtype: RecordType) -> Outcome {
        let mut query = Message::query();
        query.metadata.id = 4242;
        query.metadata.recursion_desired = true;
        query.add_query(Query::query(Name::from_ascii(name).unwrap(), qtype));
        table.handle(&query.to_vec().unwrap(), from.parse().unwrap(), gateway.parse().unwrap(), Transport::Udp)
    }

    /// The response code and the answers as text.
    fn answer(outcome: Outcome) -> (ResponseCode, Vec<String>) {
        let Outcome::Reply(bytes) = outcome else { panic!("expected a reply, got {outcome:?}") };
        let message = Message::from_vec(&bytes).unwrap();
        assert_eq!(message.metadata.id, 4242);
        (message.metadata.response_code, message.answers.iter().map(|r| r.data.to_string()).collect())
    }

    #[test]
    fn names_aliases_and_replicas() {
        let t = table();
        let a = |name| answer(ask(&t, "10.89.1.10", "10.89.1.1", name, RecordType::A));
        assert_eq!(a("web-1."), (ResponseCode::NoError, vec!["10.89.1.2".into()]));
        assert_eq!(a("WEB-1.berth.internal."), (ResponseCode::NoError, vec!["10.89.1.2".into()]));
        let (code, first) = a("web.");
        assert_eq!(code, ResponseCode::NoError);
        let (_, second) = a("web.");
        assert_eq!(first.len(), 2);
        assert_eq!(first[0], second[1], "round-robin rotates the replicas");
        assert_eq!(a("database."), (ResponseCode::NoError, vec!["10.89.1.4".into()]), "link alias");
        assert_eq!(a("nope.").0, ResponseCode::NXDomain);
        assert_eq!(a("nope.berth.internal.").0, ResponseCode::NXDomain);
        assert_eq!(a("berth.internal.").0, ResponseCode::NoError);
        assert_eq!(
            answer(ask(&t, "10.89.1.10", "10.89.1.1", "web-1.", RecordType::AAAA)),
            (ResponseCode::NoError, vec![])
        );
    }

    /// A network with IPv6: `web` has both families, `old` only IPv4.
    fn dual_stack() -> Table {
        let config = ServerConfig { domain: "berth.internal".into(), upstreams: vec!["127.0.0.9:53".parse().unwrap()] };
        let mut web = entry("web1", "10.89.6.2", &["web-1", "web"]);
        web.ip6 = Some("fd89:6::2".parse().unwrap());
        let mut web2 = entry("web2", "10.89.6.3", &["web-2", "web"]);
        web2.ip6 = Some("fd89:6::3".parse().unwrap());
        let mut client = entry("client", "10.89.6.10", &["client"]);
        client.ip6 = Some("fd89:6::a".parse().unwrap());
        client.links.push(ContainerLink { name: "web-1".into(), alias: "front".into() });
        let file = NetworkFile {
            id: "dual".into(),
            name: "dual".into(),
            subnet: "10.89.6.0/24".parse().unwrap(),
            subnet6: Some("fd89:6::/64".parse().unwrap()),
            gateway: "10.89.6.1".parse().unwrap(),
            internal: false,
            containers: vec![web, web2, client, entry("old", "10.89.6.4", &["old"])],
        };
        Table::new(&config, &[file])
    }

    #[test]
    fn aaaa_answers_for_names_aliases_replicas_and_links() {
        let t = dual_stack();
        let ask6 = |from: &str, name| answer(ask(&t, from, "10.89.6.1", name, RecordType::AAAA));
        assert_eq!(ask6("10.89.6.10", "web-1."), (ResponseCode::NoError, vec!["fd89:6::2".into()]));
        assert_eq!(ask6("10.89.6.10", "web-1.berth.internal."), (ResponseCode::NoError, vec!["fd89:6::2".into()]));
        let (code, mut replicas) = ask6("10.89.6.10", "web.");
        replicas.sort();
        assert_eq!((code, replicas), (ResponseCode::NoError, vec!["fd89:6::2".into(), "fd89:6::3".into()]));
        assert_eq!(ask6("10.89.6.10", "front."), (ResponseCode::NoError, vec!["fd89:6::2".into()]), "link alias");
        // A stays IPv4 only; a container without IPv6 has no AAAA (NODATA, not NXDOMAIN).
        assert_eq!(
            answer(ask(&t, "10.89.6.10", "10.89.6.1", "web-1.", RecordType::A)),
            (ResponseCode::NoError, vec!["10.89.6.2".into()])
        );
        assert_eq!(ask6("10.89.6.10", "old."), (ResponseCode::NoError, vec![]));
        assert_eq!(ask6("10.89.6.10", "nope.").0, ResponseCode::NXDomain);
        // A container asking from its IPv6 address is known by it too (its link applies).
        assert_eq!(ask6("fd89:6::a", "front."), (ResponseCode::NoError, vec!["fd89:6::2".into()]));
    }

    #[test]
    fn ipv6_reverse_lookups() {
        let t = dual_stack();
        let ptr = |name: &str| answer(ask(&t, "10.89.6.10", "10.89.6.1", name, RecordType::PTR));
        let nibbles = |ip: &str| {
            let hex: String = ip.parse::<Ipv6Addr>().unwrap().octets().iter().map(|b| format!("{b:02x}")).collect();
            let reversed: Vec<String> = hex.chars().rev().map(String::from).collect();
            format!("{}.ip6.arpa.", reversed.join("."))
        };
        assert_eq!(ptr(&nibbles("fd89:6::3")), (ResponseCode::NoError, vec!["web-2.berth.internal.".into()]));
        assert_eq!(ptr(&nibbles("fd89:6::99")).0, ResponseCode::NXDomain, "ours, but nobody's");
        let outside = ask(&t, "10.89.6.10", "10.89.6.1", &nibbles("2001:db8::1"), RecordType::PTR);
        assert_eq!(outside, Outcome::Forward(vec!["127.0.0.9:53".parse().unwrap()]));
        assert_eq!(parse_reverse("1.0.ip6.arpa"), None, "too few nibbles");
        assert_eq!(parse_reverse(&nibbles("fd89::1").replace(".ip6.arpa.", ".ip6.arpa").replacen('1', "g", 1)), None);
    }

    #[test]
    fn answers_depend_on_who_asks() {
        let t = table();
        // `secret` is on back only: invisible from front, visible to a container on both.
        assert_eq!(answer(ask(&t, "10.89.1.10", "10.89.1.1", "secret.", RecordType::A)).0, ResponseCode::NXDomain);
        assert_eq!(
            answer(ask(&t, "10.89.1.20", "10.89.1.1", "secret.", RecordType::A)).1,
            vec!["10.89.2.2".to_string()]
        );
        // A link alias is the linking container's alone.
        assert_eq!(answer(ask(&t, "10.89.1.2", "10.89.1.1", "database.", RecordType::A)).0, ResponseCode::NXDomain);
        // Someone who is not a container (the host) sees the network it asked.
        assert_eq!(
            answer(ask(&t, "10.89.2.1", "10.89.2.1", "secret.", RecordType::A)).1,
            vec!["10.89.2.2".to_string()]
        );
        assert_eq!(answer(ask(&t, "10.89.2.1", "10.89.2.1", "web-1.", RecordType::A)).0, ResponseCode::NXDomain);
    }

    #[test]
    fn reverse_lookups() {
        let t = table();
        let ptr = |ip| answer(ask(&t, "10.89.1.10", "10.89.1.1", ip, RecordType::PTR));
        assert_eq!(ptr("2.1.89.10.in-addr.arpa."), (ResponseCode::NoError, vec!["web-1.berth.internal.".into()]));
        assert_eq!(ptr("99.1.89.10.in-addr.arpa.").0, ResponseCode::NXDomain);
        assert_eq!(ptr("2.2.89.10.in-addr.arpa.").0, ResponseCode::NXDomain, "not visible from front");
        let outside = ask(&t, "10.89.1.10", "10.89.1.1", "1.2.0.192.in-addr.arpa.", RecordType::PTR);
        assert_eq!(outside, Outcome::Forward(vec!["127.0.0.9:53".parse().unwrap()]));
    }

    #[test]
    fn other_names_go_upstream() {
        let t = table();
        assert_eq!(
            ask(&t, "10.89.1.10", "10.89.1.1", "example.com.", RecordType::A),
            Outcome::Forward(vec!["127.0.0.9:53".parse().unwrap()])
        );
        // --dns of the asking container replaces the default upstreams.
        assert_eq!(
            ask(&t, "10.89.2.20", "10.89.2.1", "example.com.", RecordType::MX),
            Outcome::Forward(vec!["127.0.0.77:53".parse().unwrap()])
        );
        let none = Table::new(&ServerConfig { domain: "d".into(), upstreams: vec![] }, &[]);
        assert_eq!(answer(ask(&none, "10.0.0.1", "10.0.0.1", "example.com.", RecordType::A)).0, ResponseCode::ServFail);
    }

    #[test]
    fn internal_networks_do_not_forward() {
        let config = ServerConfig { domain: "berth.internal".into(), upstreams: vec!["127.0.0.9:53".parse().unwrap()] };
        let sealed = NetworkFile {
            id: "sealed".into(),
            name: "sealed".into(),
            subnet: "10.89.3.0/24".parse().unwrap(),
            subnet6: None,
            gateway: "10.89.3.1".parse().unwrap(),
            internal: true,
            containers: vec![entry("in", "10.89.3.2", &["in"]), entry("peer", "10.89.3.3", &["peer"])],
        };
        let t = Table::new(&config, &[sealed]);
        assert_eq!(answer(ask(&t, "10.89.3.2", "10.89.3.1", "example.com.", RecordType::A)).0, ResponseCode::Refused);
        assert_eq!(answer(ask(&t, "10.89.3.2", "10.89.3.1", "peer.", RecordType::A)).1, vec!["10.89.3.3".to_string()]);
    }

    #[test]
    fn big_answers_are_truncated_over_udp_only() {
        let config = ServerConfig { domain: "berth.internal".into(), upstreams: vec![] };
        let replicas = (2..60).map(|i| entry(&format!("r{i}"), &format!("10.89.4.{i}"), &["svc"])).collect();
        let file = NetworkFile {
            id: "big".into(),
            name: "big".into(),
            subnet: "10.89.4.0/24".parse().unwrap(),
            subnet6: None,
            gateway: "10.89.4.1".parse().unwrap(),
            internal: false,
            containers: replicas,
        };
        let t = Table::new(&config, &[file]);
        let mut query = Message::query();
        query.metadata.id = 7;
        query.add_query(Query::query(Name::from_ascii("svc.").unwrap(), RecordType::A));
        let bytes = query.to_vec().unwrap();
        let (client, gateway) = ("10.89.4.2".parse().unwrap(), Ipv4Addr::new(10, 89, 4, 1));
        let Outcome::Reply(udp) = t.handle(&bytes, client, gateway, Transport::Udp) else { panic!() };
        let udp = Message::from_vec(&udp).unwrap();
        assert!(udp.metadata.truncation && udp.answers.is_empty());
        let Outcome::Reply(tcp) = t.handle(&bytes, client, gateway, Transport::Tcp) else { panic!() };
        assert_eq!(Message::from_vec(&tcp).unwrap().answers.len(), 58);
    }

    #[test]
    fn garbage_gets_formerr_or_nothing() {
        let t = table();
        let gw: IpAddr = "10.89.1.1".parse().unwrap();
        let gateway = Ipv4Addr::new(10, 89, 1, 1);
        assert_eq!(t.handle(&[1], gw, gateway, Transport::Udp), Outcome::Drop);
        let Outcome::Reply(bytes) = t.handle(&[0x10, 0x92, 0xff], gw, gateway, Transport::Udp) else { panic!() };
        let message = Message::from_vec(&bytes).unwrap();
        assert_eq!((message.metadata.id, message.metadata.response_code), (0x1092, ResponseCode::FormErr));
    }
}
