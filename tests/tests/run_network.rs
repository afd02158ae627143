//! `run` and `create` on networks, as Docker users write them (root, the real
//! kernel): the default bridge, user networks where containers find each other
//! by name and alias, `--link`, `-p` and `-P`, `--add-host`, `--dns`; ports
//! freed by `stop` and published again by `start`; a container's veth and
//! address gone with it (`--rm`, `rm`). Every command goes through the test
//! root's own daemon, with its own network prefix and address pool.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use berth_tests::berth::TestRoot;
use berth_tests::images;
use berth_tests::net_host::UplinkGuard;
use berth_tests::netns::http_get;
use berth_tests::registry::{Registry, free_port};

/// A root with the busybox image, its daemon started, and outbound traffic of
/// its containers stopped at the uplink.
struct World {
    root: TestRoot,
    _registry: Registry,
    _uplink: UplinkGuard,
}

/// A shell command that serves `body` over HTTP on port 80 from the container.
fn serve(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")
}

impl World {
    fn new(guard: &str) -> World {
        let uplink = UplinkGuard::install(guard);
        let root = TestRoot::new();
        let registry = images::busybox_in(&root);
        World { root, _registry: registry, _uplink: uplink }
    }

    fn ok(&self, args: &[&str]) -> String {
        self.root.ok(args)
    }

