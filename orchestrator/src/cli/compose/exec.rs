//! `compose exec SERVICE CMD`: `exec` in the service's container, found
//! through the daemon. As with docker compose, stdin is passed and a terminal
//! is given when stdin is one, unless `-T`.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::ComposeArgs;
use super::images::ps;
use crate::cli::container;

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    detach: bool,
    /// Disable pseudo-TTY allocation (given by default when stdin is a terminal).
    #[arg(short = 'T', long = "no-tty", alias = "no-TTY")]
    no_tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Path to workdir directory for this command.
    #[arg(short, long)]
    workdir: Option<String>,
    /// Run the command as this user.
    #[arg(short, long)]
    user: Option<String>,
    /// Index of the container if the service has several replicas.
    #[arg(long, default_value_t = 1)]
    index: u32,
    service: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

pub fn run(compose: &ComposeArgs, args: &ExecArgs) -> anyhow::Result<ExitCode> {
    let entries = ps(compose)?;
    let entry = entries
        .iter()
        .find(|e| e.service == args.service && e.number == args.index)
        .with_context(|| format!("service {:?} has no container with index {}", args.service, args.index))?;
    // A paused one is for the runtime to refuse, with Docker's message.
    if entry.state != "running" && entry.state != "paused" {
        bail!("service {:?} is not running (container {} is {})", args.service, entry.name, entry.state);
    }
    container::exec(container::ExecArgs {
        detach: args.detach,
        interactive: !args.detach,
        tty: !args.detach && !args.no_tty && std::io::stdin().is_terminal(),
        env: args.env.clone(),
        workdir: args.workdir.clone(),
        user: args.user.clone(),
        container: entry.name.clone(),
        command: args.command.clone(),
    })
}
