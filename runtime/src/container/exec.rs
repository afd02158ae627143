//! `exec`: a process in a running container (all its namespaces, its cgroup,
//! its capabilities and seccomp filter). It is started by a small helper
//! process (`berth internal exec ...`, single-threaded: libcontainer forks)
//! that has the caller's stdio, waits for the process and exits with its
//! status; with a TTY it relays between its stdio and the terminal.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, ExitCode};

use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use oci_spec::runtime::{Process, Spec, UserBuilder};
use serde::{Deserialize, Serialize};

use super::config::env_key;
use super::containers::Containers;
use super::error::{ContainerError, StartFailure};
use super::executor::BerthExecutor;
use super::id::ContainerId;
use super::layout::ContainerDir;
use super::protocol::{self, ExitStatus, FrameKind, Reply, socket};
use super::rootfs;
use super::seccomp::bpf::CompiledFilter;
use super::signal::exit_code_for;
use super::state::{State, Status};
use crate::store::Root;

/// The hidden subcommand: `berth internal exec ROOT RUN ID OPTIONS-JSON`.
pub const SUBCOMMAND: &str = "exec";

/// Docker's exit code when the process could not be started.
const EXEC_FAILED: u8 = 126;

/// `exec` options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    /// `-e KEY=VALUE`, on top of the container's environment.
    pub env: Vec<String>,
    /// `-w`; the container's working directory when absent.
    pub working_dir: Option<String>,
    /// `-u`; the container's user when absent.
    pub user: Option<String>,
    /// `-t`
    pub tty: bool,
    /// `-i`: pass stdin (otherwise the process reads /dev/null).
    pub interactive: bool,
}

/// The helper's argument after the options when its stdin is a Unix socket
/// carrying the attach protocol (frames both ways) instead of plain stdio.
const ATTACH_ARG: &str = "attach";

impl Containers {
    /// The helper command that runs `options` in the container with the
    /// caller's stdio (no terminal: `-t` needs [`Containers::exec_attached`]).
    /// The caller gives it stdio and waits for it; its exit code is the
    /// process's (126 if it could not be started).
    pub fn exec_command(&self, reference: &str, options: &ExecOptions) -> Result<Command, ContainerError> {
        if options.tty {
            return Err(super::options::OptionError::new("exec", "-t", "a terminal needs an attached exec").into());
        }
        self.helper_command(reference, options)
    }

    /// The helper command that runs `options` in the container, and the
    /// stream its stdio travels on: frames of the attach protocol, as a
    /// container's monitor speaks it (input and window size in; output and,
    /// last, the exit status out). The caller starts and reaps the command.
    pub fn exec_attached(
        &self,
        reference: &str,
        options: &ExecOptions,
    ) -> Result<(Command, UnixStream), ContainerError> {
        let mut command = self.helper_command(reference, options)?;
        let (ours, theirs) =
            UnixStream::pair().map_err(|e| ContainerError::Internal(format!("cannot make a socket pair: {e}")))?;
        command.arg(ATTACH_ARG).stdin(OwnedFd::from(theirs)).stdout(std::process::Stdio::null());
        Ok((command, ours))
    }

    fn helper_command(&self, reference: &str, options: &ExecOptions) -> Result<Command, ContainerError> {
        let record = self.lookup(reference)?;
        match self.state(&record)?.status {
            Status::Paused => return Err(ContainerError::ExecPaused(reference.to_string())),
            status if !status.is_active() => return Err(ContainerError::NotRunning(record.name)),
            _ => {}
        }
        if options.cmd.is_empty() {
            return Err(super::options::OptionError::new("exec", "", "no command specified").into());
        }
        let json = serde_json::to_string(options).map_err(|e| ContainerError::Internal(e.to_string()))?;
        let mut command = self.helper().command(SUBCOMMAND);
        command.arg(self.root.root()).arg(self.root.run()).arg(record.id.as_str()).arg(json);
        Ok(command)
    }
}

/// Where the process's stdio goes.
enum Io {
    /// The helper's own stdio, passed on.
    Inherit,
    /// Frames on this stream (the helper's stdin).
    Attach(UnixStream),
}

