//! Running one probe: the command's stdout and stderr share one pipe (as
//! Docker gives a probe one buffer), of which the first 4096 bytes are kept
//! and the rest is read and dropped; at the timeout the probe is killed.
//! Everything waits on tokio (the child, the pipe, the clock), so a probe
//! never blocks the daemon's threads.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;
use tokio::time::Instant;

use super::kill::{kill_helper_group, kill_probe};
use super::state::{MAX_OUTPUT_BYTES, ProbeOutcome, ProbeResult, truncate_output};

/// After the probe exits, how long output is still read: a process it left
/// in the background may hold the pipe open forever.
const DRAIN_GRACE: Duration = Duration::from_millis(500);
/// After the probe is killed, how long its helper gets to see that, clean
/// up and exit, before its whole process group is killed too.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Runs `command` (normally berth's exec helper running the check in the
/// container) to its end or to `timeout`, whichever comes first.
pub async fn run_probe(command: std::process::Command, timeout: Duration) -> ProbeResult {
    let start = Utc::now();
    let (outcome, output) = match Running::spawn(command) {
        Ok(running) => running.finish(timeout).await,
        Err(e) => (ProbeOutcome::Failed(format!("cannot start the health check: {e}")), String::new()),
    };
    ProbeResult { start, end: Utc::now(), outcome, output }
}

/// Output kept up to the limit; more only sets `truncated`.
#[derive(Debug, Default)]
struct Output {
    kept: Vec<u8>,
    truncated: bool,
}

impl Output {
    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_OUTPUT_BYTES - self.kept.len();
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.truncated |= bytes.len() > room;
    }

    fn text(&self) -> String {
        truncate_output(&self.kept, self.truncated)
    }
}

/// A probe process. Dropped before it was reaped (the monitor was stopped
/// mid-probe), it is killed.
#[derive(Debug)]
struct Running {
    child: tokio::process::Child,
    pid: u32,
    reaped: bool,
    reader: pipe::Receiver,
    output: Output,
}

impl Running {
    fn spawn(mut command: std::process::Command) -> io::Result<Running> {
        let (reader, writer) = io::pipe()?;
        let reader = pipe::Receiver::from_owned_fd(OwnedFd::from(reader))?;
        // A process group of its own: what is left of it can be killed at once, by its PID.
        command.stdin(Stdio::null()).stdout(writer.try_clone()?).stderr(writer).process_group(0);
        let mut command = tokio::process::Command::from(command);
        let child = command.spawn()?;
        // The command holds our copies of the pipe's write end: closed here, the
        // probe's exit is the pipe's end.
        drop(command);
        let pid = child.id().ok_or_else(|| io::Error::other("the probe exited before it was seen"))?;
        Ok(Running { child, pid, reaped: false, reader, output: Output::default() })
    }

    async fn finish(mut self, timeout: Duration) -> (ProbeOutcome, String) {
        let deadline = Instant::now() + timeout;
        let mut buffer = [0u8; 8192];
        let mut eof = false;
        let exited = loop {
            tokio::select! {
                status = self.child.wait() => break Some(status),
                read = self.reader.read(&mut buffer), if !eof => match read {
                    Ok(n) if n > 0 => self.output.push(&buffer[..n]),
                    _ => eof = true,
                },
                () = tokio::time::sleep_until(deadline) => break None,
            }
        };
        match exited {
            Some(status) => {
                self.reaped = true;
                if !eof {
                    self.drain().await;
                }
                let outcome = match status {
                    Ok(status) => {
                        ProbeOutcome::Exited(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
                    }
                    Err(e) => ProbeOutcome::Failed(format!("waiting for the health check: {e}")),
                };
                (outcome, self.output.text())
            }
            None => {
                self.kill();
                if tokio::time::timeout(EXIT_GRACE, self.child.wait()).await.is_err() {
                    kill_helper_group(self.pid);
                    let _ = self.child.wait().await;
                }
                self.reaped = true;
                self.drain().await;
                (ProbeOutcome::TimedOut, self.output.text())
            }
        }
    }

    /// Reads what is left in the pipe, for [`DRAIN_GRACE`] at most.
    async fn drain(&mut self) {
        let until = Instant::now() + DRAIN_GRACE;
        let mut buffer = [0u8; 8192];
        while let Ok(Ok(n @ 1..)) = tokio::time::timeout_at(until, self.reader.read(&mut buffer)).await {
            self.output.push(&buffer[..n]);
        }
    }

    /// Kills the probe under the helper; if there is none yet (the helper
    /// is still setting it up), the helper's group.
    fn kill(&self) {
        if kill_probe(self.pid) == 0 {
            kill_helper_group(self.pid);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            // The helper, once its child is dead, exits by itself; tokio reaps it.
            self.kill();
        }
    }
}

#[cfg(test)]
#[path = "probe_tests.rs"]
mod tests;
