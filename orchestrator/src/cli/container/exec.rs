//! `exec`: `-i`, `-t`, `-e`, `-w`, `-u`, `-d`. The daemon starts the process;
//! its stdio, window size and exit code travel on the attach protocol.

use std::io::IsTerminal;
use std::process::ExitCode;

use berth_runtime::container::{AttachStreams, ExecOptions};
use clap::Args;

use super::run::session;
use super::{exit_for, print_error};
use crate::api::containers::exec_path;
use crate::cli::remote::with_client;

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
    if args.detach {
        let path = exec_path(&args.container, true);
        return Ok(match with_client(|client| async move { Ok(client.post::<_, ()>(&path, &options).await?) }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                print_error(&error);
                exit_for(&error)
            }
        });
    }
    let streams = AttachStreams { stdin: args.interactive, stdout: true, stderr: true };
    let path = exec_path(&args.container, false);
    Ok(session(move |client| async move { Ok(client.attach(&path, &options).await?) }, streams, args.tty, false))
}
