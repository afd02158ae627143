//! Starting the container's process: the root file system (once per monitor),
//! then per start the spec, the stdio, and libcontainer's create and start.

use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libcontainer::container::Container;
use libcontainer::container::builder::ContainerBuilder;
use libcontainer::syscall::syscall::SyscallType;
use nix::mount::MsFlags;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

use crate::container::cgroup::{CgroupSetup, ContainerCgroup};
use crate::container::config::ContainerConfig;
use crate::container::error::{ContainerError, StartFailure};
use crate::container::executor::BerthExecutor;
use crate::container::layout::{self, ContainerDir};
use crate::container::limits::UlimitName;
use crate::container::mounts::MountSource;
use crate::container::protocol::socket;
use crate::container::rootfs;
use crate::container::seccomp::bpf::CompiledFilter;
use crate::container::security::bounding_set;
use crate::container::spec::{self, SpecInputs};
use crate::container::{etc, user, volumes};
use crate::store::Root;

/// Where `--init` finds its binary: Debian's tini, as Docker ships it.
const INIT_BINARIES: &[&str] = &["/usr/bin/tini-static", "/usr/bin/docker-init", "/usr/libexec/docker/docker-init"];

/// An emptied cgroup can be busy a moment longer: retries, and the pause between.
const RMDIR_RETRIES: u32 = 20;
const RMDIR_PAUSE: Duration = Duration::from_millis(10);

/// How long the runtime may take to hand over the terminal.
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(10);

/// A started container, as the monitor holds it.
pub(super) struct Running {
    pub pid: Pid,
    /// Output: both streams (or the terminal, as `stdout`).
    pub stdout: Option<File>,
    pub stderr: Option<File>,
    /// Where input for the container goes, if it takes any.
    pub stdin: Option<File>,
    /// The terminal's master side, for resizing.
    pub tty: Option<OwnedFd>,
}

fn io_error<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ContainerError + 'a {
    move |source| ContainerError::io(what, path, source)
}

fn failed(message: impl Into<String>) -> ContainerError {
    let message = message.into();
    ContainerError::StartFailed { kind: StartFailure::classify(&message), message }
}

/// Gives the monitor a mount namespace of its own (changes on the host still
/// reach it) and mounts the container's overlay there: the mount is gone when
/// the monitor is, whatever happens to it.
pub(super) fn prepare_rootfs(root: &Root, dir: &ContainerDir, config: &ContainerConfig) -> Result<(), ContainerError> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNS)
        .map_err(|e| ContainerError::Internal(format!("cannot make a mount namespace: {e}")))?;
    nix::mount::mount(None::<&str>, "/", None::<&str>, MsFlags::MS_SLAVE | MsFlags::MS_REC, None::<&str>)
        .map_err(|e| ContainerError::Internal(format!("cannot make / a slave mount: {e}")))?;
    let mount_point = layout::mount_point(root);
    for path in [dir.upper(), dir.work(), mount_point.clone()] {
        std::fs::create_dir_all(&path).map_err(io_error("cannot create", &path))?;
    }
    for layer in &config.layer_dirs {
        if !layer.is_dir() {
            return Err(failed(format!(
                "the image's layer {} is missing: pull the image {} again",
                layer.display(),
                config.image
            )));
        }
    }
    rootfs::mount_overlay(&config.layer_dirs, &dir.upper(), &dir.work(), &mount_point)
        .map_err(|e| failed(format!("cannot mount the container's root file system: {e}")))
}

