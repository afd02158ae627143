//! The monitor spawner: `berth internal spawner`, one small single-threaded
//! process per daemon that forks a container's monitor on request.
//!
//! Why not start each monitor as a new process of the berth binary: two costs
//! on every start's critical path. The exec of a big binary (dynamic linking,
//! relocations: ~7 ms here) and the monitor's move out of its starter's cgroup
//! into `berth/monitors` (a cgroup migration waits for an RCU grace period:
//! 7–20 ms here). The spawner moves once, when it starts; a fork inherits its
//! cgroups and needs no exec. Forking is safe because the spawner never has a
//! second thread (youki#3011 is about forking tokio processes).
//!
//! The daemon talks to it over a `SOCK_SEQPACKET` pair: one message per
//! request (the monitor's arguments, with its stdin, stdout and stderr as
//! `SCM_RIGHTS`) and one per reply (the monitor's PID). The spawner reaps the
//! monitors it forked; whoever waits for one watches it by pidfd or its
//! control socket. When the daemon goes (its end of the pair closes), the
//! spawner exits; the monitors keep running.

use std::ffi::OsString;
use std::io::{self, IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::process::{Child, ExitCode, Stdio};
use std::sync::Mutex;

use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::{ForkResult, Pid};
use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags, SocketFlags, SocketType,
};
use serde::{Deserialize, Serialize};

use super::cgroup::leave_starters_cgroup;
use super::containers::HelperCommand;
use super::error::ContainerError;
use super::monitor;
use super::proctitle;
use crate::store::Root;

/// The hidden subcommand: `berth internal spawner`.
pub const SUBCOMMAND: &str = "spawner";

/// A request or reply never comes near this; bigger messages are refused.
const MAX_MESSAGE: usize = 16 * 1024;
/// stdin, stdout and stderr of the monitor.
const STDIO: usize = 3;

#[derive(Debug, Serialize, Deserialize)]
struct SpawnRequest {
    /// The monitor's arguments (after `internal monitor`).
    args: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
enum SpawnReply {
    Spawned { pid: i32 },
    Failed { message: String },
}

/// The monitor's standard streams, passed to it as they are.
#[derive(Debug)]
pub struct MonitorStdio {
    pub stdin: OwnedFd,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The daemon's handle on its spawner, started on first use and again if it
/// died. Shared by every caller; one request at a time (a fork takes well
/// under a millisecond).
#[derive(Debug)]
pub struct MonitorSpawner {
    helper: HelperCommand,
    /// The state root its monitors serve (shown in its command line).
    root: Root,
    connection: Mutex<Option<Connection>>,
}

#[derive(Debug)]
struct Connection {
    /// `None` only while dropping.
    socket: Option<OwnedFd>,
    process: Child,
}

impl Drop for Connection {
    fn drop(&mut self) {
        // Closing our end tells the spawner to exit; then collect it.
        drop(self.socket.take());
        let _ = self.process.wait();
    }
}

fn internal(message: impl std::fmt::Display) -> ContainerError {
    ContainerError::Internal(format!("monitor spawner: {message}"))
}

impl MonitorSpawner {
    pub fn new(helper: HelperCommand, root: Root) -> MonitorSpawner {
        MonitorSpawner { helper, root, connection: Mutex::new(None) }
    }

    /// The binary (and arguments) helpers run as.
    pub fn helper(&self) -> &HelperCommand {
        &self.helper
    }

    /// Forks a monitor with `args` (those of `internal monitor`) and `stdio`; its PID.
    pub fn spawn(&self, args: &[String], stdio: MonitorStdio) -> Result<i32, ContainerError> {
        let message = serde_json::to_vec(&SpawnRequest { args: args.to_vec() }).map_err(internal)?;
        let fds = [stdio.stdin.as_fd(), stdio.stdout.as_fd(), stdio.stderr.as_fd()];
        let mut connection = self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        // A spawner that died (killed, say) is replaced once, transparently.
        for attempt in 0..2 {
            if connection.is_none() {
                *connection = Some(self.start_spawner()?);
            }
            let socket = connection.as_ref().and_then(|c| c.socket.as_ref()).expect("started just now");
            match exchange(socket, &message, &fds) {
                Ok(SpawnReply::Spawned { pid }) => return Ok(pid),
                Ok(SpawnReply::Failed { message }) => return Err(internal(message)),
                Err(error) if attempt == 0 => {
                    tracing::warn!(%error, "the monitor spawner is gone; starting another");
                    *connection = None;
                }
                Err(error) => return Err(internal(error)),
            }
        }
        unreachable!("the loop returns on its second attempt")
    }

