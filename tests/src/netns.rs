//! Stand-ins for containers while the runtime is built elsewhere: a network
//! namespace made by berth's network manager, plus a busybox root directory
//! entered with chroot (so /etc/resolv.conf and /etc/hosts are the ones berth
//! generated). Processes in it are real and are killed by PID when it drops.

use std::fs::File;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sched::{CloneFlags, setns};

use crate::rootfs;

/// Every command in a sandbox runs under `timeout` so a hung client cannot hang the suite.
const COMMAND_TIMEOUT_SECS: &str = "20";

#[derive(Debug)]
pub struct Sandbox {
    pub id: String,
    pub netns: PathBuf,
    pub rootfs: PathBuf,
    children: Mutex<Vec<Child>>,
}

impl Sandbox {
    /// A busybox root under `scratch/<id>` for the namespace at `netns`.
    pub fn new(id: &str, netns: PathBuf, scratch: &Path) -> Self {
        let rootfs = scratch.join(format!("rootfs-{id}"));
        rootfs::busybox(&rootfs).expect("a busybox rootfs");
        // glibc's resolver in the static busybox: /etc/hosts first, then the DNS.
        std::fs::write(rootfs.join("etc/nsswitch.conf"), "hosts: files dns\n").expect("write nsswitch.conf");
        Sandbox { id: id.to_string(), netns, rootfs, children: Mutex::new(Vec::new()) }
    }

    /// Writes the container's /etc/resolv.conf and /etc/hosts.
    pub fn write_etc(&self, resolv_conf: &str, hosts: &str) {
        std::fs::write(self.rootfs.join("etc/resolv.conf"), resolv_conf).expect("write resolv.conf");
        std::fs::write(self.rootfs.join("etc/hosts"), hosts).expect("write hosts");
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("timeout");
        command
            .arg(COMMAND_TIMEOUT_SECS)
            .arg("nsenter")
            .arg(format!("--net={}", self.netns.display()))
            .arg("chroot")
            .arg(&self.rootfs)
            .args(args);
        command
    }

    /// Runs a command inside and waits for it.
    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).stdin(Stdio::null()).output().expect("nsenter runs")
    }

    /// Starts a long-running command inside (killed when the sandbox drops).
    pub fn spawn(&self, args: &[&str]) {
        // nsenter and chroot exec, so the child's PID is the program's.
        let mut command = Command::new("nsenter");
        command.arg(format!("--net={}", self.netns.display())).arg("chroot").arg(&self.rootfs).args(args);
        let child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn");
        self.children.lock().expect("not poisoned").push(child);
    }

    /// busybox httpd on `port` (every address of both families) serving
    /// `body` at `/`, reachable at `ip` (waited for).
    pub fn serve_http(&self, ip: impl Into<std::net::IpAddr>, port: u16, body: &str) {
        let www = format!("www{port}");
        std::fs::create_dir_all(self.rootfs.join(&www)).expect("web root");
        std::fs::write(self.rootfs.join(&www).join("index.html"), body).expect("index.html");
        self.spawn(&["/bin/httpd", "-f", "-p", &port.to_string(), "-h", &format!("/{www}")]);
        wait_tcp(SocketAddr::new(ip.into(), port));
    }

    /// An HTTP GET of `http://HOST[:PORT]/` (HOST may be `[IPv6]`) from inside: the body of a 200, or
    /// the error. (busybox `nc` carries the request: Debian's static busybox
    /// `wget` crashes in glibc's static NSS, with or without a name to resolve.)
    pub fn fetch(&self, url: &str) -> Result<String, String> {
        let authority = url.strip_prefix("http://").and_then(|rest| rest.split('/').next()).expect("an http:// URL");
        // An IPv6 address is bracketed: http://[fd89::2]:8080/.
        let (host, port) = match authority.strip_prefix('[').and_then(|rest| rest.split_once(']')) {
            Some((ip, rest)) => (ip, rest.strip_prefix(':').unwrap_or("80")),
            None => authority.split_once(':').unwrap_or((authority, "80")),
        };
        let mut child = self
            .command(&["/bin/nc", "-w", "3", host, port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nsenter runs");
        let request = format!("GET / HTTP/1.0\r\nHost: {host}\r\n\r\n");
        let _ = std::io::Write::write_all(&mut child.stdin.take().expect("piped"), request.as_bytes());
        let output = child.wait_with_output().expect("nc finishes");
        http_body(&String::from_utf8_lossy(&output.stdout))
            .map_err(|e| format!("{e} ({}; {})", output.status, String::from_utf8_lossy(&output.stderr).trim()))
    }

    /// `nslookup NAME` inside, with the resolv.conf berth wrote: stdout and stderr together.
    pub fn nslookup(&self, name: &str) -> String {
        let output = self.run(&["/bin/nslookup", name]);
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    }

    /// A UDP echo server on `port` inside the namespace (a thread of the test
    /// that joined it), until the returned guard drops.
    pub fn udp_echo(&self, port: u16) -> UdpEcho {
        let netns = File::open(&self.netns).expect("open the namespace");
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                setns(&netns, CloneFlags::CLONE_NEWNET).expect("join the namespace");
                // Every address of both families (an IPv6 socket takes IPv4 too).
                let socket = UdpSocket::bind(("::", port)).expect("bind the echo port");
                socket.set_read_timeout(Some(Duration::from_millis(50))).expect("a timeout");
                ready_tx.send(()).expect("the test waits");
                let mut buf = [0u8; 2048];
                while !stop.load(Ordering::Relaxed) {
                    if let Ok((n, peer)) = socket.recv_from(&mut buf) {
                        let _ = socket.send_to(&buf[..n], peer);
                    }
                }
            })
        };
        ready_rx.recv_timeout(Duration::from_secs(5)).expect("the echo server starts");
        UdpEcho { stop, thread: Some(thread) }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for mut child in self.children.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[derive(Debug)]
pub struct UdpEcho {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for UdpEcho {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits (at most 5 s) until something accepts TCP connections at `addr`.
pub fn wait_tcp(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {addr} after 5 s");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// One HTTP GET from the host (plain HTTP/1.0 over a socket): the body, or the error.
pub fn http_get(addr: SocketAddr) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3)).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(3))).map_err(|e| e.to_string())?;
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").map_err(|e| e.to_string())?;
    let mut response = String::new();
    stream.read_to_string(&mut response).map_err(|e| e.to_string())?;
    http_body(&response)
}

/// The body of an HTTP 200 response.
pub fn http_body(response: &str) -> Result<String, String> {
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.") && head.contains(" 200 ") => Ok(body.to_string()),
        _ => Err(format!("no HTTP 200 response: {response:?}")),
    }
}

/// One UDP round trip from the host: what came back, or the error.
pub fn udp_round_trip(addr: SocketAddr, payload: &[u8]) -> Result<Vec<u8>, String> {
    let local = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(local).map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
    socket.send_to(payload, addr).map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    let (n, _) = socket.recv_from(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf[..n].to_vec())
}
