//! The DNS server process: one per run directory, serving every network's
//! gateway on port 53, and the ports published on IPv6 loopback (`proxy`). It
//! outlives the CLI and the daemon (containers keep resolving, and stay
//! reachable, while berth restarts), takes its table from the files under its
//! directory, and swaps the table whole on reload (control socket or SIGHUP).
//! It exits when no network and no proxied port has been left for a while
//! ([`LINGER`]): a stack taken down and brought up again finds it running.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use nix::fcntl::{Flock, FlockArg};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket, UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::task::AbortHandle;

use super::files::{self, DnsFileError, NetworkFile, Proxy, ServerConfig};
use super::forward;
use super::proxy::Running;
use super::resolve::{Outcome, Table, Transport};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot {what} {path}: {source}")]
    Io { what: &'static str, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Table(#[from] DnsFileError),
}

pub(crate) fn control_path(dir: &Path) -> PathBuf {
    dir.join("control.sock")
}

/// How often the server checks that its run directory still exists: a server
/// whose directory was deleted (a test's, a reset) has nobody left to stop it.
const ORPHAN_CHECK: Duration = Duration::from_secs(5);
/// With nothing left to serve, the server waits this long for work before it
/// exits: starting one costs two execs and a reload (~15 ms) in the `up` of a
/// stack after its `down`.
const LINGER: Duration = Duration::from_secs(60);

/// How long a TCP client may stay idle between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// The listeners of one gateway address; dropping it stops them.
#[derive(Debug)]
struct Listener {
    udp: AbortHandle,
    tcp: AbortHandle,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.udp.abort();
        self.tcp.abort();
    }
}

/// Runs the server in `dir` until no network is left or SIGTERM. Returns at
/// once (Ok) if another server already holds the directory's lock.
pub fn run(dir: &Path) -> Result<(), ServeError> {
    fn io_err(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ServeError {
        let path = path.to_path_buf();
        move |source| ServeError::Io { what, path, source }
    }
    std::fs::create_dir_all(dir).map_err(io_err("create", dir))?;
    let lock_path = dir.join("server.lock");
    let lock_file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err("open", &lock_path))?;
    let _lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, nix::Error::EWOULDBLOCK)) => {
            tracing::debug!(dir = %dir.display(), "another DNS server runs here");
            return Ok(());
        }
        Err((_, e)) => return Err(io_err("lock", &lock_path)(e.into())),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io_err("start the DNS runtime for", dir))?;
    let result = runtime.block_on(serve(dir));
    let _ = std::fs::remove_file(control_path(dir));
    let _ = std::fs::remove_file(dir.join("server.pid"));
    result
}

async fn serve(dir: &Path) -> Result<(), ServeError> {
    let control = control_path(dir);
    // We hold the lock: a socket file left here belongs to a dead server.
    let _ = std::fs::remove_file(&control);
    let listener = UnixListener::bind(&control).map_err(|source| ServeError::Io {
        what: "listen on",
        path: control.clone(),
        source,
    })?;
    let pid_path = dir.join("server.pid");
    std::fs::write(&pid_path, format!("{}\n", std::process::id())).map_err(|source| ServeError::Io {
        what: "write",
        path: pid_path,
        source,
    })?;
    let mut hangup = signal(SignalKind::hangup()).map_err(|source| ServeError::Io {
        what: "handle SIGHUP in",
        path: dir.into(),
        source,
    })?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|source| ServeError::Io {
        what: "handle SIGTERM in",
        path: dir.into(),
        source,
    })?;

    let mut state = State::load(dir).await?;
    tracing::info!(dir = %dir.display(), gateways = state.listeners.len(), "DNS server started");
    let mut watchdog = tokio::time::interval(ORPHAN_CHECK);
    let mut idle_since: Option<tokio::time::Instant> = None;
    loop {
        let idle = state.table.load().gateways().next().is_none() && state.proxies.is_empty();
        idle_since = if idle { Some(idle_since.unwrap_or_else(tokio::time::Instant::now)) } else { None };
        let linger = async {
            match idle_since {
                Some(since) => tokio::time::sleep_until(since + LINGER).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = linger => {
                tracing::info!("no network and no proxied port left for {} s; the DNS server stops", LINGER.as_secs());
                return Ok(());
            }
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                if state.control_command(stream).await == Command::Stop {
                    return Ok(());
                }
            }
            _ = hangup.recv() => {
                if let Err(e) = state.reload_all().await {
                    tracing::warn!(error = %e, "reload on SIGHUP failed");
                }
            }
            _ = terminate.recv() => return Ok(()),
            _ = watchdog.tick() => {
                if !control.exists() {
                    tracing::info!("the run directory is gone; the DNS server stops");
                    return Ok(());
                }
            }
        }
    }
}