fn hard_limit(name: UlimitName) -> u64 {
    use nix::sys::resource::Resource;
    let resource = match name {
        UlimitName::Core => Resource::RLIMIT_CORE,
        UlimitName::Cpu => Resource::RLIMIT_CPU,
        UlimitName::Data => Resource::RLIMIT_DATA,
        UlimitName::Fsize => Resource::RLIMIT_FSIZE,
        UlimitName::Locks => Resource::RLIMIT_LOCKS,
        UlimitName::Memlock => Resource::RLIMIT_MEMLOCK,
        UlimitName::Msgqueue => Resource::RLIMIT_MSGQUEUE,
        UlimitName::Nice => Resource::RLIMIT_NICE,
        UlimitName::Nofile => Resource::RLIMIT_NOFILE,
        UlimitName::Nproc => Resource::RLIMIT_NPROC,
        UlimitName::Rss => Resource::RLIMIT_RSS,
        UlimitName::Rtprio => Resource::RLIMIT_RTPRIO,
        UlimitName::Rttime => Resource::RLIMIT_RTTIME,
        UlimitName::Sigpending => Resource::RLIMIT_SIGPENDING,
        UlimitName::Stack => Resource::RLIMIT_STACK,
    };
    nix::sys::resource::getrlimit(resource).map_or(u64::MAX, |(_, hard)| hard)
}

/// The binary `--init` mounts into the container.
pub fn find_init_binary() -> Result<PathBuf, ContainerError> {
    INIT_BINARIES.iter().map(PathBuf::from).find(|path| path.is_file()).ok_or_else(|| {
        failed("--init needs a static init binary: install Debian's tini package (/usr/bin/tini-static)")
    })
}

/// Writes `config.json` for this start: the image's user looked up, the
/// working directory and volumes made, and the machine's limits applied.
/// Returns the seccomp filter the container's process loads before exec.
fn write_spec(
    root: &Root,
    dir: &ContainerDir,
    config: &ContainerConfig,
    cgroup: CgroupSetup,
) -> Result<Option<CompiledFilter>, ContainerError> {
    let rootfs_path = layout::mount_point(root);
    let rootfs = rootfs::open_root(&rootfs_path).map_err(io_error("cannot open", &rootfs_path))?;
    let read = |path: &str| -> Result<String, ContainerError> {
        Ok(rootfs::read_in_root(&rootfs, Path::new(path))
            .map_err(io_error("cannot read", Path::new(path)))?
            .unwrap_or_default())
    };
    let user = user::resolve(&config.user, &read("/etc/passwd")?, &read("/etc/group")?)?;
    rootfs::mkdir_all_in_root(&rootfs, Path::new(&config.working_dir), 0o755)
        .map_err(|e| failed(format!("cannot create the working directory {}: {e}", config.working_dir)))?;

    let mut volume_paths = Vec::with_capacity(config.mounts.len());
    for mount in &config.mounts {
        volume_paths.push(match &mount.source {
            MountSource::Volume { name, no_copy, .. } => {
                let fill = (!no_copy).then_some((&rootfs, mount.target.as_path()));
                Some(
                    volumes::prepare(root, name, fill)
                        .map_err(|e| failed(format!("cannot prepare volume {name}: {e}")))?,
                )
            }
            MountSource::Bind { path, .. } => {
                // `docker run -v` makes a missing host directory.
                if !path.exists() {
                    std::fs::create_dir_all(path).map_err(|e| {
                        failed(format!("invalid mount config: cannot create bind source {}: {e}", path.display()))
                    })?;
                }
                None
            }
            MountSource::Tmpfs { .. } => None,
        });
    }
    if std::fs::metadata(dir.hosts()).map_or(true, |m| m.len() == 0) {
        etc::write(dir.path(), &config.hostname, &config.network, &Default::default())
            .map_err(io_error("cannot write", dir.path()))?;
    }
    let capabilities = config
        .capabilities
        .resolve(&bounding_set().map_err(io_error("cannot read", Path::new("/proc/self/status")))?)
        .map_err(failed)?;
    let init_binary = if config.init { Some(find_init_binary()?) } else { None };
    let spec = spec::build(&SpecInputs {
        id: dir.id(),
        rootfs: &rootfs_path,
        config,
        dir,
        user: &user,
        cgroup,
        capabilities: &capabilities,
        volume_paths: &volume_paths,
        init_binary,
        hard_limit: &hard_limit,
    })
    .map_err(|e| ContainerError::Internal(e.to_string()))?;
    let (spec, filter) = seccomp_apart(root, dir, spec)?;
    layout::replace_json(&dir.oci_config(), &spec).map_err(io_error("cannot write", &dir.oci_config()))?;
    Ok(filter)
}

