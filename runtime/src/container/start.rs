//! `start`: a monitor process takes the container over and starts it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::attach::{AttachStream, AttachStreams};
use super::containers::Containers;
use super::error::{ContainerError, StartFailure};
use super::monitor;
use super::protocol::StartReport;
use super::spawner::MonitorStdio;

/// How long a monitor may take to start its container.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A started container.
#[derive(Debug)]
pub struct Started {
    /// The container's first process, as the host sees it.
    pub pid: i32,
    /// The attachment asked for at start: nothing of the output is missed.
    pub attach: Option<AttachStream>,
    /// The monitor's PID (a child of the spawner, which reaps it).
    pub monitor: i32,
}

impl Containers {
    /// Starts a created or stopped container. With `attach`, the returned
    /// stream carries its stdio from the first byte.
    pub fn start(&self, reference: &str, attach: Option<AttachStreams>) -> Result<Started, ContainerError> {
        let record = self.lookup(reference)?;
        let dir = self.dir(&record);
        if self.state(&record)?.is_running() {
            return Err(ContainerError::AlreadyRunning(record.name));
        }
        let internal = |reason: String| ContainerError::Internal(format!("cannot start a monitor: {reason}"));
        let (report_read, report_write) =
            nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| internal(e.to_string()))?;
        let path = |path: &std::path::Path| {
            path.to_str().map(str::to_owned).ok_or_else(|| internal(format!("{} is not UTF-8", path.display())))
        };
        let mut args = vec![path(self.root.root())?, path(self.root.run())?, record.id.to_string()];
        let null = || File::options().read(true).write(true).open("/dev/null").map(OwnedFd::from);
        let (ours, stdin) = match attach {
            Some(streams) => {
                let (ours, theirs) = UnixStream::pair().map_err(|e| internal(e.to_string()))?;
                args.push(monitor::attach_arg(streams.stdin, streams.stdout, streams.stderr));
                (Some(ours), OwnedFd::from(theirs))
            }
            None => (None, null().map_err(|e| internal(e.to_string()))?),
        };
        let stderr = match std::env::var_os("BERTH_LOG") {
            Some(_) => File::options().create(true).append(true).open(dir.monitor_log()).map(OwnedFd::from),
            None => null(),
        }
        .map_err(|e| internal(e.to_string()))?;
        let monitor = self.spawner.spawn(&args, MonitorStdio { stdin, stdout: report_write, stderr })?;

        match read_report(File::from(report_read)) {
            Ok(StartReport::Started { pid }) => Ok(Started { pid, attach: ours.map(AttachStream::new), monitor }),
            Ok(StartReport::Failed { kind, message }) => Err(ContainerError::StartFailed { kind, message }),
            Err(reason) => {
                // A monitor that neither started the container nor said why is stuck: end it.
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(monitor), nix::sys::signal::SIGKILL);
                Err(ContainerError::StartFailed { kind: StartFailure::Other, message: reason })
            }
        }
    }
}

/// Reads the monitor's one-line report, waiting at most [`START_TIMEOUT`].
fn read_report(pipe: File) -> Result<StartReport, String> {
    let mut fds = [PollFd::new(pipe.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::try_from(START_TIMEOUT).unwrap_or(PollTimeout::MAX)) {
        Ok(0) => return Err(format!("the monitor did not report within {} seconds", START_TIMEOUT.as_secs())),
        Err(e) => return Err(format!("waiting for the monitor: {e}")),
        Ok(_) => {}
    }
    let mut line = String::new();
    BufReader::new(pipe).read_line(&mut line).map_err(|e| format!("reading the monitor's report: {e}"))?;
    if line.is_empty() {
        return Err("the monitor exited without a report (see BERTH_LOG=debug)".into());
    }
    serde_json::from_str(line.trim_end()).map_err(|e| format!("bad report from the monitor {line:?}: {e}"))
}
