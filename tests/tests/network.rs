//! berth-network on the real kernel (root): bridges, veths, namespaces,
//! nftables, the DNS server process. Containers are stood in for by network
//! namespaces from the manager plus a busybox root entered with chroot.
//!
//! Safety: every test has its own name prefix (links, nftables tables), its own
//! address pool, its own state and run directories; an nftables guard rejects
//! forwarded traffic leaving by the host's uplink while a test runs; the only
//! traffic goes to 127.0.0.0/8 and to namespaces the test made. After each test
//! the fixture removes everything and asserts that nothing is left.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use berth_network::{
    Attachment, ConnectOptions, ContainerLink, DnsLauncher, HostsOptions, Network, NetworkConfig, NetworkError,
    NetworkManager, NetworkSpec, PortMapping, Protocol, ResolvOptions, Upstreams,
};
use berth_tests::dns_stub::DnsStub;
use berth_tests::net_host::{HostAddress, OutsideHost, UplinkGuard, leftovers};
use berth_tests::netns::{Sandbox, http_get, udp_round_trip};

/// One test's world: a manager with its own prefix, pool and directories.
struct Net {
    prefix: &'static str,
    k: u8,
    dir: tempfile::TempDir,
    manager: NetworkManager,
    uplink: Option<UplinkGuard>,
}

/// A stand-in container: its sandbox and where it is attached.
struct Ctr {
    sandbox: Sandbox,
    attachments: Vec<Attachment>,
}

impl Ctr {
    fn ip(&self) -> Ipv4Addr {
        self.attachments[0].ipv4
    }
}

fn opts(name: &str) -> ConnectOptions {
    ConnectOptions { container_name: name.to_string(), ..Default::default() }
}

fn with_aliases(name: &str, aliases: &[&str]) -> ConnectOptions {
    ConnectOptions { aliases: aliases.iter().map(|a| a.to_string()).collect(), ..opts(name) }
}

fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the network suite needs root (real bridges, namespaces, nftables); run it as root, as CI does"
    );
}