/// Takes the seccomp profile out of the spec libcontainer reads (it would
/// compile it in every container's init) into `seccomp.json`, and returns it
/// compiled. With no_new_privs off the filter must be loaded while the process
/// still holds CAP_SYS_ADMIN, before libcontainer drops capabilities: that rare
/// case keeps the profile in the spec (and libcontainer's compile).
fn seccomp_apart(
    root: &Root,
    dir: &ContainerDir,
    mut spec: oci_spec::runtime::Spec,
) -> Result<(oci_spec::runtime::Spec, Option<CompiledFilter>), ContainerError> {
    let no_new_privs = spec.process().as_ref().and_then(|p| p.no_new_privileges()).unwrap_or(false);
    let profile = match spec.linux_mut() {
        Some(linux) if no_new_privs => linux.seccomp_mut().take(),
        _ => None,
    };
    let Some(profile) = profile else {
        let _ = std::fs::remove_file(dir.seccomp_profile());
        return Ok((spec, None));
    };
    layout::replace_json(&dir.seccomp_profile(), &profile).map_err(io_error("cannot write", &dir.seccomp_profile()))?;
    let filter =
        CompiledFilter::for_profile(&layout::seccomp_cache(root), &profile).map_err(|e| failed(e.to_string()))?;
    Ok((spec, Some(filter)))
}

/// The text of an error and all its causes.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// The runtime's failure as Docker words it: the `exec: "cmd": ...` part if
/// the command was at fault.
pub(crate) fn runtime_failure(error: &dyn std::error::Error) -> ContainerError {
    let text = chain(error);
    match text.find("exec: \"") {
        Some(at) => failed(format!("unable to start container process: {}", text[at..].trim_end())),
        None => failed(format!("unable to start container process: {text}")),
    }
}

/// What is left of a run once the container's init exited (and with it, the
/// kernel saw to that, every process of its PID namespace): its cgroup and
/// libcontainer's state. Done here rather than by libcontainer's `delete`,
/// which reads the mount table and /proc/self/cgroup a dozen times to find the
/// cgroup again (~2 ms between the container's exit and its exit code).
pub(super) fn release(dir: &ContainerDir, cgroup: &ContainerCgroup) -> Result<(), String> {
    let mut errors = Vec::new();
    for path in cgroup.existing_dirs() {
        // The kernel may take a moment to let go of the last task's cgroup.
        let mut removed = std::fs::remove_dir(&path);
        for _ in 0..RMDIR_RETRIES {
            match &removed {
                Err(e) if e.raw_os_error() == Some(nix::libc::EBUSY) => {
                    std::thread::sleep(RMDIR_PAUSE);
                    removed = std::fs::remove_dir(&path);
                }
                _ => break,
            }
        }
        match removed {
            Err(e) if e.kind() != io::ErrorKind::NotFound => errors.push(format!("{}: {e}", path.display())),
            _ => {}
        }
    }
    let state = dir.runtime_state();
    if let Err(e) = std::fs::remove_dir_all(&state)
        && e.kind() != io::ErrorKind::NotFound
    {
        errors.push(format!("{}: {e}", state.display()));
    }
    if errors.is_empty() { Ok(()) } else { Err(errors.join("; ")) }
}

