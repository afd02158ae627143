//! The container commands (`create`, `run`, `start`, `ps`, `logs`, `exec`,
//! `stop`, `kill`, `restart`, `rm`, `pause`, `unpause`, `inspect`, `top`,
//! `wait`, `cp`, `stats`, `rename`, `container ...`), with Docker's flags,
//! output and exit codes.
//! Parsing and printing only; the daemon does the work (in `berth_runtime::container`).

mod copy;
mod create;
mod exec;
mod format;
mod inspect;
mod lifecycle;
mod logs;
mod port;
mod ps;
mod run;
mod stats;
mod terminal;

use std::process::ExitCode;

use berth_runtime::container::ContainerError;
use clap::{Args, Subcommand};

pub use copy::{CpArgs, cp};
pub use create::{CreateArgs, create};
pub use exec::{ExecArgs, exec};
pub(crate) use format::table;
pub use inspect::{InspectArgs, inspect};
pub use lifecycle::{
    KillArgs, PauseArgs, PruneArgs, RenameArgs, RestartArgs, RmArgs, StartArgs, StopArgs, TopArgs, WaitArgs, kill,
    pause, prune, rename, restart, rm, start, stop, top, unpause, wait,
};
pub use logs::{LogsArgs, logs};
pub use port::{PortArgs, port};
pub use ps::{PsArgs, ps};
pub(crate) use run::session;
pub use run::{RunArgs, run};
pub use stats::{StatsArgs, stats};

/// `berth container ...`
#[derive(Debug, Args)]
pub struct ContainerArgs {
    #[command(subcommand)]
    pub command: ContainerCommand,
}

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a new container.
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Create and run a new container from an image.
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// List containers.
    #[command(alias = "ps", alias = "list")]
    Ls(PsArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Restart one or more containers.
    Restart(RestartArgs),
    /// Remove one or more containers.
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more containers.
    Inspect(InspectArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(WaitArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(CpArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(StatsArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Remove all stopped containers.
    Prune(PruneArgs),
    /// Pause all processes within one or more containers.
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers.
    Unpause(PauseArgs),
}

pub fn container(args: ContainerArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ContainerCommand::Create(args) => create(args),
        ContainerCommand::Run(args) => run(args),
        ContainerCommand::Start(args) => start(args),
        ContainerCommand::Ls(args) => ps(args),
        ContainerCommand::Logs(args) => logs(args),
        ContainerCommand::Exec(args) => exec(args),
        ContainerCommand::Stop(args) => stop(args),
        ContainerCommand::Kill(args) => kill(args),
        ContainerCommand::Restart(args) => restart(args),
        ContainerCommand::Rm(args) => rm(args),
        ContainerCommand::Inspect(args) => inspect(args),
        ContainerCommand::Top(args) => top(args),
        ContainerCommand::Port(args) => port(args),
        ContainerCommand::Wait(args) => wait(args),
        ContainerCommand::Cp(args) => cp(args),
        ContainerCommand::Stats(args) => stats(args),
        ContainerCommand::Rename(args) => rename(args),
        ContainerCommand::Prune(args) => prune(args),
        ContainerCommand::Pause(args) => pause(args),
        ContainerCommand::Unpause(args) => unpause(args),
    }
}

/// Prints an error as `docker run` does (`docker: ...`).
fn print_error(error: &anyhow::Error) {
    eprintln!("berth: {error:#}");
}

/// Docker's exit code for an error: 126/127 when the command could not run, 125 otherwise.
fn exit_for(error: &anyhow::Error) -> ExitCode {
    if let Some(crate::api::client::ClientError::Api { exit_code: Some(code), .. }) = error.downcast_ref() {
        return ExitCode::from(*code);
    }
    ExitCode::from(error.downcast_ref::<ContainerError>().map_or(125, ContainerError::exit_code))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_consistent() {
        crate::cli::Cli::command().debug_assert();
    }
}