    fn start_spawner(&self) -> Result<Connection, ContainerError> {
        let (ours, theirs) =
            rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
                .map_err(internal)?;
        let mut command = self.helper.command(SUBCOMMAND);
        // The state root's paths tell spawners apart in `ps`; they also give
        // a monitor room to show its own arguments (see `proctitle`).
        command.arg(self.root.root()).arg(self.root.run());
        command.env_clear().stdin(Stdio::from(theirs)).stdout(Stdio::null());
        if let Some(level) = std::env::var_os("BERTH_LOG") {
            command.env("BERTH_LOG", level);
        }
        let process = command.spawn().map_err(|e| internal(format!("{}: {e}", self.helper.program.display())))?;
        Ok(Connection { socket: Some(ours), process })
    }
}

/// Sends one request with `fds` and reads the reply.
fn exchange(socket: &OwnedFd, message: &[u8], fds: &[BorrowedFd<'_>]) -> io::Result<SpawnReply> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(STDIO))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    control.push(SendAncillaryMessage::ScmRights(fds));
    rustix::net::sendmsg(socket, &[IoSlice::new(message)], &mut control, SendFlags::NOSIGNAL)?;
    let mut buffer = vec![0u8; MAX_MESSAGE];
    let mut no_control = RecvAncillaryBuffer::default();
    let received =
        rustix::net::recvmsg(socket, &mut [IoSliceMut::new(&mut buffer)], &mut no_control, RecvFlags::CMSG_CLOEXEC)?;
    if received.bytes == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the spawner closed its socket"));
    }
    serde_json::from_slice(&buffer[..received.bytes]).map_err(io::Error::other)
}

/// The spawner's entry point (`ROOT RUN`, shown only); its stdin is its end
/// of the socket pair.
pub fn main(_args: &[OsString]) -> ExitCode {
    // Out of the daemon's session (a terminal's signals do not reach us) and,
    // once, out of its cgroups: every monitor forked from here starts there.
    let _ = nix::unistd::setsid();
    leave_starters_cgroup();
    match serve() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "the monitor spawner failed");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> io::Result<()> {
    // SAFETY: fd 0 is the socket our parent passed as stdin; nothing else owns it.
    #[allow(unsafe_code)]
    let socket = unsafe { OwnedFd::from_raw_fd(0) };
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.thread_block().map_err(io::Error::from)?;
    let children = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
    let mut buffer = vec![0u8; MAX_MESSAGE];
    loop {
        let mut fds =
            [PollFd::new(socket.as_fd(), PollFlags::POLLIN), PollFd::new(children.as_fd(), PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, PollTimeout::NONE) {
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
            Ok(_) => {}
        }
        let (request_ready, child_exited) = (fds[0].any().unwrap_or(false), fds[1].any().unwrap_or(false));
        if child_exited {
            reap(&children);
        }
        if !request_ready {
            continue;
        }
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(STDIO))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let received =
            rustix::net::recvmsg(&socket, &mut [IoSliceMut::new(&mut buffer)], &mut control, RecvFlags::CMSG_CLOEXEC)?;
        if received.bytes == 0 {
            // The daemon is gone.
            return Ok(());
        }
        let mut stdio: Vec<OwnedFd> = Vec::with_capacity(STDIO);
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmRights(fds) = message {
                stdio.extend(fds);
            }
        }
        let reply = match serde_json::from_slice::<SpawnRequest>(&buffer[..received.bytes]) {
            Ok(request) if stdio.len() == STDIO => fork_monitor(&request.args, stdio, &socket, &children),
            Ok(_) => SpawnReply::Failed { message: format!("expected {STDIO} descriptors, got {}", stdio.len()) },
            Err(e) => SpawnReply::Failed { message: format!("bad request: {e}") },
        };
        let bytes = serde_json::to_vec(&reply).map_err(io::Error::other)?;
        rustix::net::send(&socket, &bytes, SendFlags::NOSIGNAL)?;
    }
}

fn reap(children: &SignalFd) {
    while let Ok(Some(_)) = children.read_signal() {}
    while let Ok(status) = nix::sys::wait::waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Forks; the child becomes the monitor, with `stdio` as its fds 0, 1 and 2
/// and nothing else of the spawner's.
#[allow(unsafe_code)]
fn fork_monitor(args: &[String], stdio: Vec<OwnedFd>, socket: &OwnedFd, children: &SignalFd) -> SpawnReply {
    // SAFETY: the spawner is single-threaded (it never starts a thread), so
    // the child is a complete copy of a consistent process.
    match unsafe { nix::unistd::fork() } {
        Ok(ForkResult::Parent { child }) => SpawnReply::Spawned { pid: child.as_raw() },
        Ok(ForkResult::Child) => {
            let code = become_monitor(args, stdio, &[socket.as_raw_fd(), children.as_raw_fd()]);
            std::process::exit(code)
        }
        Err(e) => SpawnReply::Failed { message: format!("fork: {e}") },
    }
}

fn become_monitor(args: &[String], stdio: Vec<OwnedFd>, spawners: &[RawFd]) -> i32 {
    for (target, fd) in stdio.into_iter().enumerate() {
        if nix::unistd::dup2(fd.as_raw_fd(), target as RawFd).is_err() {
            return 1;
        }
        // The received copy closes here (it never is 0, 1 or 2: the spawner holds those).
    }
    // The spawner's socket and signalfd are not the monitor's (fd 0 was the
    // socket and is stdin now).
    for &fd in spawners.iter().filter(|&&fd| fd > 2) {
        let _ = nix::unistd::close(fd);
    }
    if SigSet::empty().thread_set_mask().is_err() {
        return 1;
    }
    // `ps` shows a monitor as one, with its container's short ID.
    let arg0 = std::env::args().next().unwrap_or_else(|| "berth".into());
    let id = args.get(2).map_or("", |id| id.get(..12).unwrap_or(id));
    proctitle::set("berth-monitor", &[&arg0, "internal", monitor::SUBCOMMAND, id]);
    let args: Vec<OsString> = args.iter().map(OsString::from).collect();
    match monitor::main(&args) {
        code if code == ExitCode::SUCCESS => 0,
        _ => 1,
    }
}