/// The helper's entry point. Errors go to stderr (or, attached, as a stderr
/// frame): this is a process's main, and that is the user's.
pub fn main(args: &[OsString]) -> ExitCode {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let (args, io) = match args.split_last() {
        Some((last, rest)) if last == ATTACH_ARG => {
            let stream = io::stdin().as_fd().try_clone_to_owned().map(UnixStream::from);
            match stream {
                Ok(stream) => (rest, Io::Attach(stream)),
                Err(e) => {
                    let _ = writeln!(io::stderr(), "berth: exec failed: no attach stream: {e}");
                    return ExitCode::from(EXEC_FAILED);
                }
            }
        }
        _ => (&args[..], Io::Inherit),
    };
    let mut reply_to = match &io {
        Io::Attach(stream) => stream.try_clone().ok(),
        Io::Inherit => None,
    };
    let result = match args {
        [root, run, id, options] => match (ContainerId::parse(id), serde_json::from_str::<ExecOptions>(options)) {
            (Some(id), Ok(options)) => run_exec(&Root::new(root, run), &id, &options, io),
            _ => Err(ContainerError::Internal("bad arguments".into())),
        },
        _ => Err(ContainerError::Internal("usage: berth internal exec ROOT RUN ID OPTIONS [attach]".into())),
    };
    let code = match result {
        Ok(code) => code.clamp(0, 255),
        Err(error) => {
            let message = format!("berth: exec failed: {error}\n");
            match &mut reply_to {
                Some(stream) => send(stream, FrameKind::Stderr, message.as_bytes()),
                None => {
                    let _ = io::stderr().write_all(message.as_bytes());
                }
            }
            i32::from(EXEC_FAILED)
        }
    };
    if let Some(stream) = &mut reply_to {
        let reply = Reply::Exited(ExitStatus { exit_code: code, oom_killed: false });
        send(stream, FrameKind::Exit, &serde_json::to_vec(&reply).unwrap_or_default());
    }
    ExitCode::from(code as u8)
}

/// Sends one frame; a reader that went away is no error of the process's.
fn send(stream: &mut UnixStream, kind: FrameKind, payload: &[u8]) {
    let mut frame = Vec::new();
    protocol::encode(kind, payload, &mut frame);
    let _ = stream.write_all(&frame);
}

fn failed(message: String) -> ContainerError {
    ContainerError::StartFailed { kind: StartFailure::classify(&message), message }
}

/// The process to run, from the container's own spec with the exec options applied.
fn process(dir: &ContainerDir, state: &State, spec: &Spec, options: &ExecOptions) -> Result<Process, ContainerError> {
    let mut process =
        spec.process().clone().ok_or_else(|| ContainerError::Internal("the spec has no process".into()))?;
    process.set_args(Some(options.cmd.clone()));
    process.set_terminal(Some(options.tty));
    let mut env = process.env().clone().unwrap_or_default();
    let mut set = |pair: String| {
        let key = env_key(&pair).to_owned();
        match env.iter_mut().find(|existing| env_key(existing) == key) {
            Some(existing) => *existing = pair,
            None => env.push(pair),
        }
    };
    if options.tty {
        set("TERM=xterm".into());
    }
    if let Some(user_spec) = &options.user {
        let root = rootfs::open_root(Path::new(&format!("/proc/{}/root", state.pid)))
            .map_err(|e| ContainerError::io("cannot open the root of", dir.path(), e))?;
        let read = |path: &str| rootfs::read_in_root(&root, Path::new(path)).ok().flatten().unwrap_or_default();
        let user = super::user::resolve(user_spec, &read("/etc/passwd"), &read("/etc/group"))?;
        process.set_user(
            UserBuilder::default()
                .uid(user.uid)
                .gid(user.gid)
                .additional_gids(user.additional_gids)
                .build()
                .map_err(|e| ContainerError::Internal(e.to_string()))?,
        );
        set(format!("HOME={}", if user.home.is_empty() { "/" } else { &user.home }));
    }
    for pair in &options.env {
        if env_key(pair).is_empty() {
            return Err(super::options::OptionError::new("-e", pair.as_str(), "want KEY=VALUE").into());
        }
        set(pair.clone());
    }
    process.set_env(Some(env));
    if let Some(dir) = &options.working_dir {
        if !Path::new(dir).is_absolute() {
            return Err(
                super::options::OptionError::new("-w", dir.as_str(), "the working directory must be absolute").into()
            );
        }
        process.set_cwd(dir.into());
    }
    Ok(process)
}