/// The files as last read, the table made from them, the listeners and the proxies.
#[derive(Debug)]
struct State {
    dir: PathBuf,
    config: ServerConfig,
    files: BTreeMap<String, NetworkFile>,
    table: Arc<ArcSwap<Table>>,
    listeners: HashMap<Ipv4Addr, Listener>,
    proxies: HashMap<Proxy, Running>,
}

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Continue,
    Stop,
}

impl State {
    async fn load(dir: &Path) -> Result<Self, DnsFileError> {
        let (config, networks) = files::load(dir)?;
        let files = networks.into_iter().map(|f| (f.id.clone(), f)).collect();
        let table = Arc::new(ArcSwap::from_pointee(Table::new(&config, &[])));
        let mut state =
            State { dir: dir.to_path_buf(), config, files, table, listeners: HashMap::new(), proxies: HashMap::new() };
        state.publish();
        if let Err(e) = state.reconcile_proxies().await {
            tracing::warn!(error = %e, "some published ports cannot be proxied");
        }
        Ok(state)
    }

    /// Swaps in a table made from the files as read, and listens accordingly.
    fn publish(&mut self) {
        let files: Vec<NetworkFile> = self.files.values().cloned().collect();
        self.table.store(Arc::new(Table::new(&self.config, &files)));
        reconcile(&self.table, &mut self.listeners);
    }

    /// Proxies exactly the ports of the proxies file: the ones gone are closed
    /// first (their ports may be the new ones'). A port that cannot be bound is
    /// an error for the manager, which then undoes the publishing.
    async fn reconcile_proxies(&mut self) -> Result<(), String> {
        let wanted = files::load_proxies(&self.dir).map_err(|e| e.to_string())?;
        let gone: Vec<Proxy> = self.proxies.keys().filter(|p| !wanted.contains(p)).copied().collect();
        for proxy in gone {
            if let Some(running) = self.proxies.remove(&proxy) {
                running.stop().await;
            }
        }
        let mut failed = Vec::new();
        for proxy in wanted {
            if self.proxies.contains_key(&proxy) {
                continue;
            }
            match Running::start(proxy) {
                Ok(running) => {
                    self.proxies.insert(proxy, running);
                }
                Err(e) => failed.push(format!("cannot listen on [::1]:{}/{}: {e}", proxy.port, proxy.protocol)),
            }
        }
        if failed.is_empty() { Ok(()) } else { Err(failed.join("; ")) }
    }

    async fn reload_all(&mut self) -> Result<(), String> {
        let (config, networks) = files::load(&self.dir).map_err(|e| e.to_string())?;
        self.config = config;
        self.files = networks.into_iter().map(|f| (f.id.clone(), f)).collect();
        self.publish();
        self.reconcile_proxies().await
    }

    /// Re-reads the config (small; the host's resolvers may have changed), the
    /// proxies and only the network files of `ids` (what one change touched).
    async fn reload_networks(&mut self, ids: &[&str]) -> Result<(), String> {
        if let Some(bad) = ids.iter().find(|id| !id.bytes().all(|b| b.is_ascii_hexdigit())) {
            return Err(format!("{bad:?} is not a network id"));
        }
        self.config = files::load_config(&self.dir).map_err(|e| e.to_string())?;
        for id in ids {
            match files::load_network(&self.dir, id).map_err(|e| e.to_string())? {
                Some(file) => self.files.insert(id.to_string(), file),
                None => self.files.remove(*id),
            };
        }
        self.publish();
        self.reconcile_proxies().await
    }

