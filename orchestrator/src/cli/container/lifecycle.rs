//! `start`, `stop`, `kill`, `restart`, `rm`, `pause`, `unpause`, `wait`, `rename`, `top`, `container prune`.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::process::ExitCode;

use berth_runtime::container::prune::Pruned;
use berth_runtime::container::signal::parse_signal;
use berth_runtime::container::times::parse_time;
use berth_runtime::container::top::Top;
use berth_runtime::container::{AttachStreams, ExitStatus};
use clap::Args;

use super::format::{decimal_size, table};
use super::run::session;
use crate::api::client::ClientError;
use crate::api::containers::{KillRequest, PruneRequest, RemoveRequest, RenameRequest, StopRequest, attach_path};
use crate::cli::remote::with_client;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach the container's STDIN.
    #[arg(short, long)]
    pub interactive: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn start(args: StartArgs) -> anyhow::Result<ExitCode> {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        let reference = &args.containers[0];
        let found: serde_json::Value =
            with_client(|client| async move { Ok(client.get(&format!("/containers/{reference}/json")).await?) })?;
        let id = found["Id"].as_str().unwrap_or(reference);
        let tty = found["Config"]["Tty"].as_bool().unwrap_or(false);
        let open_stdin = found["Config"]["OpenStdin"].as_bool().unwrap_or(false);
        let streams = AttachStreams { stdin: args.interactive && open_stdin, stdout: true, stderr: true };
        let path = attach_path(id, streams.stdin);
        return Ok(session(move |client| async move { Ok(client.attach(&path, &()).await?) }, streams, tty, !tty));
    }
    // Starting a running container is no error, as in Docker (the daemon answers 409).
    post_each(
        &args.containers,
        "start",
        &(),
        |e| matches!(e, ClientError::Api { status, .. } if *status == hyper::StatusCode::CONFLICT),
    )
}

/// POSTs `body` to `/containers/{reference}/{verb}` for each container, over one
/// client of the daemon, printing what Docker prints: the reference when done
/// (or when `tolerated` says the error is none), the error otherwise; exit 1 if any failed.
fn post_each<B: serde::Serialize + Sync>(
    references: &[String],
    verb: &str,
    body: &B,
    tolerated: fn(&ClientError) -> bool,
) -> anyhow::Result<ExitCode> {
    with_client(|client| async move {
        let mut failed = false;
        for reference in references {
            match client.post::<_, ()>(&format!("/containers/{reference}/{verb}"), body).await {
                Ok(()) => println!("{reference}"),
                Err(error) if tolerated(&error) => println!("{reference}"),
                Err(error) => {
                    eprintln!("Error response from daemon: {error}");
                    failed = true;
                }
            }
        }
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}

/// No error is tolerated.
fn none(_: &ClientError) -> bool {
    false
}

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (its stop timeout by default).
    #[arg(short, long, visible_alias = "time")]
    pub timeout: Option<u32>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn stop(args: StopArgs) -> anyhow::Result<ExitCode> {
    let request = StopRequest { timeout: args.timeout };
    post_each(&args.containers, "stop", &request, none)
}

#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn kill(args: KillArgs) -> anyhow::Result<ExitCode> {
    parse_signal(&args.signal).map_err(anyhow::Error::msg)?;
    let request = KillRequest { signal: args.signal.clone() };
    post_each(&args.containers, "kill", &request, none)
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container.
    #[arg(short, long, visible_alias = "time")]
    pub timeout: Option<u32>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn restart(args: RestartArgs) -> anyhow::Result<ExitCode> {
    let request = StopRequest { timeout: args.timeout };
    post_each(&args.containers, "restart", &request, none)
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn rm(args: RmArgs) -> anyhow::Result<ExitCode> {
    let request = RemoveRequest { force: args.force, volumes: args.volumes };
    post_each(&args.containers, "remove", &request, none)
}

#[derive(Debug, Args)]
pub struct PauseArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Freezes the containers' processes (through the daemon, which then leaves them be).
pub fn pause(args: PauseArgs) -> anyhow::Result<ExitCode> {
    post_each(&args.containers, "pause", &(), none)
}

pub fn unpause(args: PauseArgs) -> anyhow::Result<ExitCode> {
    post_each(&args.containers, "unpause", &(), none)
}

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Prints each container's exit code once it stops; exit 1 if any could not be waited for.
pub fn wait(args: WaitArgs) -> anyhow::Result<ExitCode> {
    with_client(|client| async move {
        let mut failed = false;
        for reference in &args.containers {
            match client.post::<_, ExitStatus>(&format!("/containers/{reference}/wait"), &()).await {
                Ok(status) => println!("{}", status.exit_code),
                Err(error) => {
                    eprintln!("Error response from daemon: {error}");
                    failed = true;
                }
            }
        }
        Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
    })
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

pub fn rename(args: RenameArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/containers/{}/rename", args.container);
    let request = RenameRequest { name: args.new_name };
    with_client(|client| async move { Ok(client.post::<_, ()>(&path, &request).await?) })?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
}

pub fn top(args: TopArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/containers/{}/top", args.container);
    let top: Top = with_client(|client| async move { Ok(client.get(&path).await?) })?;
    let titles: Vec<&str> = top.titles.iter().map(String::as_str).collect();
    print!("{}", table(&titles, &top.processes));
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Filters: until=<timestamp>, label=<key>[=<value>].
    #[arg(long)]
    pub filter: Vec<String>,
}

pub fn prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let mut until = None;
    let mut labels = BTreeMap::new();
    for filter in &args.filter {
        match filter.split_once('=') {
            Some(("until", value)) => until = Some(parse_time(value, chrono::Utc::now()).map_err(anyhow::Error::msg)?),
            Some(("label", label)) => {
                let (key, value) = match label.split_once('=') {
                    Some((key, value)) => (key, Some(value.to_owned())),
                    None => (label, None),
                };
                labels.insert(key.to_owned(), value);
            }
            _ => anyhow::bail!("invalid filter {filter:?}: supported are until=<timestamp> and label=<key>[=<value>]"),
        }
    }
    if !args.force {
        print!("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let request = PruneRequest { until, labels };
    let pruned: Pruned = with_client(|client| async move { Ok(client.post("/containers/prune", &request).await?) })?;
    if !pruned.removed.is_empty() {
        println!("Deleted Containers:");
        for id in &pruned.removed {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: {}", decimal_size(pruned.reclaimed));
    Ok(ExitCode::SUCCESS)
}
