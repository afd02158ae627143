//! The manager's side of the DNS server: ask it to reload, start it when it is
//! not running. The answer to `reload` comes after the new table is live, so a
//! name registered by `connect` resolves as soon as `connect` returns.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::files::{self, DnsFileError};
use super::server::control_path;
use crate::config::DnsLauncher;

#[derive(Debug, thiserror::Error)]
pub enum DnsControlError {
    #[error("cannot start the DNS server {program}: {source}")]
    Spawn { program: PathBuf, source: std::io::Error },
    #[error("the DNS server for {dir} did not come up within {seconds} s (see {dir}/server.log)")]
    NotUp { dir: PathBuf, seconds: u64 },
    #[error("the DNS server for {dir} failed: {message}")]
    Failed { dir: PathBuf, message: String },
    #[error(transparent)]
    Files(#[from] DnsFileError),
}

/// How long a started server may take to answer.
const START_TIMEOUT: Duration = Duration::from_secs(5);
/// A server that is exiting at this very moment may swallow a start; try again after this.
const RESPAWN_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub(crate) struct DnsControl {
    dir: PathBuf,
    launcher: DnsLauncher,
}

enum Reply {
    Ok,
    NotRunning,
    Error(String),
}

impl DnsControl {
    pub fn new(dir: PathBuf, launcher: DnsLauncher) -> Self {
        DnsControl { dir, launcher }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Makes the server serve what the files say now, starting it if needed:
    /// it re-reads the files of `network_ids`, or all of them if `None`.
    pub fn reload(&self, network_ids: Option<&[String]>) -> Result<(), DnsControlError> {
        self.begin_reload(network_ids).finish()
    }

    /// Sends the reload and returns at once: the server works on it while the
    /// caller does something else (plumbing a veth), then [`PendingReload::finish`]
    /// waits for its answer.
    pub fn begin_reload(&self, network_ids: Option<&[String]>) -> PendingReload<'_> {
        let command = match network_ids {
            Some(ids) => std::iter::once("reload").chain(ids.iter().map(String::as_str)).collect::<Vec<_>>().join(" "),
            None => "reload".to_string(),
        };
        PendingReload { control: self, stream: self.ask(&command) }
    }

    /// Starts a server (none answered) and waits until it answers.
    fn start(&self) -> Result<(), DnsControlError> {
        if files::network_ids(&self.dir)?.is_empty() && files::load_proxies(&self.dir)?.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_spawn: Option<Instant> = None;
        loop {
            if last_spawn.is_none_or(|at| at.elapsed() >= RESPAWN_EVERY) {
                self.spawn()?;
                last_spawn = Some(Instant::now());
            }
            // A new server read every file when it started; this only confirms it is up.
            match self.send("reload") {
                Reply::Ok => return Ok(()),
                Reply::Error(message) => return Err(DnsControlError::Failed { dir: self.dir.clone(), message }),
                Reply::NotRunning if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
                Reply::NotRunning => {
                    return Err(DnsControlError::NotUp { dir: self.dir.clone(), seconds: START_TIMEOUT.as_secs() });
                }
            }
        }
    }

    /// Stops the server if one runs (tests and `system reset`).
    pub fn stop(&self) {
        let _ = self.send("stop");
    }

    /// `<launcher> serve --dir <dir> --detach`: the launched process starts the
    /// real server in its own process group and exits, so nobody has to reap it.
    fn spawn(&self) -> Result<(), DnsControlError> {
        let program = &self.launcher.program;
        let status = Command::new(program)
            .args(&self.launcher.args)
            .arg("serve")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--detach")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|source| DnsControlError::Spawn { program: program.clone(), source })?;
        if !status.success() {
            return Err(DnsControlError::Spawn {
                program: program.clone(),
                source: std::io::Error::other(format!("it exited with {status}")),
            });
        }
        Ok(())
    }

    fn send(&self, command: &str) -> Reply {
        answer(self.ask(command))
    }

    /// Connects and sends one command; `None` when no server listens.
    fn ask(&self, command: &str) -> Option<UnixStream> {
        let mut stream = UnixStream::connect(control_path(&self.dir)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        stream.write_all(format!("{command}\n").as_bytes()).ok()?;
        Some(stream)
    }
}

/// The server's one-line answer to what was sent on `stream`.
fn answer(stream: Option<UnixStream>) -> Reply {
    let Some(stream) = stream else { return Reply::NotRunning };
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        // EOF: the server was on its way out when we connected.
        Ok(0) | Err(_) => Reply::NotRunning,
        Ok(_) if line.trim() == "ok" => Reply::Ok,
        Ok(_) => Reply::Error(line.trim().trim_start_matches("error: ").to_string()),
    }
}

/// A reload sent and not yet confirmed.
#[derive(Debug)]
pub(crate) struct PendingReload<'a> {
    control: &'a DnsControl,
    stream: Option<UnixStream>,
}

impl PendingReload<'_> {
    /// Waits for the answer; starts the server if none was there.
    pub fn finish(self) -> Result<(), DnsControlError> {
        match answer(self.stream) {
            Reply::Ok => Ok(()),
            Reply::Error(message) => Err(DnsControlError::Failed { dir: self.control.dir.clone(), message }),
            Reply::NotRunning => self.control.start(),
        }
    }
}
