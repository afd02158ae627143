//! The per-container monitor: `internal monitor <root> <run> <id> [attach]`,
//! forked by the single-threaded spawner (never a fork of a tokio process:
//! youki#3011; see [`super::spawner`]). It mounts the container's root file system in
//! a mount namespace of its own, starts the container through libcontainer,
//! holds its stdio, writes its log, serves its control socket, reaps it,
//! records the exit status, applies the restart policy, and outlives whoever
//! started it (its own session; all state on disk).

mod clients;
mod launch;
mod memory;

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::Utc;
use nix::fcntl::{Flock, FlockArg};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use self::clients::{Client, Input, MAX_BUFFERED, Role};
use self::launch::Running;
pub use self::launch::find_init_binary;
pub(crate) use self::launch::{clear_stale_runtime_state, receive_terminal, runtime_failure};
use super::cgroup::Cgroups;
use super::config::ContainerConfig;
use super::delete::Leftover;
use super::error::{ContainerError, StartFailure};
use super::id::ContainerId;
use super::layout::ContainerDir;
use super::logfile::{LogWriter, Stream};
use super::protocol::{ExitStatus, FrameKind, Reply, Request, StartReport, socket};
use super::signal::exit_code_for;
use super::state::{State, Status};
use crate::store::Root;

/// The hidden subcommand: `berth internal monitor ...`.
pub const SUBCOMMAND: &str = "monitor";

/// After the process exits, output still in the pipes is read for at most this long.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Docker's restart backoff: from 100 ms, doubling, at most a minute,
/// starting over once a run lasted 10 seconds.
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
const BACKOFF_RESET: Duration = Duration::from_secs(10);
/// A container still running this long after its start leaves an idle
/// monitor, which then drops the pages startup touched (`memory`). A shorter
/// run never pays for that.
const IDLE_AFTER: Duration = Duration::from_secs(1);

/// Which streams an attach client passed at start wants, as an argument (`stdin,stdout,stderr`).
pub fn attach_arg(stdin: bool, stdout: bool, stderr: bool) -> String {
    let names = [(stdin, "stdin"), (stdout, "stdout"), (stderr, "stderr")];
    let chosen: Vec<&str> = names.iter().filter(|(on, _)| *on).map(|(_, name)| *name).collect();
    if chosen.is_empty() { "none".into() } else { chosen.join(",") }
}

fn parse_attach(arg: &str) -> Role {
    let has = |name: &str| arg.split(',').any(|a| a == name);
    Role::Attach { stdin: has("stdin"), stdout: has("stdout"), stderr: has("stderr") }
}

/// Entry point. The starter passes the report pipe as stdout and, for an
/// attached start, one end of a socket pair as stdin. The spawner forked us in
/// `berth/monitors` of every cgroup hierarchy already.
pub fn main(args: &[OsString]) -> ExitCode {
    // A session of our own: no terminal hang-up or job-control signal reaches us.
    let _ = nix::unistd::setsid();
    let (report, attach) = match take_stdio() {
        Ok(fds) => fds,
        Err(_) => return ExitCode::FAILURE,
    };
    let mut report = Some(File::from(report));
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let result = match args.as_slice() {
        [root, run, id, rest @ ..] => match ContainerId::parse(id) {
            Some(id) => {
                let root = Root::new(root, run);
                let first = rest.first().map(|a| parse_attach(a));
                Monitor::open(root, id).and_then(|monitor| monitor.run(&mut report, first.zip(attach)))
            }
            None => Err(ContainerError::Internal(format!("bad container ID {id:?}"))),
        },
        _ => Err(ContainerError::Internal("usage: berth internal monitor ROOT RUN ID [ATTACH]".into())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            send_report(&mut report, &failure_report(&error));
            ExitCode::FAILURE
        }
    }
}