fn run_exec(root: &Root, id: &ContainerId, options: &ExecOptions, io: Io) -> Result<i32, ContainerError> {
    let dir = ContainerDir::new(root, id);
    let state = State::load(&dir).map_err(|e| ContainerError::io("cannot read", dir.state_json(), e))?;
    if state.status == Status::Paused {
        return Err(ContainerError::ExecPaused(id.to_string()));
    }
    if !state.is_running() || state.pid <= 0 {
        return Err(ContainerError::NotRunning(id.to_string()));
    }
    let spec = Spec::load(dir.oci_config())
        .map_err(|e| ContainerError::Internal(format!("cannot read the container's spec: {e}")))?;
    let process = process(&dir, &state, &spec, options)?;
    let nonce = ContainerId::generate().map_err(|e| ContainerError::io("cannot read", "/dev/urandom", e))?;
    let process_path = dir.path().join(format!("exec-{}.json", nonce.short()));
    super::layout::replace_json(&process_path, &process)
        .map_err(|e| ContainerError::io("cannot write", &process_path, e))?;
    let _cleanup = RemoveOnDrop(vec![process_path.clone()]);

    // Signals the relay needs are read from a signalfd; the executor clears the
    // mask again in the new process.
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    mask.add(Signal::SIGWINCH);
    mask.thread_block().map_err(|e| ContainerError::Internal(format!("cannot block signals: {e}")))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)
        .map_err(|e| ContainerError::Internal(format!("cannot make a signalfd: {e}")))?;

    let seccomp = seccomp_filter(root, &dir, &spec)?;
    let mut builder = ContainerBuilder::new(id.to_string(), SyscallType::default())
        .with_root_path(dir.runtime_root())
        .map_err(|e| failed(e.to_string()))?
        .with_executor(BerthExecutor { seccomp });
    let pipe = || nix::unistd::pipe().map_err(|e| ContainerError::Internal(format!("cannot make a pipe: {e}")));
    let null = || File::open("/dev/null").map_err(|e| ContainerError::io("cannot open", "/dev/null", e));
    let mut console = None;
    let mut streams = Streams::default();
    if options.tty {
        let path = dir.path().join(format!("exec-{}.sock", nonce.short()));
        let listener = socket::bind(&path).map_err(|e| ContainerError::io("cannot listen on", &path, e))?;
        builder = builder.with_console_socket(Some(&path));
        console = Some((listener, RemoveOnDrop(vec![path])));
    } else {
        if !options.interactive {
            builder = builder.with_stdin(OwnedFd::from(null()?));
        }
        if matches!(io, Io::Attach(_)) {
            let (stdout, stderr) = (pipe()?, pipe()?);
            builder = builder.with_stdout(stdout.1).with_stderr(stderr.1);
            streams.outputs =
                [Some((File::from(stdout.0), FrameKind::Stdout)), Some((File::from(stderr.0), FrameKind::Stderr))];
            if options.interactive {
                let stdin = pipe()?;
                builder = builder.with_stdin(stdin.0);
                streams.input = Some(File::from(stdin.1));
            }
        }
    }
    let pid = builder.as_tenant().with_process(Some(&process_path)).with_detach(true).build().map_err(|e| {
        match super::monitor::runtime_failure(&e) {
            ContainerError::StartFailed { message, .. } => {
                ContainerError::StartFailed { kind: StartFailure::CannotInvoke, message }
            }
            other => other,
        }
    })?;
    if let Some((listener, _socket)) = console {
        let master = super::monitor::receive_terminal(&listener)
            .map_err(|e| failed(format!("cannot receive the terminal: {e}")))?;
        let terminal = File::from(master);
        let clone = |f: &File| f.try_clone().map_err(|e| ContainerError::Internal(e.to_string()));
        streams = Streams {
            input: Some(clone(&terminal)?),
            outputs: [Some((clone(&terminal)?, FrameKind::Stdout)), None],
            terminal: Some(terminal),
        };
    }
    match io {
        Io::Attach(stream) => serve(stream, streams, pid, &signals),
        Io::Inherit => wait(pid),
    }
}

