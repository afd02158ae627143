//! `start`: a monitor process takes the container over and starts it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout};

use super::attach::{AttachStream, AttachStreams};
use super::containers::Containers;
use super::error::{ContainerError, StartFailure};
use super::monitor;
use super::protocol::StartReport;

/// How long a monitor may take to start its container.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A started container.
#[derive(Debug)]
pub struct Started {
    /// The container's first process, as the host sees it.
    pub pid: i32,
    /// The attachment asked for at start: nothing of the output is missed.
    pub attach: Option<AttachStream>,
    /// The monitor, a child of the caller until the caller exits. A caller
    /// that lives on (the daemon) should reap it (`wait` in a thread); the
    /// monitor keeps running if this is dropped.
    pub monitor: Child,
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
        let mut command = self.helper.command(monitor::SUBCOMMAND);
        command
            .arg(self.root.root())
            .arg(self.root.run())
            .arg(record.id.as_str())
            .env_clear()
            .stdout(Stdio::from(report_write));
        if let Some(level) = std::env::var_os("BERTH_LOG") {
            command.env("BERTH_LOG", level);
        }
        let ours = match attach {
            Some(streams) => {
                let (ours, theirs) = UnixStream::pair().map_err(|e| internal(e.to_string()))?;
                command.arg(monitor::attach_arg(streams.stdin, streams.stdout, streams.stderr));
                command.stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)));
                Some(ours)
            }
            None => {
                command.stdin(Stdio::null());
                None
            }
        };
        command.stderr(match std::env::var_os("BERTH_LOG") {
            Some(_) => File::options()
                .create(true)
                .append(true)
                .open(dir.monitor_log())
                .map(Stdio::from)
                .unwrap_or_else(|_| Stdio::null()),
            None => Stdio::null(),
        });
        let mut child = command.spawn().map_err(|e| internal(format!("{}: {e}", self.helper.program.display())))?;
        drop(command);

        let report = read_report(File::from(report_read));
        match report {
            Ok(StartReport::Started { pid }) => {
                Ok(Started { pid, attach: ours.map(AttachStream::new), monitor: child })
            }
            Ok(StartReport::Failed { kind, message }) => {
                let _ = child.wait();
                Err(ContainerError::StartFailed { kind, message })
            }
            Err(reason) => {
                let _ = child.kill();
                let _ = child.wait();
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