/// Removes what a monitor that died left in libcontainer's state (and its cgroup).
pub(crate) fn clear_stale_runtime_state(dir: &ContainerDir) {
    let state = dir.runtime_state();
    if !state.exists() {
        return;
    }
    match Container::load(state.clone()) {
        Ok(mut stale) => {
            if let Err(e) = stale.delete(true) {
                tracing::warn!(error = %e, "cannot delete a stale runtime state");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot load a stale runtime state"),
    }
    let _ = std::fs::remove_dir_all(&state);
}

fn pipe() -> Result<(File, OwnedFd), ContainerError> {
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| ContainerError::Internal(format!("cannot make a pipe: {e}")))?;
    Ok((File::from(read), write))
}

/// Creates and starts the container's process.
pub(super) fn launch(
    root: &Root,
    dir: &ContainerDir,
    config: &ContainerConfig,
    cgroup: CgroupSetup,
) -> Result<Running, ContainerError> {
    let seccomp = write_spec(root, dir, config, cgroup)?;
    clear_stale_runtime_state(dir);
    std::fs::create_dir_all(dir.runtime_root()).map_err(io_error("cannot create", dir.runtime_root()))?;

    let mut builder = ContainerBuilder::new(dir.id().to_string(), SyscallType::default())
        .with_root_path(dir.runtime_root())
        .map_err(|e| runtime_failure(&e))?
        .with_executor(BerthExecutor { seccomp });
    let mut running_io = (None, None, None);
    let console = if config.tty {
        let path = dir.path().join("console.sock");
        let listener = socket::bind(&path).map_err(io_error("cannot listen on", &path))?;
        builder = builder.with_console_socket(Some(&path));
        Some((listener, path))
    } else {
        let (stdout, stdout_w) = pipe()?;
        let (stderr, stderr_w) = pipe()?;
        builder = builder.with_stdout(stdout_w).with_stderr(stderr_w);
        if config.open_stdin {
            let (stdin_r, stdin_w) = pipe()?;
            builder =
                builder.with_stdin(stdin_r.as_fd().try_clone_to_owned().map_err(io_error("cannot dup", dir.path()))?);
            nix::fcntl::fcntl(stdin_w.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))
                .map_err(|e| ContainerError::Internal(format!("cannot set up stdin: {e}")))?;
            running_io.2 = Some(File::from(stdin_w));
        }
        running_io.0 = Some(stdout);
        running_io.1 = Some(stderr);
        None
    };

    let mut container =
        builder.as_init(dir.bundle()).with_systemd(false).with_detach(true).build().map_err(|e| runtime_failure(&e))?;

    let tty = match console {
        Some((listener, path)) => {
            let master = receive_terminal(&listener);
            let _ = std::fs::remove_file(&path);
            match master {
                Ok(master) => Some(master),
                Err(e) => {
                    let _ = container.delete(true);
                    return Err(failed(format!("cannot receive the container's terminal: {e}")));
                }
            }
        }
        None => None,
    };
    if let Err(e) = container.start() {
        let _ = container.delete(true);
        return Err(runtime_failure(&e));
    }
    let pid = container.pid().ok_or_else(|| ContainerError::Internal("the runtime reported no pid".into()))?;
    let (mut stdout, stderr, mut stdin) = running_io;
    if let Some(master) = &tty {
        nix::fcntl::fcntl(master.as_raw_fd(), nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK))
            .map_err(|e| ContainerError::Internal(format!("cannot set up the terminal: {e}")))?;
        let clone = || master.try_clone().map(File::from).map_err(io_error("cannot dup", dir.path()));
        stdout = Some(clone()?);
        stdin = Some(clone()?);
    }
    Ok(Running { pid, stdout, stderr, stdin, tty })
}

/// Takes the terminal's master side that the runtime sends over the console socket.
pub(crate) fn receive_terminal(listener: &UnixListener) -> io::Result<OwnedFd> {
    listener.set_nonblocking(true)?;
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    let ready = nix::poll::poll(&mut fds, PollTimeout::try_from(CONSOLE_TIMEOUT).unwrap_or(PollTimeout::MAX))?;
    if ready == 0 {
        return Err(io::Error::new(io::ErrorKind::TimedOut, "the runtime sent no terminal"));
    }
    let (stream, _) = listener.accept()?;
    stream.set_nonblocking(false)?;
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let mut name = [0u8; 256];
    rustix::net::recvmsg(&stream, &mut [io::IoSliceMut::new(&mut name)], &mut control, RecvFlags::CMSG_CLOEXEC)?;
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = message
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(io::Error::new(io::ErrorKind::InvalidData, "the console socket carried no descriptor"))
}
