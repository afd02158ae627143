//! `exec`: `-i`, `-t`, `-e`, `-w`, `-u`, `-d`.

use std::io::IsTerminal;
use std::process::{ExitCode, Stdio};

use berth_runtime::container::ExecOptions;
use clap::Args;

use super::terminal::RawMode;
use super::{open, print_error};

#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    pub container: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub command: Vec<String>,
}

pub fn exec(args: ExecArgs) -> anyhow::Result<ExitCode> {
    if args.tty && args.interactive && !args.detach && !std::io::stdin().is_terminal() {
        eprintln!("berth: the input device is not a TTY");
        return Ok(ExitCode::FAILURE);
    }
    let env = args
        .env
        .iter()
        .filter_map(|pair| match pair.split_once('=') {
            Some(_) => Some(pair.clone()),
            None => std::env::var(pair).ok().map(|value| format!("{pair}={value}")),
        })
        .collect();
    let options = ExecOptions {
        cmd: args.command.clone(),
        env,
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        tty: args.tty,
        interactive: args.interactive,
    };
    let mut command = match open().and_then(|containers| Ok(containers.exec_command(&args.container, &options)?)) {
        Ok(command) => command,
        Err(error) => {
            print_error(&error);
            return Ok(ExitCode::from(126));
        }
    };
    if args.detach {
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        return Ok(ExitCode::SUCCESS);
    }
    let raw = if args.tty && args.interactive { RawMode::enter()? } else { None };
    let status = command.status()?;
    drop(raw);
    Ok(ExitCode::from(status.code().unwrap_or(126).clamp(0, 255) as u8))
}
