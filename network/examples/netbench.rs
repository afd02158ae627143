//! The measuring side of bench/net-*.sh (root; real kernel). It works on a
//! state root and run directory of its own, with its own link prefix
//! (`bbench`) and address pool (10.250.0.0/16), and removes everything it made.
//!
//!   netbench serve PORT       a busybox httpd in a namespace, published on
//!                             127.0.0.1:PORT; prints the container address, then
//!                             waits for stdin to close and tears down
//!   netbench dns N            N sequential lookups of a container name from
//!                             inside a namespace: median and p99 in ms
//!   netbench attach N         N times: namespace + connect (veth, address, route,
//!                             DNS registration); median and p99 of connect
//!
//! It is also its own DNS server binary: `netbench __dns serve --dir ...`.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode};
use std::time::{Duration, Instant};

use berth_network::{ConnectOptions, DnsLauncher, NetworkConfig, NetworkManager, NetworkSpec, PortMapping, Upstreams};
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};
use nix::sched::{CloneFlags, setns};

const DNS_COMMAND: &str = "__dns";

fn manager(dir: &Path) -> NetworkManager {
    let launcher = DnsLauncher {
        program: std::env::current_exe().expect("the example's own path"),
        args: vec![DNS_COMMAND.into()],
    };
    let mut config = NetworkConfig::new(dir.join("root"), dir.join("run"), launcher);
    config.prefix = "bbench".into();
    config.pool = "10.250.0.0/16".parse().expect("a literal");
    config.upstreams = Upstreams::Explicit(vec![]);
    NetworkManager::open(config).expect("open the network manager")
}

/// A scratch directory removed at the end, with the manager's leftovers.
struct Scratch {
    dir: PathBuf,
    manager: NetworkManager,
    children: Vec<Child>,
}

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("berth-netbench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        let manager = manager(&dir);
        Scratch { dir, manager, children: Vec::new() }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Err(e) = self.manager.remove_everything() {
            eprintln!("netbench: cleanup: {e}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(what: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{what}: n={} median={:.3} ms p99={:.3} ms min={:.3} ms",
        samples.len(),
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        percentile(&samples, 0.0)
    );
}

fn serve(port: u16) {
    let mut scratch = Scratch::new();
    let network = scratch.manager.create_network(&NetworkSpec::named("bench")).expect("network");
    let netns = scratch.manager.create_netns("benchweb").expect("netns");
    let options = ConnectOptions { container_name: "web".into(), ..Default::default() };
    let attachment = scratch.manager.connect("benchweb", &netns, &network.name, &options).expect("connect");
    let www = scratch.dir.join("www");
    std::fs::create_dir_all(&www).expect("web root");
    std::fs::write(www.join("index.html"), "hello from berth\n").expect("index.html");
    let httpd = Command::new("nsenter")
        .arg(format!("--net={}", netns.display()))
        .args(["/bin/busybox", "httpd", "-f", "-p", "80", "-h"])
        .arg(&www)
        .spawn()
        .expect("httpd");
    scratch.children.push(httpd);
    let mapping: PortMapping = format!("127.0.0.1:{port}:80").parse().expect("a port mapping");
    scratch.manager.publish("benchweb", &[mapping]).expect("publish");
    println!("{}", attachment.ipv4);
    // Until the script closes our stdin.
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

fn dns(count: usize) {
    let scratch = Scratch::new();
    let network = scratch.manager.create_network(&NetworkSpec::named("bench")).expect("network");
    for (id, name) in [("benchweb", "web"), ("benchcli", "client")] {
        let netns = scratch.manager.create_netns(id).expect("netns");
        let options = ConnectOptions { container_name: name.into(), ..Default::default() };
        scratch.manager.connect(id, &netns, &network.name, &options).expect("connect");
    }
    let netns = File::open(scratch.manager.netns_path("benchcli")).expect("open netns");
    let gateway = SocketAddr::from((network.gateway, 53));
    let samples = std::thread::spawn(move || {
        setns(&netns, CloneFlags::CLONE_NEWNET).expect("setns");
        let socket = UdpSocket::bind("0.0.0.0:0").expect("bind");
        socket.connect(gateway).expect("connect");
        socket.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let mut samples = Vec::with_capacity(count);
        let mut buf = [0u8; 512];
        for i in 0..count + count / 10 {
            let mut query = Message::query();
            query.metadata.id = i as u16;
            query.metadata.recursion_desired = true;
            query.add_query(Query::query(Name::from_ascii("web.").expect("a name"), RecordType::A));
            let bytes = query.to_vec().expect("encode");
            let start = Instant::now();
            socket.send(&bytes).expect("send");
            let n = socket.recv(&mut buf).expect("an answer");
            let elapsed = start.elapsed();
            let answer = Message::from_vec(&buf[..n]).expect("decode");
            assert_eq!(answer.answers.len(), 1, "web resolves");
            // The first tenth warms up.
            if i >= count / 10 {
                samples.push(elapsed);
            }
        }
        samples
    })
    .join()
    .expect("the lookup thread");
    report("dns lookup (UDP, A, container name)", samples);
}

fn attach(count: usize) {
    let scratch = Scratch::new();
    let network = scratch.manager.create_network(&NetworkSpec::named("bench")).expect("network");
    let mut connect = Vec::with_capacity(count);
    let mut whole = Vec::with_capacity(count);
    for i in 0..count {
        let id = format!("bench{i}");
        let start = Instant::now();
        let netns = scratch.manager.create_netns(&id).expect("netns");
        let before_connect = Instant::now();
        let options = ConnectOptions { container_name: format!("c{i}"), ..Default::default() };
        scratch.manager.connect(&id, &netns, &network.name, &options).expect("connect");
        connect.push(before_connect.elapsed());
        whole.push(start.elapsed());
    }
    report("connect (veth + address + route + DNS registration)", connect);
    report("create_netns + connect", whole);
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == DNS_COMMAND) {
        return match berth_network::dns::serve_main(&args[1..]) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("netbench dns: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let number = |i: usize| args.get(i).and_then(|a| a.to_str()).and_then(|a| a.parse::<usize>().ok());
    match (args.first().and_then(|a| a.to_str()), number(1)) {
        (Some("serve"), Some(port)) => serve(u16::try_from(port).expect("a port")),
        (Some("dns"), Some(n)) if n > 0 => dns(n),
        (Some("attach"), Some(n)) if n > 0 => attach(n),
        _ => {
            eprintln!("usage: netbench serve PORT | dns N | attach N");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}
