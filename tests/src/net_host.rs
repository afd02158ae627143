//! Host-side pieces of the network suite: the guard that keeps forwarded test
//! traffic off the uplink, a second host address, an "outside" host (a network
//! namespace of the test's own behind a veth), and the check that a test left
//! nothing behind. These use `ip` and `nft` as a user would: they are the
//! independent witness of what berth did, not part of berth.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program} cannot run: {e}"))
}

fn ok(program: &str, args: &[&str]) -> String {
    let output = run(program, args);
    assert!(
        output.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The interfaces the host's default routes (IPv4 and IPv6) leave by, from the kernel's own tables.
fn uplinks() -> Vec<String> {
    let table = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let mut out: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.len() > 7 && fields[1] == "00000000" && fields[7] == "00000000").then(|| fields[0].to_string())
        })
        .collect();
    // ::/0 routes, but the kernel's "unreachable" ones on lo.
    let table6 = std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default();
    out.extend(table6.lines().filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let default = fields.len() == 10 && fields[0].bytes().all(|b| b == b'0') && fields[1] == "00";
        (default && fields[9] != "lo").then(|| fields[9].to_string())
    }));
    out.sort();
    out.dedup();
    out
}

/// While it lives, forwarded traffic leaving by the host's uplink is rejected
/// (its own nftables table), so no test packet can leave the machine.
#[derive(Debug)]
pub struct UplinkGuard {
    table: String,
}

impl UplinkGuard {
    pub fn install(table: &str) -> Self {
        let uplinks = uplinks();
        let rule = if uplinks.is_empty() {
            String::new()
        } else {
            let names = uplinks.iter().map(|u| format!("\"{u}\"")).collect::<Vec<_>>().join(", ");
            format!("oifname {{ {names} }} counter reject\n")
        };
        let script = format!(
            "table inet {table} {{\n chain forward {{\n type filter hook forward priority -10; policy accept;\n {rule} }}\n}}\n"
        );
        let mut child =
            Command::new("nft").args(["-f", "-"]).stdin(std::process::Stdio::piped()).spawn().expect("nft runs");
        std::io::Write::write_all(&mut child.stdin.take().expect("piped"), script.as_bytes()).expect("nft reads");
        assert!(child.wait().expect("nft exits").success(), "the uplink guard could not be installed");
        UplinkGuard { table: table.to_string() }
    }
}

impl Drop for UplinkGuard {
    fn drop(&mut self) {
        let _ = run("nft", &["delete", "table", "inet", &self.table]);
    }
}

/// A second address of the host (IPv4 or IPv6), on a link of the test's own.
/// (This kernel has no `dummy` driver, so the link is an empty bridge: local
/// delivery works the same.)
#[derive(Debug)]
pub struct HostAddress {
    link: String,
    pub ip: IpAddr,
}

impl HostAddress {
    pub fn add(link: &str, ip: impl Into<IpAddr>) -> Self {
        let ip = ip.into();
        ok("ip", &["link", "add", link, "type", "bridge"]);
        let guard = HostAddress { link: link.to_string(), ip };
        match ip {
            IpAddr::V4(ip) => ok("ip", &["addr", "add", &format!("{ip}/32"), "dev", link]),
            // Without duplicate address detection: usable at once.
            IpAddr::V6(ip) => ok("ip", &["addr", "add", &format!("{ip}/128"), "dev", link, "nodad"]),
        };
        ok("ip", &["link", "set", link, "up"]);
        guard
    }
}

impl Drop for HostAddress {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.link]);
    }
}

/// A host outside berth's networks: a namespace of the test's own joined to
/// the host by a veth (host side `<name>h`, address `host_ip/30`; inside
/// `peer_ip/30`, default route via the host).
#[derive(Debug)]
pub struct OutsideHost {
    name: String,
    pub host_ip: Ipv4Addr,
    pub ip: Ipv4Addr,
    children: Vec<Child>,
}

impl OutsideHost {
    pub fn create(name: &str, host_ip: Ipv4Addr, ip: Ipv4Addr) -> Self {
        ok("ip", &["netns", "add", name]);
        let guard = OutsideHost { name: name.to_string(), host_ip, ip, children: Vec::new() };
        let host_link = format!("{name}h");
        ok("ip", &["link", "add", &host_link, "type", "veth", "peer", "name", "eth0", "netns", name]);
        ok("ip", &["addr", "add", &format!("{host_ip}/30"), "dev", &host_link]);
        ok("ip", &["link", "set", &host_link, "up"]);
        ok("ip", &["-n", name, "addr", "add", &format!("{ip}/30"), "dev", "eth0"]);
        ok("ip", &["-n", name, "link", "set", "eth0", "up"]);
        ok("ip", &["-n", name, "link", "set", "lo", "up"]);
        ok("ip", &["-n", name, "route", "add", "default", "via", &host_ip.to_string()]);
        guard
    }