    /// (exit code, stdout, stderr)
    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let output = self.root.berth(args);
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// Waits (at most 5 s) until this root has `count` veths: the daemon frees
    /// a `run --rm` container's network once it has seen the container end.
    fn expect_veths(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.veths().len() != count {
            assert!(Instant::now() < deadline, "expected {count} veths, found {:?}", self.veths());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The host ends of this root's veth pairs.
    fn veths(&self) -> Vec<String> {
        let output = std::process::Command::new("ip").args(["-j", "link", "show", "type", "veth"]).output().unwrap();
        let links: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        links
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["ifname"].as_str())
            .filter(|name| name.starts_with(self.root.prefix()))
            .map(str::to_owned)
            .collect()
    }
}

/// Polls an HTTP GET of `addr` until it answers 200, for at most 10 s.
fn fetch(addr: SocketAddr) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http_get(addr) {
            Ok(body) => return body,
            Err(error) => {
                assert!(Instant::now() < deadline, "{addr} never answered: {error}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[test]
fn published_ports_follow_the_container() {
    let world = World::new("rn1guard");
    let port = free_port();
    let publish = format!("127.0.0.1:{port}:80");
    world.ok(&["run", "-d", "--name", "web", "-p", &publish, "busybox", "sh", "-c", &serve("from-web")]);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert_eq!(fetch(addr), "from-web\n");
    assert_eq!(world.ok(&["port", "web", "80"]), format!("127.0.0.1:{port}\n"));
    assert_eq!(world.ok(&["port", "web"]), format!("80/tcp -> 127.0.0.1:{port}\n"));
    let ps = world.ok(&["ps", "--format", "{{.Names}} {{.Ports}}"]);
    assert_eq!(ps, format!("web 127.0.0.1:{port}->80/tcp\n"));

    // -p 80: an ephemeral host port, reported by `port`.
    world.ok(&["run", "-d", "--name", "eph", "-p", "80", "busybox", "sh", "-c", &serve("from-eph")]);
    let reported = world.ok(&["port", "eph", "80/tcp"]);
    let (ip, host_port) = reported.trim().rsplit_once(':').unwrap();
    assert_eq!(ip, "0.0.0.0");
    assert_eq!(fetch(SocketAddr::from(([127, 0, 0, 1], host_port.parse().unwrap()))), "from-eph\n");

    // A port in use is a clear error before the container runs.
    let (code, _, stderr) = world.run(&["run", "-d", "--name", "clash", "-p", &publish, "busybox", "true"]);
    assert_eq!(code, 125, "{stderr}");
    assert!(stderr.contains(&format!("port {port}/tcp is already in use")), "{stderr}");
    assert_eq!(fetch(addr), "from-web\n", "the clash changed nothing");

    // stop frees the port; start publishes it again.
    world.ok(&["stop", "-t", "1", "web"]);
    assert!(http_get(addr).is_err(), "a stopped container's port still answers");
    world.ok(&["start", "web"]);
    assert_eq!(fetch(addr), "from-web\n");

    // Removing the containers removes their veths.
    // web, eph and the created clash each have one.
    world.expect_veths(3);
    for name in ["web", "eph", "clash"] {
        world.ok(&["rm", "-f", name]);
    }
    assert!(world.veths().is_empty(), "veths left: {:?}", world.veths());
}

#[test]
fn names_aliases_and_links_resolve() {
    let world = World::new("rn2guard");
    world.ok(&["network", "create", "appnet"]);
    world.ok(&["network", "create", "othernet"]);
    world.ok(&[
        "run",
        "-d",
        "--name",
        "api",
        "--network",
        "appnet",
        "--network-alias",
        "backend",
        "busybox",
        "sh",
        "-c",
        &serve("from-api"),
    ]);
    // (busybox's `wget -T` crashes: the tests rely on its default timeout and on NXDOMAIN coming at once.)
    let get =
        |network: &str, url: &str| world.run(&["run", "--rm", "--network", network, "busybox", "wget", "-qO-", url]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, _, stderr) = get("appnet", "http://api/");
        if code == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "api never answered: {stderr}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get("appnet", "http://backend/").1, "from-api\n", "by alias");
    assert_eq!(get("appnet", "http://api/").1, "from-api\n", "by name");
    let (code, _, stderr) = get("othernet", "http://api/");
    assert_ne!(code, 0, "reached api from another network: {stderr}");

    // The default bridge has no names, but --link writes the alias into /etc/hosts.
    world.ok(&["run", "-d", "--name", "web", "busybox", "sh", "-c", &serve("from-web")]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, out, _) = world.run(&["run", "--rm", "--link", "web:w", "busybox", "wget", "-qO-", "http://w/"]);
        if code == 0 {
            assert_eq!(out, "from-web\n");
            break;
        }
        assert!(Instant::now() < deadline, "web never answered through its link");
        std::thread::sleep(Duration::from_millis(100));
    }

    // --add-host and --dns write the container's /etc/hosts and /etc/resolv.conf.
    let hosts = world.ok(&["run", "--rm", "--add-host", "db.local:10.1.2.3", "busybox", "cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l.split_whitespace().collect::<Vec<_>>() == ["10.1.2.3", "db.local"]), "{hosts}");
    let resolv = world.ok(&[
        "run",
        "--rm",
        "--dns",
        "10.9.9.9",
        "--dns-search",
        "example.test",
        "busybox",
        "cat",
        "/etc/resolv.conf",
    ]);
    assert!(resolv.contains("nameserver 10.9.9.9") && resolv.contains("search example.test"), "{resolv}");

    // `run --rm` containers left nothing: only api's and web's veths remain.
    world.expect_veths(2);
    // A network with a container attached is not removed.
    let (code, _, stderr) = world.run(&["network", "rm", "appnet"]);
    assert_ne!(code, 0);
    assert!(stderr.contains("api") || stderr.contains("attached") || stderr.contains("in use"), "{stderr}");
    world.ok(&["rm", "-f", "api", "web"]);
    world.ok(&["network", "rm", "appnet", "othernet"]);
    assert!(world.veths().is_empty(), "veths left: {:?}", world.veths());
}

#[test]
fn ipv6_networks_serve_names_ports_and_inspect_as_docker() {
    let world = World::new("rn3guard");
    world.ok(&["network", "create", "--ipv6", "v6net"]);
    let network: serde_json::Value = serde_json::from_str(&world.ok(&["network", "inspect", "v6net"])).unwrap();
    assert_eq!(network[0]["EnableIPv6"], true, "{network}");
    let subnet6 = network[0]["IPAM"]["Config"][1]["Subnet"].as_str().unwrap().to_string();
    let gateway6 = network[0]["IPAM"]["Config"][1]["Gateway"].as_str().unwrap().to_string();
    // A fixed address in the pool's first /64 (`--ip6`).
    let fixed = subnet6.replace("::/64", "::10");
    let (lo, both) = (free_port(), free_port());
    let on_loopback = format!("[::1]:{lo}:80");
    let everywhere = format!("{both}:80");
    world.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "--network",
        "v6net",
        "--ip6",
        &fixed,
        "-p",
        &on_loopback,
        "-p",
        &everywhere,
        "busybox",
        "sh",
        "-c",
        &serve("from-web6"),
    ]);
    assert_eq!(fetch(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, lo))), "from-web6\n");
    assert_eq!(fetch(SocketAddr::from(([127, 0, 0, 1], both))), "from-web6\n");
    assert_eq!(fetch(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, both))), "from-web6\n");
    let ports = world.ok(&["port", "web", "80"]);
    let mut shown: Vec<&str> = ports.lines().collect();
    shown.sort_unstable();
    let mut expected = [format!("0.0.0.0:{both}"), format!("[::1]:{lo}"), format!("[::]:{both}")];
    expected.sort_unstable();
    assert_eq!(shown, expected, "{ports}");

    // inspect: the network's name as NetworkMode, both families per network.
    let inspected: serde_json::Value = serde_json::from_str(&world.ok(&["inspect", "web"])).unwrap();
    assert_eq!(inspected[0]["HostConfig"]["NetworkMode"], "v6net");
    let endpoint = &inspected[0]["NetworkSettings"]["Networks"]["v6net"];
    assert_eq!(endpoint["GlobalIPv6Address"], fixed.as_str(), "{endpoint}");
    assert_eq!(endpoint["GlobalIPv6PrefixLen"], 64);
    assert_eq!(endpoint["IPv6Gateway"], gateway6.as_str());
    let bindings = inspected[0]["NetworkSettings"]["Ports"]["80/tcp"].as_array().unwrap();
    assert!(bindings.contains(&serde_json::json!({ "HostIp": "::1", "HostPort": lo.to_string() })), "{bindings:?}");
    let format = world.ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "web"]);
    assert_eq!(format, "v6net\n");

    // Other containers on the network find web by name over IPv6 (AAAA, ping -6).
    let lookup = world.ok(&["run", "--rm", "--network", "v6net", "busybox", "nslookup", "-type=AAAA", "web"]);
    assert!(lookup.contains(&fixed), "{lookup}");
    let (code, _, stderr) =
        world.run(&["run", "--rm", "--network", "v6net", "busybox", "ping", "-6", "-c", "1", "web"]);
    assert_eq!(code, 0, "ping -6 web: {stderr}");
    let hosts = world.ok(&["exec", "web", "cat", "/etc/hosts"]);
    assert!(hosts.lines().any(|l| l.starts_with(&format!("{fixed}\t"))), "{hosts}");

    // The default bridge and `none` are named as Docker names them.
    world.ok(&["create", "--name", "plain", "busybox", "true"]);
    world.ok(&["create", "--name", "alone", "--network", "none", "busybox", "true"]);
    assert_eq!(world.ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "plain"]), "bridge\n");
    assert_eq!(world.ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "alone"]), "none\n");
    let plain: serde_json::Value = serde_json::from_str(&world.ok(&["inspect", "plain"])).unwrap();
    assert_eq!(plain[0]["NetworkSettings"]["Networks"]["bridge"]["GlobalIPv6Address"], "");

    // `network connect --ip6` gives a fixed address on another IPv6 network.
    world.ok(&["network", "create", "--ipv6", "--subnet", "fd91:77:1::/64", "v6b"]);
    world.ok(&["network", "connect", "--ip6", "fd91:77:1::77", "v6b", "plain"]);
    let connected: serde_json::Value = serde_json::from_str(&world.ok(&["inspect", "plain"])).unwrap();
    assert_eq!(connected[0]["NetworkSettings"]["Networks"]["v6b"]["GlobalIPv6Address"], "fd91:77:1::77");
    assert_eq!(connected[0]["HostConfig"]["NetworkMode"], "bridge", "the first network stays the mode");

    // --ip6 on a network without IPv6 is a clear error.
    let (code, _, stderr) = world.run(&["create", "--ip6", &fixed, "busybox", "true"]);
    assert_eq!(code, 125, "{stderr}");
    assert!(stderr.contains("network bridge has no IPv6"), "{stderr}");

    world.ok(&["rm", "-f", "web", "plain", "alone"]);
    assert!(http_get(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, lo))).is_err(), "the proxy let go");
    world.ok(&["network", "rm", "v6net", "v6b"]);
    assert!(world.veths().is_empty(), "veths left: {:?}", world.veths());
}