/// Keeps the report pipe (stdout) and the attach socket (stdin, if it is one)
/// and puts /dev/null in their place, so the container inherits neither.
fn take_stdio() -> io::Result<(OwnedFd, Option<UnixStream>)> {
    let report = io::stdout().as_fd().try_clone_to_owned()?;
    let stdin = io::stdin().as_fd().try_clone_to_owned()?;
    let is_socket = nix::sys::stat::fstat(stdin.as_raw_fd())
        .map(|st| st.st_mode & nix::libc::S_IFMT == nix::libc::S_IFSOCK)
        .unwrap_or(false);
    let null = File::options().read(true).write(true).open("/dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 0)?;
    nix::unistd::dup2(null.as_raw_fd(), 1)?;
    Ok((report, is_socket.then(|| UnixStream::from(stdin))))
}

fn failure_report(error: &ContainerError) -> StartReport {
    match error {
        ContainerError::StartFailed { kind, message } => StartReport::Failed { kind: *kind, message: message.clone() },
        other => StartReport::Failed { kind: StartFailure::Other, message: other.to_string() },
    }
}

fn send_report(report: &mut Option<File>, message: &StartReport) {
    if let Some(mut pipe) = report.take() {
        let mut line = serde_json::to_vec(message).unwrap_or_default();
        line.push(b'\n');
        let _ = pipe.write_all(&line);
    }
}

fn discard(removed: Option<Leftover>) {
    if let Some(Err(e)) = removed.map(Leftover::discard) {
        tracing::error!(error = %e, "cannot delete the files of the removed container");
    }
}

fn exit_status_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(exit_code_for(signal)),
        _ => None,
    }
}

struct Monitor {
    root: Root,
    dir: ContainerDir,
    config: ContainerConfig,
    state: State,
    /// Held for the monitor's life: how everyone else knows it runs.
    _lock: Flock<File>,
    signals: SignalFd,
    listener: UnixListener,
    clients: Vec<Client>,
    log: LogWriter,
    cgroups: Cgroups,
}

/// What the supervision of one run found.
struct Progress {
    exit: Option<i32>,
    stop_deadline: Option<Instant>,
    drain_deadline: Option<Instant>,
    pending_stdin: Vec<u8>,
    /// The attached input ended: close the container's stdin once `pending_stdin` is written.
    stdin_ending: bool,
    /// When to drop the pages startup touched, if the container still runs.
    idle_deadline: Option<Instant>,
}

impl Monitor {
    fn open(root: Root, id: ContainerId) -> Result<Monitor, ContainerError> {
        let dir = ContainerDir::new(&root, &id);
        let io_err = |what, path: &std::path::Path| {
            let path = path.to_path_buf();
            move |e| ContainerError::io(what, path, e)
        };
        let config: ContainerConfig = serde_json::from_slice(
            &std::fs::read(dir.container_json()).map_err(io_err("cannot read", &dir.container_json()))?,
        )
        .map_err(|e| ContainerError::Corrupt { id: id.to_string(), what: e.to_string() })?;
        let lock_file = File::create(dir.monitor_lock()).map_err(io_err("cannot create", &dir.monitor_lock()))?;
        let lock = Flock::lock(lock_file, FlockArg::LockExclusiveNonblock)
            .map_err(|_| ContainerError::AlreadyRunning(id.to_string()))?;
        let mut mask = SigSet::empty();
        for signal in [Signal::SIGCHLD, Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT] {
            mask.add(signal);
        }
        mask.thread_block().map_err(|e| ContainerError::Internal(format!("cannot block signals: {e}")))?;
        let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
            .map_err(|e| ContainerError::Internal(format!("cannot make a signalfd: {e}")))?;
        let listener =
            socket::bind(&dir.control_socket()).map_err(io_err("cannot listen on", &dir.control_socket()))?;
        listener.set_nonblocking(true).map_err(io_err("cannot set up", &dir.control_socket()))?;
        let log = LogWriter::open(&dir, config.log).map_err(io_err("cannot open", &dir.log()))?;
        let cgroups = Cgroups::detect().map_err(io_err("cannot read", std::path::Path::new("/sys/fs/cgroup")))?;
        let state = State::load(&dir).map_err(io_err("cannot read", &dir.state_json()))?;
        Ok(Monitor { root, dir, config, state, _lock: lock, signals, listener, clients: Vec::new(), log, cgroups })
    }