/// A host port nobody uses right now (with `count` free ports after it).
fn free_port_run(count: u16) -> u16 {
    for _ in 0..100 {
        let base = TcpListener::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port();
        if base < 65000 && (0..count).all(|i| TcpListener::bind(("0.0.0.0", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no run of {count} free ports");
}

impl Net {
    /// `k` picks the test's address space: pool 10.(200+k).0.0/16 and
    /// fd90:k::/48, outside hosts in 198.18.k.0/24 and fd92:k::/64, extra host
    /// addresses in 198.19.k.0/24 and fd92:k:1::/64.
    fn new(prefix: &'static str, k: u8, upstreams: Vec<SocketAddr>) -> Self {
        require_root();
        let dir = tempfile::Builder::new().prefix(&format!("berth-net-{prefix}-")).tempdir().unwrap();
        let uplink = UplinkGuard::install(&format!("{prefix}guard"));
        let launcher = DnsLauncher { program: PathBuf::from(env!("CARGO_BIN_EXE_berth-test-dns")), args: vec![] };
        let mut config = NetworkConfig::new(dir.path().join("root"), dir.path().join("run"), launcher);
        config.prefix = prefix.to_string();
        config.pool = format!("10.{}.0.0/16", 200 + u16::from(k)).parse().unwrap();
        config.pool6 = format!("fd90:{k:x}::/48").parse().unwrap();
        config.upstreams = Upstreams::Explicit(upstreams);
        let manager = NetworkManager::open(config).unwrap();
        Net { prefix, k, dir, manager, uplink: Some(uplink) }
    }

    fn create(&self, name: &str) -> Network {
        self.manager.create_network(&NetworkSpec::named(name)).unwrap()
    }

    fn create_with(&self, spec: NetworkSpec) -> Network {
        self.manager.create_network(&spec).unwrap()
    }

    /// A container `id` named `name`, connected to each network in turn, with
    /// the /etc files berth generates for it.
    fn container(&self, id: &str, networks: &[(&Network, ConnectOptions)]) -> Ctr {
        let netns = self.manager.create_netns(id).unwrap();
        let sandbox = Sandbox::new(id, netns.clone(), self.dir.path());
        let mut attachments = Vec::new();
        for (network, options) in networks {
            attachments.push(self.manager.connect(id, &netns, &network.name, options).unwrap());
        }
        let hostname = networks.first().map(|(_, o)| o.container_name.clone()).unwrap_or_default();
        self.write_etc(&sandbox, &hostname);
        Ctr { sandbox, attachments }
    }

    fn write_etc(&self, sandbox: &Sandbox, hostname: &str) {
        let resolv = self.manager.resolv_conf_for(&sandbox.id, &ResolvOptions::default()).unwrap();
        let hosts = self
            .manager
            .hosts_for(&sandbox.id, &HostsOptions { hostname: hostname.to_string(), extra_hosts: vec![] })
            .unwrap();
        sandbox.write_etc(&resolv, &hosts);
    }

    fn scratch(&self) -> &std::path::Path {
        self.dir.path()
    }

    fn outside(&self) -> OutsideHost {
        OutsideHost::create(
            &format!("{}out", self.prefix),
            Ipv4Addr::new(198, 18, self.k, 1),
            Ipv4Addr::new(198, 18, self.k, 2),
        )
    }

    fn second_address(&self) -> HostAddress {
        HostAddress::add(&format!("{}addr", self.prefix), Ipv4Addr::new(198, 19, self.k, 1))
    }

    /// `berth ARGS` on this test's state, prefix, pool, and no upstream DNS.
    fn berth(&self, args: &[&str]) -> std::process::Output {
        Command::new(berth_tests::berth::berth_bin())
            .env("BERTH_ROOT", self.dir.path().join("root"))
            .env("BERTH_RUN", self.dir.path().join("run"))
            .env("HOME", self.dir.path())
            .env("BERTH_NETWORK_PREFIX", self.prefix)
            .env("BERTH_NETWORK_POOL", self.manager.config().pool.to_string())
            .env("BERTH_NETWORK_POOL6", self.manager.config().pool6.to_string())
            .env("BERTH_DNS_UPSTREAMS", "")
            .env_remove("BERTH_LOG")
            .args(args)
            .output()
            .expect("berth runs")
    }

    /// `berth ARGS`, which must succeed: its stdout.
    fn berth_ok(&self, args: &[&str]) -> String {
        let output = self.berth(args);
        assert!(output.status.success(), "berth {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// `berth ARGS`, which must fail: its stderr.
    fn berth_err(&self, args: &[&str]) -> String {
        let output = self.berth(args);
        assert!(!output.status.success(), "berth {args:?} succeeded: {}", String::from_utf8_lossy(&output.stdout));
        String::from_utf8(output.stderr).unwrap()
    }

    fn nft_list(&self) -> String {
        let output = Command::new("nft").args(["list", "table", "inet", self.prefix]).output().unwrap();
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        // The CLI's commands started a daemon for this state: it goes first.
        berth_tests::berth::stop_daemon(&self.dir.path().join("run"));
        let cleanup = self.manager.remove_everything();
        drop(self.uplink.take());
        let (pool, pool6) = (self.manager.config().pool, self.manager.config().pool6);
        let k = self.k;
        let ours = move |ip: IpAddr| match ip {
            IpAddr::V4(ip) => {
                let [a, b, c, _] = ip.octets();
                pool.contains(&ip) || (a == 198 && (b == 18 || b == 19) && c == k)
            }
            IpAddr::V6(ip) => pool6.contains(&ip) || ip.segments()[..2] == [0xfd92, u16::from(k)],
        };
        let left = leftovers(self.prefix, &ours, &self.dir.path().join("run"));
        if !std::thread::panicking() {
            cleanup.expect("remove_everything");
            assert!(left.is_empty(), "test {} left behind: {left:#?}", self.prefix);
        }
    }
}

/// The addresses of one family busybox nslookup printed as answers (after the server's own lines).
fn parse_answers<T: std::str::FromStr>(nslookup: &str) -> Vec<T> {
    nslookup
        .split("Name:")
        .skip(1)
        .flat_map(|block| block.lines().filter_map(|l| l.strip_prefix("Address:")).map(str::trim).collect::<Vec<_>>())
        .filter_map(|a| a.parse().ok())
        .collect()
}

fn answers(nslookup: &str) -> Vec<Ipv4Addr> {
    parse_answers(nslookup)
}

fn answers6(nslookup: &str) -> Vec<Ipv6Addr> {
    parse_answers(nslookup)
}

#[test]
fn containers_reach_each_other_by_name_and_alias_but_not_across_networks() {
    let net = Net::new("bna", 1, vec![]);
    let front = net.create("front");
    let back = net.create("back");
    let web = net.container("bnaweb", &[(&front, with_aliases("web", &["www"]))]);
    let client = net.container("bnacli", &[(&front, opts("client"))]);
    let other = net.container("bnaoth", &[(&back, opts("other"))]);
    let api1 = net.container("bnaapi1", &[(&front, with_aliases("api-1", &["api"]))]);
    let api2 = net.container("bnaapi2", &[(&front, with_aliases("api-2", &["api"]))]);
    web.sandbox.serve_http(web.ip(), 8080, "hello from web");

    assert_eq!(answers(&client.sandbox.nslookup("web")), vec![web.ip()]);
    assert_eq!(answers(&client.sandbox.nslookup("www")), vec![web.ip()]);
    assert_eq!(answers(&client.sandbox.nslookup("web.berth.internal")), vec![web.ip()]);
    assert_eq!(client.sandbox.fetch("http://web:8080/").as_deref(), Ok("hello from web"));
    assert_eq!(client.sandbox.fetch("http://www:8080/").as_deref(), Ok("hello from web"));

    // A service name answers with every replica.
    let replicas: HashSet<Ipv4Addr> = answers(&client.sandbox.nslookup("api")).into_iter().collect();
    assert_eq!(replicas, HashSet::from([api1.ip(), api2.ip()]));

    // From another network: the name is unknown and the address unreachable.
    let lookup = other.sandbox.nslookup("web");
    assert!(lookup.contains("NXDOMAIN") && answers(&lookup).is_empty(), "{lookup}");
    assert!(other.sandbox.fetch(&format!("http://{}:8080/", web.ip())).is_err(), "networks are isolated");

    // A stopped container's names stop resolving, also on a network it joins
    // while stopped; they come back when it starts.
    net.manager.deactivate("bnaweb").unwrap();
    assert!(client.sandbox.nslookup("web").contains("NXDOMAIN"));
    let on_back = net.manager.connect("bnaweb", &web.sandbox.netns, "back", &opts("web")).unwrap();
    assert!(!on_back.active);
    assert!(other.sandbox.nslookup("web").contains("NXDOMAIN"));
    net.manager.activate("bnaweb").unwrap();
    assert_eq!(answers(&client.sandbox.nslookup("web")), vec![web.ip()]);
    assert_eq!(answers(&other.sandbox.nslookup("web")), vec![on_back.ipv4], "each network answers its own address");
    assert_eq!(other.sandbox.fetch("http://web:8080/").as_deref(), Ok("hello from web"));
}

#[test]
fn links_resolve_by_alias_on_user_networks_and_the_default_bridge() {
    let net = Net::new("bnb", 2, vec![]);
    let app = net.create("app");
    let db = net.container("bnbdb", &[(&app, opts("db"))]);
    db.sandbox.serve_http(db.ip(), 8080, "db here");
    let linked =
        ConnectOptions { links: vec![ContainerLink { name: "db".into(), alias: "database".into() }], ..opts("client") };
    let client = net.container("bnbcli", &[(&app, linked)]);
    let stranger = net.container("bnbstr", &[(&app, opts("stranger"))]);
    assert_eq!(answers(&client.sandbox.nslookup("database")), vec![db.ip()]);
    assert_eq!(client.sandbox.fetch("http://database:8080/").as_deref(), Ok("db here"));
    assert!(stranger.sandbox.nslookup("database").contains("NXDOMAIN"), "the alias is the linking container's");

    // The default bridge has no DNS: links live in /etc/hosts, as with Docker.
    let bridge = net.manager.ensure_default_bridge().unwrap();
    assert!(!bridge.dns);
    let db2 = net.container("bnbdb2", &[(&bridge, opts("db2"))]);
    db2.sandbox.serve_http(db2.ip(), 8080, "db2 here");
    let linked =
        ConnectOptions { links: vec![ContainerLink { name: "db2".into(), alias: "legacy".into() }], ..opts("old") };
    let old = net.container("bnbold", &[(&bridge, linked)]);
    let hosts = std::fs::read_to_string(old.sandbox.rootfs.join("etc/hosts")).unwrap();
    assert!(hosts.contains(&format!("{}\tlegacy db2", db2.ip())), "{hosts}");
    assert!(hosts.contains(&format!("{}\told", old.ip())), "{hosts}");
    assert_eq!(old.sandbox.fetch("http://legacy:8080/").as_deref(), Ok("db2 here"));
    let resolv = std::fs::read_to_string(old.sandbox.rootfs.join("etc/resolv.conf")).unwrap();
    assert!(!resolv.contains(&bridge.gateway.to_string()), "no embedded DNS on the default bridge: {resolv}");
}

#[test]
fn internal_networks_block_outbound_traffic() {
    let upstream = DnsStub::start(Ipv4Addr::new(127, 77, 0, 3), &[("outside.example", Ipv4Addr::new(198, 51, 100, 3))]);
    let net = Net::new("bnc", 3, vec![upstream.addr()]);
    let mut outside = net.outside();
    outside.serve_http(80, "outside world", net.scratch());
    let open = net.create("open");
    let mut spec = NetworkSpec::named("sealed");
    spec.internal = true;
    let sealed = net.create_with(spec);
    let out1 = net.container("bncout1", &[(&open, opts("out1"))]);
    let in1 = net.container("bncin1", &[(&sealed, opts("in1"))]);
    let in2 = net.container("bncin2", &[(&sealed, opts("in2"))]);
    let url = format!("http://{}/", outside.ip);
    assert_eq!(out1.sandbox.fetch(&url).as_deref(), Ok("outside world"), "NAT takes a normal network out");
    assert!(in1.sandbox.fetch(&url).is_err(), "an internal network has no way out");
    // Inside the internal network, containers still talk (and resolve each other).
    in2.sandbox.serve_http(in2.ip(), 8080, "inside");
    assert_eq!(in1.sandbox.fetch("http://in2:8080/").as_deref(), Ok("inside"));
    // Not even DNS leads out of an internal network (CVE-2024-29018); it does from a normal one.
    assert!(answers(&in1.sandbox.nslookup("outside.example")).is_empty());
    assert!(upstream.asked().is_empty(), "the upstream was asked: {:?}", upstream.asked());
    assert_eq!(answers(&out1.sandbox.nslookup("outside.example")), vec![Ipv4Addr::new(198, 51, 100, 3)]);
}

#[test]
fn a_published_tcp_port_answers_on_loopback_another_address_hairpin_and_from_outside() {
    let net = Net::new("bnd", 4, vec![]);
    let published = net.create("pub");
    let elsewhere = net.create("elsewhere");
    let web = net.container("bndweb", &[(&published, opts("web"))]);
    web.sandbox.serve_http(web.ip(), 8080, "published");
    let port = free_port_run(1);
    let ports = net.manager.publish("bndweb", &[format!("{port}:8080").parse().unwrap()]).unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(
        (ports[0].host_ip, ports[0].host_port, ports[0].container_port),
        (IpAddr::V4(Ipv4Addr::UNSPECIFIED), port, 8080)
    );
    assert_eq!(http_get(SocketAddr::from(([127, 0, 0, 1], port))).as_deref(), Ok("published"));

    let second = net.second_address();
    assert_eq!(http_get(SocketAddr::from((second.ip, port))).as_deref(), Ok("published"));

    // Hairpin: from a container on the same network and from another network, via a host address.
    let neighbour = net.container("bndnbr", &[(&published, opts("neighbour"))]);
    let url = format!("http://{}:{port}/", second.ip);
    assert_eq!(neighbour.sandbox.fetch(&url).as_deref(), Ok("published"));
    let stranger = net.container("bndstr", &[(&elsewhere, opts("stranger"))]);
    assert_eq!(stranger.sandbox.fetch(&url).as_deref(), Ok("published"));
    // The container reaching its own published port.
    assert_eq!(web.sandbox.fetch(&url).as_deref(), Ok("published"));

    // From another host (a namespace behind a veth), to the host's address on that link.
    let outside = net.outside();
    assert_eq!(outside.fetch(outside.host_ip, port).as_deref(), Ok("published"));

    // Stopping the container frees the port.
    net.manager.deactivate("bndweb").unwrap();
    assert!(net.manager.ports("bndweb").unwrap().is_empty());
    assert!(http_get(SocketAddr::from(([127, 0, 0, 1], port))).is_err());
    assert!(!net.nft_list().contains(&port.to_string()));
}

#[test]
fn a_published_udp_port_round_trips() {
    let net = Net::new("bne", 5, vec![]);
    let network = net.create("udp");
    let echo = net.container("bneecho", &[(&network, opts("echo"))]);
    let _server = echo.sandbox.udp_echo(5353);
    let port = free_port_run(1);
    let published = net.manager.publish("bneecho", &[format!("127.0.0.1:{port}:5353/udp").parse().unwrap()]).unwrap();
    assert_eq!(published[0].protocol, Protocol::Udp);
    assert_eq!(udp_round_trip(SocketAddr::from(([127, 0, 0, 1], port)), b"ping over udp").unwrap(), b"ping over udp");
}

#[test]
fn an_ephemeral_host_port_is_chosen_and_reported() {
    let net = Net::new("bnf", 6, vec![]);
    let network = net.create("eph");
    let web = net.container("bnfweb", &[(&network, opts("web"))]);
    web.sandbox.serve_http(web.ip(), 8080, "ephemeral");
    let published = net.manager.publish("bnfweb", &[PortMapping::ephemeral(8080, Protocol::Tcp)]).unwrap();
    let reported = net.manager.ports("bnfweb").unwrap();
    assert_eq!(published, reported);
    assert_eq!(reported.len(), 1);
    let port = reported[0].host_port;
    assert!(port >= 1024, "an ephemeral port, got {port}");
    assert_eq!(reported[0].to_string(), format!("8080/tcp -> 0.0.0.0:{port}"));
    assert_eq!(http_get(SocketAddr::from(([127, 0, 0, 1], port))).as_deref(), Ok("ephemeral"));
}

#[test]
fn a_port_in_use_is_a_clear_error_and_changes_nothing() {
    let net = Net::new("bng", 7, vec![]);
    let network = net.create("busy");
    let c1 = net.container("bngc1", &[(&network, opts("c1"))]);
    let _c2 = net.container("bngc2", &[(&network, opts("c2"))]);
    let _ = c1;

    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let other = free_port_run(1);
    let mappings: Vec<PortMapping> =
        vec![format!("{other}:81").parse().unwrap(), format!("127.0.0.1:{taken}:80").parse().unwrap()];
    let err = net.manager.publish("bngc1", &mappings).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, NetworkError::PortInUse { port, .. } if port == taken), "{text}");
    assert!(text.contains(&format!("port {taken}/tcp is already in use on 127.0.0.1")), "{text}");
    assert!(text.contains("a program on the host listens there"), "{text}");
    assert!(net.manager.ports("bngc1").unwrap().is_empty(), "nothing was published");
    assert!(!net.nft_list().contains(&other.to_string()), "not even the free port");

    // Between containers: one holds 0.0.0.0:P, the other may not take 127.0.0.1:P.
    let shared = free_port_run(1);
    net.manager.publish("bngc1", &[format!("{shared}:80").parse().unwrap()]).unwrap();
    let err = net.manager.publish("bngc2", &[format!("127.0.0.1:{shared}:80").parse().unwrap()]).unwrap_err();
    assert!(err.to_string().contains("published by container bngc1"), "{err}");

    let err = net.manager.publish("bngc2", &["203.0.113.9:8080:80".parse().unwrap()]).unwrap_err();
    assert!(err.to_string().contains("203.0.113.9 is not an address of this host"), "{err}");
    drop(holder);
}

#[test]
fn port_ranges_are_published_pairwise_or_first_free() {
    let net = Net::new("bnh", 8, vec![]);
    let network = net.create("ranges");
    let web = net.container("bnhweb", &[(&network, opts("web"))]);
    for i in 0..3u16 {
        web.sandbox.serve_http(web.ip(), 8000 + i, &format!("r{i}"));
    }
    let base = free_port_run(3);
    let spec = format!("{base}-{}:8000-8002", base + 2);
    let published = net.manager.publish("bnhweb", &[spec.parse().unwrap()]).unwrap();
    assert_eq!(
        published.iter().map(|p| (p.host_port, p.container_port)).collect::<Vec<_>>(),
        vec![(base, 8000), (base + 1, 8001), (base + 2, 8002)]
    );
    for i in 0..3u16 {
        assert_eq!(http_get(SocketAddr::from(([127, 0, 0, 1], base + i))).unwrap(), format!("r{i}"));
    }
    // A host range for one container port: the first free one is taken.
    let start = free_port_run(3);
    let _busy = TcpListener::bind(("0.0.0.0", start)).unwrap();
    let chosen = net.manager.publish("bnhweb", &[format!("{start}-{}:8001", start + 2).parse().unwrap()]).unwrap();
    assert_eq!(chosen[0].host_port, start + 1);
    assert_eq!(http_get(SocketAddr::from(([127, 0, 0, 1], start + 1))).as_deref(), Ok("r1"));
}

#[test]
fn dns_forwards_other_names_answers_ptr_and_nxdomain() {
    let stub = DnsStub::start(Ipv4Addr::new(127, 77, 0, 9), &[("upstream.example", Ipv4Addr::new(198, 51, 100, 7))]);
    let own = DnsStub::start(Ipv4Addr::new(127, 77, 0, 10), &[("upstream.example", Ipv4Addr::new(198, 51, 100, 8))]);
    let net = Net::new("bni", 9, vec![stub.addr()]);
    let network = net.create("dns");
    let web = net.container("bniweb", &[(&network, opts("web"))]);
    let client = net.container("bnicli", &[(&network, opts("client"))]);

    assert_eq!(answers(&client.sandbox.nslookup("upstream.example")), vec![Ipv4Addr::new(198, 51, 100, 7)]);
    assert!(stub.asked().contains(&"upstream.example".to_string()));
    let missing = client.sandbox.nslookup("missing.example");
    assert!(missing.contains("NXDOMAIN"), "upstream's NXDOMAIN is relayed: {missing}");

    let reverse = client.sandbox.nslookup(&web.ip().to_string());
    assert!(reverse.contains("web.berth.internal"), "{reverse}");

    let unknown = client.sandbox.nslookup("nope.berth.internal");
    assert!(unknown.contains("NXDOMAIN"), "{unknown}");
    assert!(!stub.asked().iter().any(|n| n.contains("nope")), "names of our domain never go upstream");

    // --dns: this container's other queries go to its own server.
    let mut options = opts("picky");
    options.dns_servers = vec![own.addr().ip()];
    let picky = net.container("bnipick", &[(&network, options)]);
    assert_eq!(answers(&picky.sandbox.nslookup("upstream.example")), vec![Ipv4Addr::new(198, 51, 100, 8)]);
    assert_eq!(answers(&picky.sandbox.nslookup("web")), vec![web.ip()], "and container names still resolve");
}

/// Waits (bounded) until no link called `name` exists.
fn wait_link_gone(name: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Command::new("ip").args(["link", "show", name]).output().unwrap().status.success() {
        assert!(Instant::now() < deadline, "{name} is still there after 5 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ip(args: &[&str]) {
    let output = Command::new("ip").args(args).output().unwrap();
    assert!(output.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn recovery_cleans_leftovers_rebuilds_the_firewall_and_addresses_are_kept() {
    let net = Net::new("bnj", 10, vec![]);
    let network = net.create("keep");
    let web = net.container("bnjweb", &[(&network, opts("web"))]);
    web.sandbox.serve_http(web.ip(), 8080, "still here");
    let port = free_port_run(1);
    net.manager.publish("bnjweb", &[format!("{port}:8080").parse().unwrap()]).unwrap();
    let lost = net.container("bnjlost", &[(&network, opts("lost"))]);
    let gone = net.container("bnjgone", &[(&network, opts("gone"))]);
    let lost_ip = lost.ip();

    // A crash leaves marked links nobody owns, loses the firewall table and a namespace.
    ip(&["link", "add", "bnjvdead", "type", "veth", "peer", "name", "bnjvdeadp"]);
    ip(&["link", "set", "bnjvdead", "alias", "berth:bnj:attachment:ghost:nonet"]);
    ip(&["link", "add", "bnj99", "type", "bridge"]);
    ip(&["link", "set", "bnj99", "alias", "berth:bnj:network:vanished"]);
    ip(&["link", "add", "bnjforeign", "type", "bridge"]);
    assert!(Command::new("nft").args(["delete", "table", "inet", "bnj"]).status().unwrap().success());
    assert!(http_get(SocketAddr::from(([127, 0, 0, 1], port))).is_err(), "no table, no DNAT");
    net.manager.remove_netns("bnjlost").unwrap();
    wait_link_gone(&lost.attachments[0].host_interface);

    let live = HashSet::from(["bnjweb".to_string(), "bnjlost".to_string()]);
    let report = net.manager.recover(Some(&live)).unwrap();
    assert_eq!(report.released_containers, vec!["bnjgone".to_string()]);
    let mut removed = report.removed_links.clone();
    removed.sort();
    assert!(removed.contains(&"bnj99".to_string()) && removed.contains(&"bnjvdead".to_string()), "{removed:?}");
    assert!(!removed.contains(&"bnjforeign".to_string()), "a link without berth's mark is not berth's");
    assert_eq!(report.deactivated_containers, vec!["bnjlost".to_string()]);
    ip(&["link", "del", "bnjforeign"]);

    assert_eq!(http_get(SocketAddr::from(([127, 0, 0, 1], port))).as_deref(), Ok("still here"), "table rebuilt");
    assert!(!gone.sandbox.netns.exists(), "a dead container's namespace is removed");
    assert!(net.manager.attachments("bnjgone").unwrap().is_empty(), "and its lease released");

    // The container whose namespace was lost gets its address back.
    let netns = net.manager.create_netns("bnjlost").unwrap();
    let again = net.manager.connect("bnjlost", &netns, "keep", &opts("lost")).unwrap();
    assert_eq!(again.ipv4, lost_ip);
    net.manager.activate("bnjlost").unwrap();
    // A second recovery finds nothing to do.
    let quiet = net.manager.recover(Some(&live)).unwrap();
    assert_eq!(quiet, berth_network::Recovery::default());
}

/// The default route inside a namespace, read with `ip -j` (the test's witness).
fn default_route(netns: &std::path::Path) -> (String, String) {
    default_route_of("-4", netns)
}

/// The default route of a family (`-4`, `-6`) inside a namespace.
fn default_route_of(family: &str, netns: &std::path::Path) -> (String, String) {
    let output = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["ip", family, "-j", "route", "show", "default"])
        .output()
        .unwrap();
    let routes: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let route = &routes[0];
    (route["gateway"].as_str().unwrap_or_default().to_string(), route["dev"].as_str().unwrap_or_default().to_string())
}

fn links_in(netns: &std::path::Path) -> Vec<String> {
    let output = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["ip", "-j", "link", "show"])
        .output()
        .unwrap();
    let links: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    links.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap().to_string()).collect()
}

#[test]
fn networks_are_created_inspected_connected_disconnected_removed_and_pruned() {
    let net = Net::new("bnk", 11, vec![]);
    let mut spec = NetworkSpec::named("lab");
    spec.subnet = Some("10.211.77.0/24".parse().unwrap());
    spec.gateway = Some("10.211.77.254".parse().unwrap());
    spec.ip_range = Some("10.211.77.128/25".parse().unwrap());
    spec.labels.insert("team".into(), "net".into());
    let lab = net.create_with(spec);
    let details = net.manager.inspect_network("lab").unwrap();
    assert_eq!(details.network, lab);
    assert_eq!(net.manager.inspect_network(&lab.id[..12]).unwrap().network.name, "lab", "by id prefix");
    let shown = Command::new("ip").args(["-d", "-j", "addr", "show", "dev", &lab.bridge]).output().unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    assert_eq!(shown[0]["addr_info"][0]["local"], "10.211.77.254");
    assert_eq!(shown[0]["addr_info"][0]["prefixlen"], 24);
    assert_eq!(shown[0]["ifalias"], format!("berth:bnk:network:{}", lab.id));

    let c1 = net.container("bnkc1", &[(&lab, opts("c1"))]);
    assert_eq!(c1.ip(), Ipv4Addr::new(10, 211, 77, 128), "the first address of --ip-range");
    let mut fixed = opts("c2");
    fixed.ip = Some("10.211.77.200".parse().unwrap());
    let c2 = net.container("bnkc2", &[(&lab, fixed.clone())]);
    assert_eq!(c2.ip(), Ipv4Addr::new(10, 211, 77, 200));
    let netns3 = net.manager.create_netns("bnkc3").unwrap();
    let taken = net.manager.connect("bnkc3", &netns3, "lab", &ConnectOptions { container_name: "c3".into(), ..fixed });
    assert!(matches!(taken, Err(NetworkError::AddressTaken { .. })), "{taken:?}");
    let mut outside = opts("c3");
    outside.ip = Some("10.99.0.5".parse().unwrap());
    let err = net.manager.connect("bnkc3", &netns3, "lab", &outside).unwrap_err();
    assert!(err.to_string().contains("outside the subnet"), "{err}");
    net.manager.remove_netns("bnkc3").unwrap();

    // A second network: eth1, and the default route stays with the first.
    let lab2 = net.create("lab2");
    let second = net.manager.connect("bnkc1", &c1.sandbox.netns, "lab2", &opts("c1")).unwrap();
    assert_eq!(second.interface, "eth1");
    assert_eq!(default_route(&c1.sandbox.netns), ("10.211.77.254".to_string(), "eth0".to_string()));
    assert!(matches!(
        net.manager.connect("bnkc1", &c1.sandbox.netns, "lab2", &opts("c1")),
        Err(NetworkError::AlreadyConnected { .. })
    ));

    // Errors that change nothing.
    let mut dup = NetworkSpec::named("dup");
    dup.subnet = Some("10.211.77.0/25".parse().unwrap());
    let err = net.manager.create_network(&dup).unwrap_err();
    assert!(err.to_string().contains("overlaps network lab"), "{err}");
    assert!(matches!(net.manager.create_network(&NetworkSpec::named("lab")), Err(NetworkError::Exists(_))));
    assert!(
        net.manager
            .create_network(&NetworkSpec::named("bad/name"))
            .unwrap_err()
            .to_string()
            .contains("invalid network name")
    );
    let err = net.manager.remove_network("lab", false).unwrap_err();
    assert!(err.to_string().contains("has containers attached (c1, c2)"), "{err}");
    net.manager.ensure_default_bridge().unwrap();
    assert!(matches!(net.manager.remove_network("bridge", false), Err(NetworkError::Predefined(_))));

    // Disconnect while running: the interface goes from the namespace and the veth from the host.
    net.manager.disconnect("bnkc2", "lab").unwrap();
    assert!(!links_in(&c2.sandbox.netns).contains(&"eth0".to_string()));
    wait_link_gone(&c2.attachments[0].host_interface);
    assert!(matches!(net.manager.disconnect("bnkc2", "lab"), Err(NetworkError::NotConnected { .. })));

    net.manager.remove_network("lab", true).unwrap();
    let left: Vec<String> = net.manager.attachments("bnkc1").unwrap().into_iter().map(|a| a.network).collect();
    assert_eq!(left, vec!["lab2".to_string()]);
    assert!(!links_in(&c1.sandbox.netns).contains(&"eth0".to_string()));

    // Prune: only unused networks matching the filter.
    let mut labelled = NetworkSpec::named("p1");
    labelled.labels.insert("team".into(), "net".into());
    net.create_with(labelled);
    net.create("p2");
    assert_eq!(net.manager.prune_networks(&["team=net".to_string()]).unwrap(), vec!["p1".to_string()]);
    let mut names: Vec<String> = net.manager.list_networks().unwrap().into_iter().map(|n| n.name).collect();
    names.sort();
    assert_eq!(names, vec!["bridge", "lab2", "p2"]);
    assert_eq!(
        net.manager.prune_networks(&[]).unwrap(),
        vec!["p2".to_string()],
        "lab2 is in use, bridge is predefined"
    );
    let _ = lab2;
}

#[test]
fn the_network_cli_creates_lists_inspects_removes_and_prunes() {
    let net = Net::new("bnl", 12, vec![]);
    let listed = net.berth_ok(&["network", "ls"]);
    assert!(listed.starts_with("NETWORK ID"), "{listed}");
    assert!(listed.lines().any(|l| l.contains(" bridge ") && l.ends_with("10.212.0.0/24")), "{listed}");

    let id = net.berth_ok(&[
        "network",
        "create",
        "--subnet",
        "10.212.50.0/24",
        "--gateway",
        "10.212.50.9",
        "--ip-range",
        "10.212.50.128/25",
        "--label",
        "team=net",
        "--opt",
        "mtu=1400",
        "web",
    ]);
    assert!(id.trim().len() == 64 && id.trim().bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert!(net.berth_err(&["network", "create", "web"]).contains("network web already exists"));
    assert!(net.berth_err(&["network", "create", "--subnet", "10.212.50.0/25", "x"]).contains("overlaps network web"));
    assert!(net.berth_err(&["network", "create", "-d", "macvlan", "y"]).contains("only the bridge driver"));
    assert!(net.berth_err(&["network", "create", "--opt", "mtu=big", "z"]).contains("--opt mtu=big"));

    let inspected: serde_json::Value = serde_json::from_str(&net.berth_ok(&["network", "inspect", "web"])).unwrap();
    let web = &inspected[0];
    assert_eq!(web["Id"], id.trim());
    assert_eq!(web["IPAM"]["Config"][0]["Subnet"], "10.212.50.0/24");
    assert_eq!(web["IPAM"]["Config"][0]["Gateway"], "10.212.50.9");
    assert_eq!(web["IPAM"]["Config"][0]["IPRange"], "10.212.50.128/25");
    assert_eq!(web["Labels"]["team"], "net");
    let bridge = web["Options"]["com.docker.network.bridge.name"].as_str().unwrap().to_string();
    let link = Command::new("ip").args(["-j", "link", "show", &bridge]).output().unwrap();
    let link: serde_json::Value = serde_json::from_slice(&link.stdout).unwrap();
    assert_eq!(link[0]["mtu"], 1400);
    assert!(net.berth_err(&["network", "inspect", "nope"]).contains("network nope not found"));

    // The DNS server for web was started from the berth binary itself.
    let pid = std::fs::read_to_string(net.scratch().join("run/dns/server.pid")).unwrap();
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim())).unwrap();
    assert!(String::from_utf8_lossy(&cmdline).contains("__dns-server"), "{cmdline:?}");

    assert_eq!(net.berth_ok(&["network", "ls", "-q"]).lines().count(), 2);
    let filtered = net.berth_ok(&["network", "ls", "--filter", "label=team=net"]);
    assert_eq!(filtered.lines().skip(1).map(|l| l.split_whitespace().nth(1).unwrap()).collect::<Vec<_>>(), vec!["web"]);
    assert!(net.berth_err(&["network", "rm", "bridge"]).contains("bridge is a pre-defined network"));

    net.berth_ok(&["network", "create", "--label", "tmp", "p1"]);
    assert_eq!(net.berth_ok(&["network", "prune", "-f", "--filter", "label=tmp"]), "Deleted Networks:\np1\n");
    assert_eq!(net.berth_ok(&["network", "rm", "web"]), "web\n");
    assert!(!net.berth_ok(&["network", "ls"]).contains("web"));
}

/// A network with IPv6 (its subnet from the test's IPv6 pool).
fn dual_stack(name: &str) -> NetworkSpec {
    NetworkSpec { ipv6: true, ..NetworkSpec::named(name) }
}

impl Ctr {
    fn ip6(&self) -> Ipv6Addr {
        self.attachments[0].ipv6.expect("an IPv6 address")
    }
}

/// `ping -6 -c1 TARGET` from inside: did an answer come back?
fn ping6(ctr: &Ctr, target: &str) -> bool {
    ctr.sandbox.run(&["/bin/ping", "-6", "-c", "1", "-W", "2", target]).status.success()
}

/// A file of /proc/sys/net inside a container's namespace.
fn sysctl_in(netns: &std::path::Path, path: &str) -> String {
    let output = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["cat", &format!("/proc/sys/net/{path}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[test]
fn ipv6_containers_reach_each_other_by_name_with_aaaa_and_ptr_answers() {
    let net = Net::new("bnm", 13, vec![]);
    let six = net.create_with(dual_stack("six"));
    let v6 = six.ipv6.expect("the network has IPv6");
    assert!(net.manager.config().pool6.contains(&v6.subnet), "{} from the pool", v6.subnet);
    assert_eq!(v6.subnet.prefix_len(), 64);
    let other = net.create_with(dual_stack("other"));
    let plain = net.create("plain");

    let web = net.container("bnmweb", &[(&six, with_aliases("web", &["www"]))]);
    let client = net.container("bnmcli", &[(&six, opts("client"))]);
    let stranger = net.container("bnmstr", &[(&other, opts("stranger"))]);
    let old = net.container("bnmold", &[(&plain, opts("old"))]);
    assert!(v6.subnet.contains(&web.ip6()) && web.ip6() != v6.gateway);
    assert_eq!(web.attachments[0].ipv6_gateway, Some(v6.gateway));
    assert_eq!(old.attachments[0].ipv6, None);
    web.sandbox.serve_http(web.ip6(), 8080, "hello over ipv6");

    // Reachable by name and address over IPv6, with a default route via the gateway.
    assert!(ping6(&client, "web"), "ping -6 web");
    assert_eq!(client.sandbox.fetch(&format!("http://[{}]:8080/", web.ip6())).as_deref(), Ok("hello over ipv6"));
    assert_eq!(default_route_of("-6", &client.sandbox.netns), (v6.gateway.to_string(), "eth0".to_string()));

    // AAAA for names, aliases and the domain; A stays IPv4; PTR in ip6.arpa.
    let aaaa = |ctr: &Ctr, name: &str| {
        let output = ctr.sandbox.run(&["/bin/nslookup", "-type=AAAA", name]);
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    };
    assert_eq!(answers6(&aaaa(&client, "web")), vec![web.ip6()]);
    assert_eq!(answers6(&aaaa(&client, "www")), vec![web.ip6()]);
    assert_eq!(answers6(&aaaa(&client, "web.berth.internal")), vec![web.ip6()]);
    assert_eq!(answers(&client.sandbox.nslookup("web")), vec![web.ip()]);
    let reverse = client.sandbox.nslookup(&web.ip6().to_string());
    assert!(reverse.contains("web.berth.internal"), "{reverse}");
    let hosts = std::fs::read_to_string(web.sandbox.rootfs.join("etc/hosts")).unwrap();
    assert!(
        hosts.contains(&format!("{}\tweb\n", web.ip())) && hosts.contains(&format!("{}\tweb\n", web.ip6())),
        "{hosts}"
    );

    // Isolation holds for IPv6: another network neither resolves nor reaches web.
    let lookup = aaaa(&stranger, "web");
    assert!(lookup.contains("NXDOMAIN") && answers6(&lookup).is_empty(), "{lookup}");
    assert!(stranger.sandbox.fetch(&format!("http://[{}]:8080/", web.ip6())).is_err(), "networks are isolated");
    assert!(!ping6(&stranger, &web.ip6().to_string()));

    // IPv6 is on only where the network has it; its addresses are usable at once.
    assert_eq!(sysctl_in(&client.sandbox.netns, "ipv6/conf/eth0/disable_ipv6"), "0");
    assert_eq!(sysctl_in(&client.sandbox.netns, "ipv6/conf/eth0/accept_dad"), "0");
    assert_eq!(sysctl_in(&old.sandbox.netns, "ipv6/conf/eth0/disable_ipv6"), "1");

    // The lease outlives a lost namespace: the same IPv6 address comes back.
    let kept = client.ip6();
    net.manager.remove_netns("bnmcli").unwrap();
    wait_link_gone(&client.attachments[0].host_interface);
    let netns = net.manager.create_netns("bnmcli").unwrap();
    let again = net.manager.connect("bnmcli", &netns, "six", &opts("client")).unwrap();
    assert_eq!(again.ipv6, Some(kept));
}

#[test]
fn ipv6_addresses_are_fixed_checked_and_networks_planned_by_family() {
    let net = Net::new("bnn", 14, vec![]);
    // The CLI's daemon starts now: when it starts it releases the network of
    // containers it does not know, as the test's stand-ins below are.
    net.berth_ok(&["network", "ls"]);
    let mut spec = dual_stack("lab6");
    spec.subnet6 = Some("fd90:e:77::/64".parse().unwrap());
    spec.gateway6 = Some("fd90:e:77::fe".parse().unwrap());
    spec.ip_range6 = Some("fd90:e:77:0:8000::/65".parse().unwrap());
    let lab = net.create_with(spec);
    let shown = Command::new("ip").args(["-6", "-j", "addr", "show", "dev", &lab.bridge, "scope", "global"]).output();
    let shown: serde_json::Value = serde_json::from_slice(&shown.unwrap().stdout).unwrap();
    assert_eq!(shown[0]["addr_info"][0]["local"], "fd90:e:77::fe");
    assert_eq!(shown[0]["addr_info"][0]["prefixlen"], 64);

    let c1 = net.container("bnnc1", &[(&lab, opts("c1"))]);
    assert_eq!(c1.ip6(), "fd90:e:77:0:8000::".parse::<Ipv6Addr>().unwrap(), "the first address of the range");
    let fixed = ConnectOptions { ip6: Some("fd90:e:77::1234".parse().unwrap()), ..opts("c2") };
    let c2 = net.container("bnnc2", &[(&lab, fixed.clone())]);
    assert_eq!(c2.ip6(), "fd90:e:77::1234".parse::<Ipv6Addr>().unwrap());
    let netns3 = net.manager.create_netns("bnnc3").unwrap();
    let taken = net.manager.connect("bnnc3", &netns3, "lab6", &ConnectOptions { container_name: "c3".into(), ..fixed });
    assert!(matches!(taken, Err(NetworkError::AddressTaken { .. })), "{taken:?}");
    for (ip, why) in [("fd90:e:78::5", "outside the subnet"), ("fd90:e:77::fe", "gateway"), ("fd90:e:77::", "anycast")]
    {
        let asked = ConnectOptions { ip6: Some(ip.parse().unwrap()), ..opts("c3") };
        let err = net.manager.connect("bnnc3", &netns3, "lab6", &asked).unwrap_err();
        assert!(err.to_string().contains(why), "{ip}: {err}");
    }
    let plain = net.create("plain");
    let asked = ConnectOptions { ip6: Some("fd90:e:77::9".parse().unwrap()), ..opts("c3") };
    let err = net.manager.connect("bnnc3", &netns3, "plain", &asked).unwrap_err();
    assert!(err.to_string().contains("network plain has no IPv6"), "{err}");
    net.manager.remove_netns("bnnc3").unwrap();
    let _ = plain;

    // Planning errors change nothing.
    let mut overlap = dual_stack("dup6");
    overlap.subnet6 = Some("fd90:e:77::/80".parse().unwrap());
    let err = net.manager.create_network(&overlap).unwrap_err();
    assert!(err.to_string().contains("overlaps network lab6"), "{err}");
    let mut without = NetworkSpec::named("no6");
    without.subnet6 = Some("fd90:e:99::/64".parse().unwrap());
    let err = net.manager.create_network(&without).unwrap_err();
    assert!(err.to_string().contains("add --ipv6"), "{err}");
    assert!(net.manager.inspect_network("dup6").is_err() && net.manager.inspect_network("no6").is_err());

    // The CLI: one subnet per family, EnableIPv6 and both IPAM configs in inspect.
    net.berth_ok(&["network", "create", "--ipv6", "--subnet", "10.214.9.0/24", "--subnet", "fd90:e:9::/64", "cli6"]);
    let inspected: serde_json::Value = serde_json::from_str(&net.berth_ok(&["network", "inspect", "cli6"])).unwrap();
    assert_eq!(inspected[0]["EnableIPv6"], true);
    assert_eq!(inspected[0]["IPAM"]["Config"][0]["Subnet"], "10.214.9.0/24");
    assert_eq!(inspected[0]["IPAM"]["Config"][1]["Subnet"], "fd90:e:9::/64");
    assert_eq!(inspected[0]["IPAM"]["Config"][1]["Gateway"], "fd90:e:9::1");
    net.berth_ok(&["network", "create", "--ipv6", "pooled"]);
    let pooled: serde_json::Value = serde_json::from_str(&net.berth_ok(&["network", "inspect", "pooled"])).unwrap();
    let subnet: berth_network::Ipv6Net = pooled[0]["IPAM"]["Config"][1]["Subnet"].as_str().unwrap().parse().unwrap();
    assert!(net.manager.config().pool6.contains(&subnet), "{subnet}");
    let lab_inspected: serde_json::Value =
        serde_json::from_str(&net.berth_ok(&["network", "inspect", "lab6"])).unwrap();
    let endpoints: Vec<&str> = lab_inspected[0]["Containers"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["IPv6Address"].as_str().unwrap())
        .collect();
    assert!(endpoints.contains(&"fd90:e:77::1234/64"), "{endpoints:?}");
    let err = net.berth_err(&["network", "create", "--subnet", "10.214.10.0/24", "--subnet", "10.214.11.0/24", "x"]);
    assert!(err.contains("one IPv4 and one IPv6 --subnet at most"), "{err}");
    let plain_inspected: serde_json::Value =
        serde_json::from_str(&net.berth_ok(&["network", "inspect", "plain"])).unwrap();
    assert_eq!(plain_inspected[0]["EnableIPv6"], false);
    assert_eq!(plain_inspected[0]["IPAM"]["Config"].as_array().unwrap().len(), 1);
}

#[test]
fn ipv6_outbound_is_masqueraded_and_internal_networks_cannot_reach_out() {
    let net = Net::new("bno", 15, vec![]);
    let outside = net.outside();
    // The outside host knows only the link to the host: only masqueraded traffic is answered.
    let (host6, outside6): (Ipv6Addr, Ipv6Addr) = ("fd92:f::1".parse().unwrap(), "fd92:f::2".parse().unwrap());
    outside.add_ipv6(host6, outside6);
    let dummy = HostAddress::add("bnoaddr", "fd92:f:1::1".parse::<Ipv6Addr>().unwrap());
    let open = net.create_with(dual_stack("open6"));
    let sealed = net.create_with(NetworkSpec { internal: true, ..dual_stack("sealed6") });
    let out = net.container("bnoout", &[(&open, opts("out"))]);
    let in1 = net.container("bnoin1", &[(&sealed, opts("in1"))]);
    let in2 = net.container("bnoin2", &[(&sealed, opts("in2"))]);

    assert!(ping6(&out, &outside6.to_string()), "NAT66 takes a normal IPv6 network out");
    assert!(ping6(&out, &dummy.ip.to_string()), "and to the host's other addresses");
    assert!(!ping6(&in1, &outside6.to_string()), "an internal network has no way out over IPv6");
    assert!(!ping6(&in1, &dummy.ip.to_string()), "not even to the host's other addresses");
    assert_eq!(default_route_of("-6", &in1.sandbox.netns), (String::new(), String::new()), "no default route");
    // Inside the internal network, containers still reach each other over IPv6.
    assert!(ping6(&in1, "in2"));
    assert!(ping6(&in1, &in2.ip6().to_string()));
    let table = net.nft_list();
    assert!(table.contains(&open.ipv6.unwrap().subnet.to_string()), "the hairpin set has the IPv6 subnet: {table}");
}

#[test]
fn ipv6_published_ports_answer_on_loopback_every_address_and_hairpin() {
    let net = Net::new("bnp", 16, vec![]);
    let six = net.create_with(dual_stack("pub6"));
    let plain = net.create("plain");
    let web = net.container("bnpweb", &[(&six, opts("web"))]);
    let neighbour = net.container("bnpnbr", &[(&six, opts("neighbour"))]);
    let old = net.container("bnpold", &[(&plain, opts("old"))]);
    web.sandbox.serve_http(web.ip6(), 8080, "published6");
    let _echo = web.sandbox.udp_echo(5353);
    let gateway6 = six.ipv6.unwrap().gateway;

    // [::1]: served by the proxy (no DNAT element), from the host.
    let lo = free_port_run(1);
    let published = net.manager.publish("bnpweb", &[format!("[::1]:{lo}:8080").parse().unwrap()]).unwrap();
    assert_eq!((published[0].host_ip, published[0].container_ip), ("::1".parse().unwrap(), IpAddr::V6(web.ip6())));
    assert_eq!(http_get(SocketAddr::from((Ipv6Addr::LOCALHOST, lo))).as_deref(), Ok("published6"));
    assert!(!net.nft_list().contains(&lo.to_string()), "no DNAT for ::1");
    let udp = free_port_run(1);
    net.manager.publish("bnpweb", &[format!("[::1]:{udp}:5353/udp").parse().unwrap()]).unwrap();
    let echoed = udp_round_trip(SocketAddr::from((Ipv6Addr::LOCALHOST, udp)), b"ping over udp6");
    assert_eq!(echoed.as_deref(), Ok(&b"ping over udp6"[..]));

    // No host address: both families with one host port, as Docker does.
    let both = free_port_run(1);
    let published = net.manager.publish("bnpweb", &[format!("{both}:8080").parse().unwrap()]).unwrap();
    let hosts: Vec<String> = published.iter().map(|p| p.host().to_string()).collect();
    assert_eq!(hosts, vec![format!("0.0.0.0:{both}"), format!("[::]:{both}")]);
    for addr in [
        SocketAddr::from(([127, 0, 0, 1], both)),
        SocketAddr::from((Ipv6Addr::LOCALHOST, both)),
        SocketAddr::from((gateway6, both)),
    ] {
        assert_eq!(http_get(addr).as_deref(), Ok("published6"), "{addr}");
    }
    let second = HostAddress::add("bnpaddr", "fd92:10:1::1".parse::<Ipv6Addr>().unwrap());
    assert_eq!(http_get(SocketAddr::new(second.ip, both)).as_deref(), Ok("published6"));
    // Hairpin over IPv6: a neighbour, and the container itself, via a host address.
    let url = format!("http://[{}]:{both}/", second.ip);
    assert_eq!(neighbour.sandbox.fetch(&url).as_deref(), Ok("published6"));
    assert_eq!(web.sandbox.fetch(&url).as_deref(), Ok("published6"));

    // Conflicts and impossible requests are clear errors that change nothing.
    let holder = std::net::TcpListener::bind("[::1]:0").unwrap();
    let held = holder.local_addr().unwrap().port();
    let err = net.manager.publish("bnpweb", &[format!("[::1]:{held}:8080").parse().unwrap()]).unwrap_err();
    assert!(err.to_string().contains(&format!("port {held}/tcp is already in use on ::1")), "{err}");
    let err = net.manager.publish("bnpnbr", &[format!("[::]:{both}:8080").parse().unwrap()]).unwrap_err();
    assert!(err.to_string().contains("published by container bnpweb"), "{err}");
    let err = net.manager.publish("bnpold", &["[::1]::80".parse().unwrap()]).unwrap_err();
    assert!(matches!(err, NetworkError::NoIpv6ToPublish { .. }), "{err}");
    assert_eq!(net.manager.publish("bnpold", &["80".parse().unwrap()]).unwrap().len(), 1, "IPv4 only without IPv6");
    drop(holder);
    let _ = old;

    // Stopping frees every port, the proxied ones too.
    net.manager.deactivate("bnpweb").unwrap();
    assert!(http_get(SocketAddr::from((Ipv6Addr::LOCALHOST, lo))).is_err());
    assert!(http_get(SocketAddr::from((Ipv6Addr::LOCALHOST, both))).is_err());
    std::net::TcpListener::bind(("::1", lo)).expect("the proxy let go of the port");
    assert!(!net.nft_list().contains(&format!("{both} :")), "no DNAT left");
}

#[test]
fn recovery_rebuilds_ipv6_ports_and_proxies_and_removes_ipv6_leftovers() {
    let net = Net::new("bnq", 17, vec![]);
    let six = net.create_with(dual_stack("keep6"));
    let web = net.container("bnqweb", &[(&six, opts("web"))]);
    web.sandbox.serve_http(web.ip6(), 8080, "still here over ipv6");
    let (lo, all) = (free_port_run(1), free_port_run(1));
    let mappings = [format!("[::1]:{lo}:8080").parse().unwrap(), format!("[::]:{all}:8080").parse().unwrap()];
    net.manager.publish("bnqweb", &mappings).unwrap();
    let gateway6 = six.ipv6.unwrap().gateway;
    let lo_addr = SocketAddr::from((Ipv6Addr::LOCALHOST, lo));
    let all_addr = SocketAddr::from((gateway6, all));
    assert_eq!(http_get(lo_addr).as_deref(), Ok("still here over ipv6"));

    // A crash: the DNS and proxy process dies, the firewall table is lost, and
    // a half-made bridge with an IPv6 address (and its route) is left behind.
    let pid = std::fs::read_to_string(net.scratch().join("run/dns/server.pid")).unwrap();
    assert!(Command::new("kill").args(["-KILL", pid.trim()]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{}", pid.trim())).exists() {
        assert!(Instant::now() < deadline, "the DNS server {pid} did not die");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(Command::new("nft").args(["delete", "table", "inet", "bnq"]).status().unwrap().success());
    ip(&["link", "add", "bnq99", "type", "bridge"]);
    ip(&["link", "set", "bnq99", "alias", "berth:bnq:network:vanished"]);
    ip(&["-6", "addr", "add", "fd90:11:99::1/64", "dev", "bnq99", "nodad"]);
    ip(&["link", "set", "bnq99", "up"]);
    assert!(http_get(lo_addr).is_err() && http_get(all_addr).is_err(), "nothing serves the ports now");

    let live = HashSet::from(["bnqweb".to_string()]);
    let report = net.manager.recover(Some(&live)).unwrap();
    assert_eq!(report.removed_links, vec!["bnq99".to_string()]);
    assert_eq!(http_get(lo_addr).as_deref(), Ok("still here over ipv6"), "the proxy is back");
    assert_eq!(http_get(all_addr).as_deref(), Ok("still here over ipv6"), "the IPv6 DNAT is back");
    let client = net.container("bnqcli", &[(&six, opts("client"))]);
    assert!(ping6(&client, "web"), "names resolve over IPv6 again");
}

/// The bridge ports of a bridge (`ip -j link show master BRIDGE`): their names.
fn bridge_ports(bridge: &str) -> Vec<String> {
    let output = Command::new("ip").args(["-j", "link", "show", "master", bridge]).output().unwrap();
    let links: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    links.as_array().unwrap().iter().map(|l| l["ifname"].as_str().unwrap().to_string()).collect()
}

#[test]
fn containers_connect_and_release_in_parallel_and_a_failed_connection_is_undone_alone() {
    const COUNT: usize = 10;
    let net = Net::new("bnr", 18, vec![]);
    let network = net.create("par");
    // A second manager on the same state: its own database connection, as
    // another berth process has; the lock orders both managers' decisions.
    let other = NetworkManager::open(net.manager.config().clone()).unwrap();
    let ids: Vec<String> = (0..COUNT).map(|i| format!("bnrc{i}")).collect();
    let missing = net.scratch().join("no-such-netns");
    let start = Barrier::new(COUNT + 1);
    let (attached, failed) = std::thread::scope(|scope| {
        let workers: Vec<_> = (ids.iter().enumerate())
            .map(|(i, id)| {
                let manager = if i % 2 == 0 { &net.manager } else { &other };
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    let netns = manager.create_netns(id).unwrap();
                    let attachment = manager.connect(id, &netns, "par", &with_aliases(&format!("c{i}"), &["svc"]));
                    (netns, attachment.unwrap())
                })
            })
            .collect();
        // Its namespace does not exist: the veth cannot be made, after its lease was.
        let broken = scope.spawn(|| {
            start.wait();
            net.manager.connect("bnrbad", &missing, "par", &with_aliases("bad", &["svc"]))
        });
        let attached: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        (attached, broken.join().unwrap())
    });

    let err = failed.unwrap_err().to_string();
    assert!(err.contains("cannot open the network namespace") && err.contains("no-such-netns"), "{err}");
    assert!(net.manager.attachments("bnrbad").unwrap().is_empty(), "the failed one's lease is gone");
    let addresses: HashSet<Ipv4Addr> = attached.iter().map(|(_, a)| a.ipv4).collect();
    assert_eq!(addresses.len(), COUNT, "every container has an address of its own: {addresses:?}");
    assert!(addresses.iter().all(|ip| network.subnet.contains(ip) && *ip != network.gateway), "{addresses:?}");
    let mut leased: Vec<String> =
        net.manager.inspect_network("par").unwrap().containers.into_iter().map(|a| a.container_name).collect();
    leased.sort();
    let mut expected: Vec<String> = (0..COUNT).map(|i| format!("c{i}")).collect();
    expected.sort();
    assert_eq!(leased, expected, "the failed one left no lease");
    let mut ports = bridge_ports(&network.bridge);
    ports.sort();
    let mut veths: Vec<String> = attached.iter().map(|(_, a)| a.host_interface.clone()).collect();
    veths.sort();
    assert_eq!(ports, veths, "one veth per connected container on the bridge, none of the failed one");

    // Each is plumbed: eth0 and the default route in its namespace, reachable
    // from the first, and known by name to the DNS (the failed one is not).
    let first = Sandbox::new(&ids[0], attached[0].0.clone(), net.scratch());
    net.write_etc(&first, "c0");
    for (i, (netns, attachment)) in attached.iter().enumerate() {
        assert!(links_in(netns).contains(&"eth0".to_string()), "c{i}");
        assert_eq!(default_route(netns), (network.gateway.to_string(), "eth0".to_string()), "c{i}");
        let ip = attachment.ipv4.to_string();
        let ping = first.run(&["/bin/ping", "-c", "1", "-W", "2", &ip]);
        assert!(ping.status.success(), "c0 cannot ping c{i} at {ip}: {}", String::from_utf8_lossy(&ping.stdout));
        assert_eq!(answers(&first.nslookup(&format!("c{i}"))), vec![attachment.ipv4], "c{i}");
    }
    let replicas: HashSet<Ipv4Addr> = answers(&first.nslookup("svc")).into_iter().collect();
    assert_eq!(replicas, addresses, "the shared alias answers with every container, not the failed one");
    assert!(first.nslookup("bad").contains("NXDOMAIN"));
    drop(first);

    // And all go at once: leases, veths, namespaces and names.
    std::thread::scope(|scope| {
        for (i, id) in ids.iter().enumerate() {
            let manager = if i % 2 == 0 { &net.manager } else { &other };
            scope.spawn(move || manager.release(id).unwrap());
        }
    });
    assert!(net.manager.inspect_network("par").unwrap().containers.is_empty());
    for (netns, attachment) in &attached {
        assert!(!netns.exists(), "{} is still there", netns.display());
        wait_link_gone(&attachment.host_interface);
    }
    assert!(bridge_ports(&network.bridge).is_empty());
}