    /// One line in, one line out: `reload [NETWORK-ID...]` -> `ok` (the table
    /// is live when the manager reads it) or `error: ...`; `stop` -> `ok`, then
    /// the server exits.
    async fn control_command(&mut self, stream: UnixStream) -> Command {
        let (read, mut write) = stream.into_split();
        let mut line = String::new();
        let read = tokio::time::timeout(Duration::from_secs(2), BufReader::new(read).read_line(&mut line)).await;
        let words: Vec<&str> = line.split_whitespace().collect();
        let (result, command) = match (read, words.as_slice()) {
            (Ok(Ok(_)), ["reload"]) => (self.reload_all().await, Command::Continue),
            (Ok(Ok(_)), ["reload", ids @ ..]) => (self.reload_networks(ids).await, Command::Continue),
            (Ok(Ok(_)), ["stop"]) => (Ok(()), Command::Stop),
            _ => (Err(format!("unknown command {:?}", line.trim())), Command::Continue),
        };
        let answer = match result {
            Ok(()) => "ok\n".to_string(),
            Err(e) => format!("error: {e}\n"),
        };
        let _ = write.write_all(answer.as_bytes()).await;
        command
    }
}

/// Listens on every gateway of the table and on nothing else.
fn reconcile(table: &Arc<ArcSwap<Table>>, listeners: &mut HashMap<Ipv4Addr, Listener>) {
    let wanted: Vec<Ipv4Addr> = table.load().gateways().collect();
    listeners.retain(|gateway, _| wanted.contains(gateway));
    for gateway in wanted {
        if listeners.contains_key(&gateway) {
            continue;
        }
        match listen(gateway, table) {
            Ok(listener) => {
                listeners.insert(gateway, listener);
            }
            // The next reload tries again (the bridge may be coming back after a crash).
            Err(e) => tracing::warn!(%gateway, error = %e, "cannot listen for DNS"),
        }
    }
}

fn listen(gateway: Ipv4Addr, table: &Arc<ArcSwap<Table>>) -> std::io::Result<Listener> {
    let address = SocketAddr::from((gateway, 53));
    let udp = std::net::UdpSocket::bind(address)?;
    udp.set_nonblocking(true)?;
    let tcp = std::net::TcpListener::bind(address)?;
    tcp.set_nonblocking(true)?;
    let udp = Arc::new(UdpSocket::from_std(udp)?);
    let tcp = TcpListener::from_std(tcp)?;
    Ok(Listener {
        udp: tokio::spawn(serve_udp(udp, gateway, Arc::clone(table))).abort_handle(),
        tcp: tokio::spawn(serve_tcp(tcp, gateway, Arc::clone(table))).abort_handle(),
    })
}

async fn serve_udp(socket: Arc<UdpSocket>, gateway: Ipv4Addr, table: Arc<ArcSwap<Table>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let (len, client) = match socket.recv_from(&mut buf).await {
            Ok(received) => received,
            Err(e) => {
                // ICMP errors of earlier replies surface here; they concern nobody now.
                tracing::debug!(error = %e, "DNS receive");
                continue;
            }
        };
        let query = &buf[..len];
        match table.load().handle(query, client.ip(), gateway, Transport::Udp) {
            Outcome::Reply(answer) => {
                let _ = socket.send_to(&answer, client).await;
            }
            Outcome::Forward(upstreams) => {
                let socket = Arc::clone(&socket);
                let query = query.to_vec();
                tokio::spawn(async move {
                    let answer = forward::udp(&query, &upstreams).await;
                    let _ = socket.send_to(&answer, client).await;
                });
            }
            Outcome::Drop => {}
        }
    }
}

async fn serve_tcp(listener: TcpListener, gateway: Ipv4Addr, table: Arc<ArcSwap<Table>>) {
    loop {
        let Ok((mut stream, client)) = listener.accept().await else { continue };
        let table = Arc::clone(&table);
        tokio::spawn(async move {
            while let Ok(Ok(query)) = tokio::time::timeout(TCP_IDLE, forward::read_frame(&mut stream)).await {
                let outcome = table.load().handle(&query, client.ip(), gateway, Transport::Tcp);
                let answer = match outcome {
                    Outcome::Reply(answer) => answer,
                    Outcome::Forward(upstreams) => forward::tcp(&query, &upstreams).await,
                    Outcome::Drop => return,
                };
                if forward::write_frame(&mut stream, &answer).await.is_err() {
                    return;
                }
            }
        });
    }
}
