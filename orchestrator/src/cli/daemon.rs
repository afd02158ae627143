//! `berth daemon`: run the API server and the reconciler in the foreground.

use std::process::ExitCode;

use anyhow::Context;
use berth_runtime::store::Root;
use clap::Args;
use nix::unistd::{Gid, Group};

use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Group (name or GID) that may use the API socket besides root (mode 0660), as Docker's `-G`.
    #[arg(short = 'G', long, env = "BERTH_SOCKET_GROUP", value_name = "GROUP")]
    pub group: Option<String>,
}

/// A group by name or number.
fn group(text: &str) -> anyhow::Result<Gid> {
    if let Ok(number) = text.parse::<u32>() {
        return Ok(Gid::from_raw(number));
    }
    match Group::from_name(text).with_context(|| format!("--group {text}: cannot read the group database"))? {
        Some(group) => Ok(group.gid),
        None => anyhow::bail!("--group {text}: no such group"),
    }
}

pub fn run(args: DaemonArgs) -> anyhow::Result<ExitCode> {
    let socket_group = args.group.as_deref().map(group).transpose()?;
    // Leave the session of whoever started us, so their terminal's signals do
    // not reach the daemon (it fails harmlessly when we already lead one).
    let _ = nix::unistd::setsid();
    crate::daemon::limit_malloc_arenas();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        // Blocking work comes in bursts (a stack's creates); idle threads go soon.
        .thread_keep_alive(std::time::Duration::from_secs(2))
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(crate::daemon::run(Root::from_env(), socket_group)).context("the berth daemon failed")?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct VersionArgs {}

/// `berth version`: this binary's version, then the daemon's (as `docker version` shows client and server).
pub fn version(_args: VersionArgs) -> anyhow::Result<ExitCode> {
    println!("Client:\n Version: {}", env!("CARGO_PKG_VERSION"));
    let server = with_client(|client| async move { Ok(client.version().await?) })?;
    println!("\nServer:\n Version: {}\n PID:     {}\n Root:    {}", server.version, server.pid, server.root.display());
    Ok(ExitCode::SUCCESS)
}
