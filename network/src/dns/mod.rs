//! The embedded DNS: a server process per run directory (`server`), the table
//! files it reads (`files`), the answering logic (`resolve`), forwarding
//! (`forward`) and the manager's control of the process (`control`).
//!
//! Why a separate process: containers outlive the daemon and the CLI, and must
//! keep resolving names while berth restarts or after it crashed. The state is
//! in files the manager rewrites atomically, so a restarted server (or a new
//! manager) picks up exactly where the old one was.

mod control;
mod files;
mod forward;
mod proxy;
mod resolve;
mod server;

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub use control::DnsControlError;
pub(crate) use control::{DnsControl, PendingReload};
pub use files::DnsFileError;
pub(crate) use files::{
    ContainerEntry, NetworkFile, Proxy, ServerConfig, network_ids, remove_network, write_config, write_network,
    write_proxies,
};
pub use server::ServeError;

#[derive(Debug, thiserror::Error)]
pub enum DnsMainError {
    #[error("usage: serve --dir <run>/dns [--detach] ({0})")]
    Usage(String),
    #[error("cannot start the DNS server in the background: {0}")]
    Detach(std::io::Error),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

/// The DNS server process's entry point, for a hidden subcommand of the binary
/// that [`crate::DnsLauncher`] names: `serve --dir <dir> [--detach]`. With
/// `--detach` it starts itself again without it, in a process group of its own
/// with output to `<dir>/server.log`, and returns at once.
pub fn serve_main(args: &[OsString]) -> Result<(), DnsMainError> {
    let mut dir: Option<PathBuf> = None;
    let mut detach = false;
    let mut args = args.iter();
    match args.next() {
        Some(verb) if verb == "serve" => {}
        other => return Err(DnsMainError::Usage(format!("unknown command {other:?}"))),
    }
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--dir") => dir = args.next().map(PathBuf::from),
            Some("--detach") => detach = true,
            _ => return Err(DnsMainError::Usage(format!("unknown argument {arg:?}"))),
        }
    }
    let dir = dir.ok_or_else(|| DnsMainError::Usage("--dir is missing".into()))?;
    if detach {
        std::fs::create_dir_all(&dir).map_err(DnsMainError::Detach)?;
        let log =
            File::options().create(true).append(true).open(dir.join("server.log")).map_err(DnsMainError::Detach)?;
        let again: Vec<OsString> = std::env::args_os().skip(1).filter(|a| a != "--detach").collect();
        Command::new(std::env::current_exe().map_err(DnsMainError::Detach)?)
            .args(again)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(DnsMainError::Detach)?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(DnsMainError::Detach)?;
        return Ok(());
    }
    Ok(server::run(&dir)?)
}
