//! `exec`: a process in a running container (all its namespaces, its cgroup,
//! its capabilities and seccomp filter). It is started by a small helper
//! process (`berth internal exec ...`, single-threaded: libcontainer forks)
//! that has the caller's stdio, waits for the process and exits with its
//! status; with a TTY it relays between its stdio and the terminal.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
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
use super::protocol::socket;
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

impl Containers {
    /// The helper command that runs `options` in the container. The caller
    /// gives it stdio (inherit for a terminal session) and waits for it; its
    /// exit code is the process's (126 if it could not be started).
    pub fn exec_command(&self, reference: &str, options: &ExecOptions) -> Result<Command, ContainerError> {
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

/// The helper's entry point. Errors go to stderr: this is a process's main,
/// and stderr is the user's.
pub fn main(args: &[OsString]) -> ExitCode {
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let result = match args.as_slice() {
        [root, run, id, options] => match (ContainerId::parse(id), serde_json::from_str::<ExecOptions>(options)) {
            (Some(id), Ok(options)) => run_exec(&Root::new(root, run), &id, &options),
            _ => Err(ContainerError::Internal("bad arguments".into())),
        },
        _ => Err(ContainerError::Internal("usage: berth internal exec ROOT RUN ID OPTIONS".into())),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(error) => {
            let _ = writeln!(io::stderr(), "berth: exec failed: {error}");
            ExitCode::from(EXEC_FAILED)
        }
    }
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

fn run_exec(root: &Root, id: &ContainerId, options: &ExecOptions) -> Result<i32, ContainerError> {
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
    let console = if options.tty {
        let path = dir.path().join(format!("exec-{}.sock", nonce.short()));
        let listener = socket::bind(&path).map_err(|e| ContainerError::io("cannot listen on", &path, e))?;
        builder = builder.with_console_socket(Some(&path));
        Some((listener, RemoveOnDrop(vec![path])))
    } else {
        if !options.interactive {
            let null = File::open("/dev/null").map_err(|e| ContainerError::io("cannot open", "/dev/null", e))?;
            builder = builder.with_stdin(OwnedFd::from(null));
        }
        None
    };
    let pid = builder.as_tenant().with_process(Some(&process_path)).with_detach(true).build().map_err(|e| {
        match super::monitor::runtime_failure(&e) {
            ContainerError::StartFailed { message, .. } => {
                ContainerError::StartFailed { kind: StartFailure::CannotInvoke, message }
            }
            other => other,
        }
    })?;
    match console {
        Some((listener, _socket)) => {
            let master = super::monitor::receive_terminal(&listener)
                .map_err(|e| failed(format!("cannot receive the terminal: {e}")))?;
            relay(pid, master, &signals)
        }
        None => wait(pid),
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

/// Copies the caller's stdin to the terminal and the terminal to stdout, and
/// the caller's window size to the terminal, until the process exits.
fn relay(pid: Pid, master: OwnedFd, signals: &SignalFd) -> Result<i32, ContainerError> {
    let copy_size = || {
        if let Ok(size) = rustix::termios::tcgetwinsize(io::stdin()) {
            let _ = rustix::termios::tcsetwinsize(&master, size);
        }
    };
    copy_size();
    let mut terminal = File::from(master.try_clone().map_err(|e| ContainerError::Internal(e.to_string()))?);
    let mut stdout = io::stdout();
    let mut input_open = true;
    let mut exit = None;
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let stdin = io::stdin();
        let mut fds =
            vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN), PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if input_open {
            fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
        }
        let timeout = if exit.is_some() { PollTimeout::from(200u16) } else { PollTimeout::NONE };
        match nix::poll::poll(&mut fds, timeout) {
            Ok(0) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(ContainerError::Internal(format!("poll: {e}"))),
            Ok(_) => {}
        }
        let events: Vec<PollFlags> = fds.iter().map(|fd| fd.revents().unwrap_or(PollFlags::empty())).collect();
        drop(fds);
        if !events[0].is_empty() {
            while let Ok(Some(info)) = signals.read_signal() {
                if info.ssi_signo == Signal::SIGWINCH as u32 {
                    copy_size();
                }
            }
            while let Ok(status) = nix::sys::wait::waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                if status == WaitStatus::StillAlive {
                    break;
                }
                if status.pid() == Some(pid) {
                    exit = code_of(status);
                }
            }
        }
        if !events[1].is_empty() {
            match terminal.read(&mut buffer) {
                Ok(0) | Err(_) if exit.is_some() || !events[1].contains(PollFlags::POLLIN) => break,
                Ok(n) if n > 0 => {
                    let _ = stdout.write_all(&buffer[..n]);
                    let _ = stdout.flush();
                }
                _ => {}
            }
        }
        if input_open && events.get(2).is_some_and(|e| !e.is_empty()) {
            match nix::unistd::read(io::stdin().as_raw_fd(), &mut buffer) {
                Ok(0) | Err(_) => input_open = false,
                Ok(n) => {
                    let _ = terminal.write_all(&buffer[..n]);
                }
            }
        }
    }
    match exit {
        Some(code) => Ok(code),
        None => wait(pid),
    }
}