    pub fn netns(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// IPv6 on the link too: `host_ip/64` on the host side, `ip/64` inside,
    /// and no route beyond that link: only masqueraded traffic can be answered.
    pub fn add_ipv6(&self, host_ip: Ipv6Addr, ip: Ipv6Addr) {
        let host_link = format!("{}h", self.name);
        ok("ip", &["addr", "add", &format!("{host_ip}/64"), "dev", &host_link, "nodad"]);
        ok("ip", &["-n", &self.name, "addr", "add", &format!("{ip}/64"), "dev", "eth0", "nodad"]);
    }

    /// An HTTP GET of `http://ip:port/` from the outside host: the body of a 200, or the error.
    pub fn fetch(&self, ip: Ipv4Addr, port: u16) -> Result<String, String> {
        let mut child = Command::new("timeout")
            .args(["20", "nsenter", &format!("--net={}", self.netns().display())])
            .args(["/bin/busybox", "nc", "-w", "3", &ip.to_string(), &port.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("nsenter runs");
        let _ = std::io::Write::write_all(&mut child.stdin.take().expect("piped"), b"GET / HTTP/1.0\r\n\r\n");
        let output = child.wait_with_output().expect("nc finishes");
        crate::netns::http_body(&String::from_utf8_lossy(&output.stdout))
    }

    /// busybox httpd on `port` serving `body` (killed when the host drops), waited for.
    pub fn serve_http(&mut self, port: u16, body: &str, scratch: &Path) {
        let www = scratch.join(format!("{}-www{port}", self.name));
        std::fs::create_dir_all(&www).expect("web root");
        std::fs::write(www.join("index.html"), body).expect("index.html");
        let child = Command::new("nsenter")
            .arg(format!("--net={}", self.netns().display()))
            .args(["/bin/busybox", "httpd", "-f", "-p", &port.to_string(), "-h"])
            .arg(&www)
            .spawn()
            .expect("httpd starts");
        self.children.push(child);
        crate::netns::wait_tcp(std::net::SocketAddr::from((self.ip, port)));
    }
}

impl Drop for OutsideHost {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = run("ip", &["link", "del", &format!("{}h", self.name)]);
        let _ = run("ip", &["netns", "del", &self.name]);
    }
}

/// Everything of a test still on the host: links and nftables tables named
/// with `prefix`, addresses and routes (IPv4 and IPv6) for which `ours` is
/// true, mounts and namespace files under `run_dir`, a DNS server still
/// running from `run_dir`.
pub fn leftovers(prefix: &str, ours: &dyn Fn(IpAddr) -> bool, run_dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let links: serde_json::Value = serde_json::from_str(&ok("ip", &["-d", "-j", "link", "show"])).expect("ip -j");
    for link in links.as_array().into_iter().flatten() {
        let name = link["ifname"].as_str().unwrap_or_default();
        if name.starts_with(prefix) {
            found.push(format!("link {name}"));
        }
    }
    let addrs: serde_json::Value = serde_json::from_str(&ok("ip", &["-j", "addr", "show"])).expect("ip -j");
    for link in addrs.as_array().into_iter().flatten() {
        for info in link["addr_info"].as_array().into_iter().flatten() {
            if let Some(ip) = info["local"].as_str().and_then(|s| s.parse::<IpAddr>().ok())
                && ours(ip)
            {
                found.push(format!("address {ip} on {}", link["ifname"]));
            }
        }
    }
    for family in ["-4", "-6"] {
        let routes: serde_json::Value =
            serde_json::from_str(&ok("ip", &[family, "-j", "route", "show", "table", "all"])).expect("ip -j");
        for route in routes.as_array().into_iter().flatten() {
            let dst = route["dst"].as_str().unwrap_or_default();
            let address = dst.split('/').next().unwrap_or_default();
            if let Ok(ip) = address.parse::<IpAddr>()
                && ours(ip)
            {
                found.push(format!("route {dst} dev {}", route["dev"]));
            }
        }
    }
    for line in ok("nft", &["list", "tables"]).lines() {
        if line.split_whitespace().last().is_some_and(|t| t.starts_with(prefix)) {
            found.push(line.to_string());
        }
    }
    let run_dir = run_dir.to_string_lossy();
    for line in std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default().lines() {
        if line.contains(run_dir.as_ref()) {
            found.push(format!("mount {line}"));
        }
    }
    let netns_dir = Path::new(run_dir.as_ref()).join("netns");
    for entry in std::fs::read_dir(netns_dir).into_iter().flatten().flatten() {
        found.push(format!("netns file {}", entry.path().display()));
    }
    // The DNS server exits by itself once its last network is gone; give it a moment.
    let pid_file = Path::new(run_dir.as_ref()).join("dns/server.pid");
    let deadline = Instant::now() + Duration::from_secs(3);
    while let Some(pid) = std::fs::read_to_string(&pid_file).ok().map(|p| p.trim().to_string()) {
        if !Path::new("/proc").join(&pid).exists() {
            break;
        }
        if Instant::now() > deadline {
            found.push(format!("DNS server process {pid}"));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    found
}