    fn save_state(&self) {
        if let Err(e) = self.state.save(&self.dir) {
            tracing::error!(error = %e, "cannot record the container's state");
        }
    }

    fn run(mut self, report: &mut Option<File>, first: Option<(Role, UnixStream)>) -> Result<(), ContainerError> {
        if let Some((role, stream)) = first {
            self.clients.push(Client::new(stream, role).map_err(|e| ContainerError::Internal(e.to_string()))?);
        }
        if let Err(error) = launch::prepare_rootfs(&self.root, &self.dir, &self.config) {
            self.record_failure(&error);
            discard(self.finish_removing());
            return Err(error);
        }
        let mut backoff = BACKOFF_START;
        loop {
            let started = Instant::now();
            let running = match launch::launch(&self.root, &self.dir, &self.config, self.cgroups.setup) {
                Ok(running) => running,
                Err(error) => {
                    // Removed (`--rm`) before the report: whoever started us
                    // then sees the container gone, and frees its network.
                    self.record_failure(&error);
                    discard(self.finish_removing());
                    send_report(report, &failure_report(&error));
                    self.finish(&Reply::Error(error.to_string()));
                    return Ok(());
                }
            };
            self.state.status = Status::Running;
            self.state.pid = running.pid.as_raw();
            self.state.monitor_pid = std::process::id() as i32;
            self.state.started_at = Some(Utc::now());
            self.state.error.clear();
            self.state.stopped_by_user = false;
            self.save_state();
            send_report(report, &StartReport::Started { pid: running.pid.as_raw() });

            let status = self.supervise(running);
            self.state.exit_code = status.exit_code;
            self.state.oom_killed = status.oom_killed;
            self.state.finished_at = Some(Utc::now());
            self.state.pid = 0;
            let restart = self.config.restart.should_restart(
                status.exit_code,
                self.state.restart_count,
                self.state.stopped_by_user,
            );
            if restart {
                if started.elapsed() >= BACKOFF_RESET {
                    backoff = BACKOFF_START;
                }
                self.state.status = Status::Restarting;
                self.state.restart_count += 1;
                self.save_state();
                // Attached clients and waiters see each run end.
                self.finish(&Reply::Exited(status));
                if self.wait_to_restart(backoff) {
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            }
            // Clients hear of the exit only once it is recorded (and, with
            // --rm, once the container is gone; its files go after).
            self.state.status = Status::Exited;
            self.state.monitor_pid = 0;
            let removed = self.finish_removing();
            if removed.is_none() {
                self.save_state();
            }
            self.finish(&Reply::Exited(status));
            discard(removed);
            return Ok(());
        }
    }

    /// A start that failed leaves the container created (or exited, if it
    /// ran before) with the error and Docker's exit code recorded.
    fn record_failure(&mut self, error: &ContainerError) {
        let code = error.exit_code() as i32;
        self.state.status = if self.state.started_at.is_some() { Status::Exited } else { Status::Created };
        self.state.error = error.to_string();
        self.state.exit_code = code;
        self.state.pid = 0;
        self.state.monitor_pid = 0;
        self.save_state();
    }

    /// Sends `reply` to every client and lets them go.
    fn finish(&mut self, reply: &Reply) {
        for client in &mut self.clients {
            client.finish(reply);
            client.flush_before_exit();
        }
        self.clients.clear();
    }

    /// `--rm`: the container goes when its process does (the anonymous
    /// volumes with it); what is left are its files, moved aside. `None` when
    /// it was not to be removed or could not be.
    fn finish_removing(&mut self) -> Option<Leftover> {
        if !self.config.auto_remove {
            return None;
        }
        // The overlay stays mounted (in this monitor's namespace only, on the
        // shared mount point) until the monitor exits: unmounting costs an RCU
        // grace period the user would wait for.
        super::delete::remove_all(&self.root, self.dir.id(), &self.config, true)
            .inspect_err(|e| tracing::error!(error = %e, "cannot remove the container"))
            .ok()
    }

    /// Between runs: serves clients until the backoff is over. False if a
    /// `stop` or `kill` came meanwhile (the container stays stopped).
    fn wait_to_restart(&mut self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        loop {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            let mut fds = [PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(until - now).unwrap_or(PollTimeout::MAX);
            if nix::poll::poll(&mut fds, timeout).is_err() {
                continue;
            }
            let _ = self.signals.read_signal();
            while let Ok((stream, _)) = self.listener.accept() {
                let Ok(mut client) = Client::new(stream, Role::Pending) else { continue };
                // A short blocking read: the request line follows the connection at once.
                let _ = client.stream.set_nonblocking(false);
                let _ = client.stream.set_read_timeout(Some(Duration::from_secs(1)));
                let request = read_request_line(&mut client.stream);
                let _ = client.stream.set_nonblocking(true);
                match request {
                    Some(Request::Stop { .. }) | Some(Request::Kill { .. }) => {
                        self.state.stopped_by_user = true;
                        client.role = Role::Waiter;
                        self.clients.push(client);
                        return false;
                    }
                    Some(Request::Attach { stdin, stdout, stderr }) => {
                        client.role = Role::Attach { stdin, stdout, stderr };
                        self.clients.push(client);
                    }
                    Some(Request::Wait) => {
                        client.role = Role::Waiter;
                        self.clients.push(client);
                    }
                    Some(Request::Resize { .. }) | None => {
                        client.role = Role::Waiter;
                        client.finish(&Reply::Error("the container is restarting".into()));
                        client.flush_before_exit();
                    }
                }
            }
        }
    }

    /// Runs the event loop while the container runs; returns how it ended.
    fn supervise(&mut self, mut running: Running) -> ExitStatus {
        let mut progress = Progress {
            exit: None,
            stop_deadline: None,
            idle_deadline: Some(Instant::now() + IDLE_AFTER),
            drain_deadline: None,
            pending_stdin: Vec::new(),
            stdin_ending: false,
        };
        loop {
            let now = Instant::now();
            if progress.exit.is_some() && running.stdout.is_none() && running.stderr.is_none() {
                break;
            }
            if progress.drain_deadline.is_some_and(|deadline| now >= deadline) {
                break;
            }
            if progress.stdin_ending && progress.pending_stdin.is_empty() {
                running.stdin = None;
            }
            if progress.idle_deadline.is_some_and(|deadline| now >= deadline) {
                progress.idle_deadline = None;
                memory::release_startup_pages();
            }
            if progress.stop_deadline.is_some_and(|deadline| now >= deadline) {
                progress.stop_deadline = None;
                let _ = nix::sys::signal::kill(running.pid, Signal::SIGKILL);
            }
            self.poll_once(&mut running, &mut progress);
        }
        let _ = self.log.flush_partial();
        let cgroup = self.cgroups.container(self.dir.id());
        let oom_killed = cgroup.oom_kills().is_ok_and(|kills| kills > 0);
        if let Err(e) = launch::release(&self.dir, &cgroup) {
            tracing::error!(error = %e, "cannot release the container's runtime state");
        }
        ExitStatus { exit_code: progress.exit.unwrap_or(255), oom_killed }
    }

    fn poll_once(&mut self, running: &mut Running, progress: &mut Progress) {
        #[derive(Clone, Copy)]
        enum Slot {
            Signals,
            Listener,
            Stdout,
            Stderr,
            Stdin,
            Client(usize),
        }
        let held_back = self.clients.iter().any(|c| c.output.len() > MAX_BUFFERED);
        let mut slots = vec![Slot::Signals, Slot::Listener];
        let mut fds = vec![
            PollFd::new(self.signals.as_fd(), PollFlags::POLLIN),
            PollFd::new(self.listener.as_fd(), PollFlags::POLLIN),
        ];
        if !held_back {
            if let Some(out) = &running.stdout {
                slots.push(Slot::Stdout);
                fds.push(PollFd::new(out.as_fd(), PollFlags::POLLIN));
            }
            if let Some(err) = &running.stderr {
                slots.push(Slot::Stderr);
                fds.push(PollFd::new(err.as_fd(), PollFlags::POLLIN));
            }
        }
        if let Some(stdin) = &running.stdin
            && !progress.pending_stdin.is_empty()
        {
            slots.push(Slot::Stdin);
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLOUT));
        }
        for (index, client) in self.clients.iter().enumerate() {
            let mut flags = PollFlags::empty();
            if !client.closing {
                flags |= PollFlags::POLLIN;
            }
            if !client.output.is_empty() {
                flags |= PollFlags::POLLOUT;
            }
            slots.push(Slot::Client(index));
            fds.push(PollFd::new(client.stream.as_fd(), flags));
        }
        let deadline =
            [progress.stop_deadline, progress.drain_deadline, progress.idle_deadline].into_iter().flatten().min();
        let timeout = match deadline {
            Some(deadline) => {
                PollTimeout::try_from(deadline.saturating_duration_since(Instant::now())).unwrap_or(PollTimeout::MAX)
            }
            None => PollTimeout::NONE,
        };
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => return,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "poll failed");
                return;
            }
        }
        let ready: Vec<(Slot, PollFlags)> =
            slots.into_iter().zip(fds.iter().map(|fd| fd.revents().unwrap_or(PollFlags::empty()))).collect();
        drop(fds);
        let mut buffer = [0u8; 32 * 1024];
        for (slot, events) in ready {
            if events.is_empty() {
                continue;
            }
            match slot {
                Slot::Signals => self.reap(running, progress),
                Slot::Listener => self.accept(),
                Slot::Stdout | Slot::Stderr => {
                    let (source, stream, kind) = match slot {
                        Slot::Stdout => (&mut running.stdout, Stream::Stdout, FrameKind::Stdout),
                        _ => (&mut running.stderr, Stream::Stderr, FrameKind::Stderr),
                    };
                    let Some(file) = source else { continue };
                    match file.read(&mut buffer) {
                        Ok(0) => *source = None,
                        Ok(n) => self.output(stream, kind, &buffer[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                        // EIO: the terminal's last user is gone.
                        Err(_) => *source = None,
                    }
                }
                Slot::Stdin => {
                    let Some(stdin) = &mut running.stdin else { continue };
                    match stdin.write(&progress.pending_stdin) {
                        Ok(n) => {
                            progress.pending_stdin.drain(..n);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => {}
                        Err(_) => {
                            running.stdin = None;
                            progress.pending_stdin.clear();
                        }
                    }
                }
                Slot::Client(index) => self.serve_client(index, events, running, progress),
            }
        }
        self.clients.retain(|client| !(client.closing && client.output.is_empty()));
    }

    fn reap(&mut self, running: &Running, progress: &mut Progress) {
        while self.signals.read_signal().ok().flatten().is_some() {}
        loop {
            match nix::sys::wait::waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => {
                    if status.pid() == Some(running.pid)
                        && let Some(code) = exit_status_of(status)
                    {
                        progress.exit = Some(code);
                        progress.stop_deadline = None;
                        progress.drain_deadline = Some(Instant::now() + DRAIN_TIMEOUT);
                    }
                }
            }
        }
    }

    fn accept(&mut self) {
        while let Ok((stream, _)) = self.listener.accept() {
            match Client::new(stream, Role::Pending) {
                Ok(client) => self.clients.push(client),
                Err(e) => tracing::warn!(error = %e, "cannot take a client"),
            }
        }
    }

    fn output(&mut self, stream: Stream, kind: FrameKind, data: &[u8]) {
        if let Err(e) = self.log.write(stream, data) {
            tracing::error!(error = %e, "cannot write the container log");
        }
        for client in &mut self.clients {
            if client.wants(kind) && !client.closing {
                client.frame(kind, data);
                if client.flush().is_err() {
                    client.closing = true;
                    client.output.clear();
                }
            }
        }
    }

    fn serve_client(&mut self, index: usize, events: PollFlags, running: &mut Running, progress: &mut Progress) {
        if events.contains(PollFlags::POLLOUT) && self.clients[index].flush().is_err() {
            self.drop_client(index, running, progress);
            return;
        }
        if !events.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR) {
            return;
        }
        let inputs = match self.clients[index].read() {
            Ok(Some(inputs)) => inputs,
            Ok(None) | Err(_) => {
                self.drop_client(index, running, progress);
                return;
            }
        };
        for input in inputs {
            match input {
                Input::Request(request) => self.request(index, request, running, progress),
                Input::Frame(FrameKind::Stdin, data) => {
                    let Role::Attach { stdin: true, .. } = self.clients[index].role else { continue };
                    if data.is_empty() {
                        // The client's input ended: so does the container's, unless it has a terminal.
                        if running.tty.is_none() {
                            progress.stdin_ending = true;
                        }
                    } else if running.stdin.is_some() {
                        progress.pending_stdin.extend_from_slice(&data);
                    }
                }
                Input::Frame(FrameKind::Resize, data) if data.len() == 4 => {
                    resize(running, u16::from_be_bytes([data[0], data[1]]), u16::from_be_bytes([data[2], data[3]]));
                }
                Input::Frame(..) => {}
            }
        }
    }

    /// A client that went away; if it fed the container's stdin, that input ends.
    fn drop_client(&mut self, index: usize, running: &Running, progress: &mut Progress) {
        let client = &mut self.clients[index];
        if matches!(client.role, Role::Attach { stdin: true, .. }) && running.tty.is_none() {
            progress.stdin_ending = true;
        }
        client.closing = true;
        client.output.clear();
    }

    fn request(&mut self, index: usize, request: Request, running: &mut Running, progress: &mut Progress) {
        let signal_of = |number: i32| Signal::try_from(number).map_err(|_| format!("invalid signal {number}"));
        let reply = match request {
            Request::Attach { .. } => None,
            Request::Wait => {
                self.clients[index].role = Role::Waiter;
                None
            }
            Request::Stop { signal, timeout_secs } => {
                self.clients[index].role = Role::Waiter;
                match signal_of(signal) {
                    Ok(signal) if progress.exit.is_none() => {
                        self.state.stopped_by_user = true;
                        self.save_state();
                        let _ = nix::sys::signal::kill(running.pid, signal);
                        let deadline = Instant::now() + Duration::from_secs(timeout_secs.into());
                        progress.stop_deadline = Some(progress.stop_deadline.map_or(deadline, |d| d.min(deadline)));
                        None
                    }
                    Ok(_) => None,
                    Err(message) => Some(Reply::Error(message)),
                }
            }
            Request::Kill { signal } => Some(match signal_of(signal) {
                Ok(signal) => {
                    self.state.stopped_by_user = true;
                    self.save_state();
                    match nix::sys::signal::kill(running.pid, signal) {
                        Ok(()) => Reply::Done,
                        Err(e) => Reply::Error(format!("cannot send {signal}: {e}")),
                    }
                }
                Err(message) => Reply::Error(message),
            }),
            Request::Resize { rows, cols } => Some(if running.tty.is_some() {
                resize(running, rows, cols);
                Reply::Done
            } else {
                Reply::Error("the container has no terminal".into())
            }),
        };
        if let Some(reply) = reply {
            let client = &mut self.clients[index];
            client.role = Role::Waiter;
            client.finish(&reply);
            let _ = client.flush();
        }
    }
}

fn resize(running: &Running, rows: u16, cols: u16) {
    if let Some(tty) = &running.tty {
        let size = rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        if let Err(e) = rustix::termios::tcsetwinsize(tty, size) {
            tracing::warn!(error = %e, "cannot resize the terminal");
        }
    }
}

/// Reads one request line from a blocking stream.
fn read_request_line(stream: &mut UnixStream) -> Option<Request> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 64 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) if byte[0] == b'\n' => return serde_json::from_slice(&line).ok(),
            Ok(1) => line.push(byte[0]),
            _ => return None,
        }
    }
    None
}