/// The container's seccomp filter (compiled once, see [`CompiledFilter`]):
/// its profile beside the spec, or in the spec of a container that an earlier
/// berth started (or one without no_new_privs, whose filter libcontainer loads).
fn seccomp_filter(root: &Root, dir: &ContainerDir, spec: &Spec) -> Result<Option<CompiledFilter>, ContainerError> {
    let profile =
        match std::fs::read(dir.seccomp_profile()) {
            Ok(bytes) => Some(serde_json::from_slice(&bytes).map_err(|e| ContainerError::Corrupt {
                id: dir.id().to_string(),
                what: format!("seccomp.json: {e}"),
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => spec.linux().as_ref().and_then(|l| l.seccomp().clone()),
            Err(e) => return Err(ContainerError::io("cannot read", dir.seccomp_profile(), e)),
        };
    profile
        .map(|profile| CompiledFilter::for_profile(&super::layout::seccomp_cache(root), &profile))
        .transpose()
        .map_err(|e| failed(e.to_string()))
}

struct RemoveOnDrop(Vec<std::path::PathBuf>);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn code_of(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, signal, _) => Some(exit_code_for(signal)),
        _ => None,
    }
}

fn wait(pid: Pid) -> Result<i32, ContainerError> {
    loop {
        match nix::sys::wait::waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = code_of(status) {
                    return Ok(code);
                }
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(ContainerError::Internal(format!("waiting for the process: {e}"))),
        }
    }
}

/// The process's ends of an attached exec: its input, its outputs and, with
/// `-t`, its terminal (for the window size).
#[derive(Default)]
struct Streams {
    input: Option<File>,
    outputs: [Option<(File, FrameKind)>; 2],
    terminal: Option<File>,
}

/// How long output may still come after the process exited (from a child it left behind).
const DRAIN_MS: u16 = 200;

/// Relays between the attach stream and the process until it exits and its
/// output is read; input and window size in, output out. A reader that goes
/// away closes the process's input (and hangs up its terminal).
fn serve(mut stream: UnixStream, mut streams: Streams, pid: Pid, signals: &SignalFd) -> Result<i32, ContainerError> {
    let mut attached = true;
    let mut exit = None;
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 32 * 1024];
    loop {
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        let stream_at = attached.then(|| {
            fds.push(PollFd::new(stream.as_fd(), PollFlags::POLLIN));
            fds.len() - 1
        });
        let outputs_at = fds.len();
        for (file, _) in streams.outputs.iter().flatten() {
            fds.push(PollFd::new(file.as_fd(), PollFlags::POLLIN));
        }
        if exit.is_some() && fds.len() == outputs_at {
            break;
        }
        let timeout = if exit.is_some() { PollTimeout::from(DRAIN_MS) } else { PollTimeout::NONE };
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(ContainerError::Internal(format!("poll: {e}"))),
            Ok(_) => {}
        }
        let events: Vec<PollFlags> = fds.iter().map(|fd| fd.revents().unwrap_or(PollFlags::empty())).collect();
        drop(fds);
        if !events[0].is_empty() {
            while signals.read_signal().is_ok_and(|s| s.is_some()) {}
            while let Ok(status) = nix::sys::wait::waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                if status == WaitStatus::StillAlive {
                    break;
                }
                if status.pid() == Some(pid) {
                    exit = code_of(status);
                }
            }
        }
        if let Some(at) = stream_at
            && !events[at].is_empty()
        {
            match stream.read(&mut buffer) {
                Ok(n) if n > 0 => {
                    received.extend_from_slice(&buffer[..n]);
                    let frames = protocol::decode(&mut received)
                        .map_err(|e| ContainerError::Internal(format!("the attach stream: {e}")))?;
                    for (kind, data) in frames {
                        match kind {
                            FrameKind::Stdin if data.is_empty() => streams.input = None,
                            FrameKind::Stdin => {
                                // The process may have closed its input: that is its business.
                                if let Some(input) = &mut streams.input {
                                    let _ = input.write_all(&data);
                                }
                            }
                            FrameKind::Resize if data.len() == 4 => {
                                if let Some(terminal) = &streams.terminal {
                                    let size = rustix::termios::Winsize {
                                        ws_row: u16::from_be_bytes([data[0], data[1]]),
                                        ws_col: u16::from_be_bytes([data[2], data[3]]),
                                        ws_xpixel: 0,
                                        ws_ypixel: 0,
                                    };
                                    let _ = rustix::termios::tcsetwinsize(terminal, size);
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {
                    attached = false;
                    streams = Streams::default();
                }
            }
        }
        let mut at = outputs_at;
        for slot in &mut streams.outputs {
            let Some((file, kind)) = slot else { continue };
            if !events[at].is_empty() {
                match file.read(&mut buffer) {
                    Ok(n) if n > 0 => send(&mut stream, *kind, &buffer[..n]),
                    // End of file, or EIO: a terminal whose process is gone.
                    _ => *slot = None,
                }
            }
            at += 1;
        }
    }
    match exit {
        Some(code) => Ok(code),
        None => wait(pid),
    }
}
