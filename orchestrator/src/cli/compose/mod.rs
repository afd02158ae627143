//! `berth compose ...`: the options every compose command shares, and dispatch.

mod config;
mod down;
mod events;
mod exec;
mod images;
mod logs;
mod progress;
mod ps;
mod run;
mod top;
mod up;
mod verbs;
mod wait;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::compose::load::{LoadOptions, Loaded, load};

#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// Compose configuration files (repeatable; later files override earlier ones).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Project name.
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    project_name: Option<String>,
    /// Alternate working directory (default: the directory of the first compose file).
    #[arg(long, value_name = "DIR")]
    project_directory: Option<PathBuf>,
    /// Alternate environment files (repeatable; replace the project's .env).
    #[arg(long = "env-file", value_name = "FILE")]
    env_files: Vec<PathBuf>,
    /// Profiles to enable (repeatable).
    #[arg(long = "profile", value_name = "PROFILE")]
    profiles: Vec<String>,
    #[command(subcommand)]
    command: ComposeCommand,
}

#[derive(Debug, Subcommand)]
enum ComposeCommand {
    /// Parse, resolve and render the compose file in canonical format.
    Config(config::ConfigArgs),
    /// Create and start containers (the daemon keeps them converged).
    Up(up::UpArgs),
    /// Stop and remove containers, networks (and volumes with -v).
    Down(down::DownArgs),
    /// List containers.
    Ps(ps::PsArgs),
    /// List running compose projects.
    Ls(ps::LsArgs),
    /// View output from containers.
    Logs(logs::LogsArgs),
    /// Receive real time events from containers.
    Events(events::EventsArgs),
    /// Pull service images.
    Pull(images::ServicesArgs),
    /// Push service images.
    Push(images::ServicesArgs),
    /// List images used by the created containers.
    Images(images::ServicesArgs),
    /// Print the public port for a port binding.
    Port(images::PortArgs),
    /// Block until containers of the services stop; print their exit codes.
    Wait(images::ServicesArgs),
    /// Stop services (they stay stopped: the daemon does not restart them).
    Stop(verbs::VerbArgs),
    /// Start existing containers.
    Start(verbs::VerbArgs),
    /// Restart service containers.
    Restart(verbs::VerbArgs),
    /// Force stop service containers.
    Kill(verbs::VerbArgs),
    /// Remove stopped service containers.
    Rm(verbs::VerbArgs),
    /// Execute a command in a running service container.
    Exec(exec::ExecArgs),
    /// Run a one-off command on a service.
    Run(run::RunArgs),
    /// Display the running processes.
    Top(top::TopArgs),
    /// Pause services.
    Pause(verbs::PauseArgs),
    /// Unpause services.
    Unpause(verbs::PauseArgs),
}

impl ComposeArgs {
    fn load(&self, interpolate: bool) -> anyhow::Result<Loaded> {
        let mut options = LoadOptions::from_process().context("cannot read the working directory")?;
        options.files.clone_from(&self.files);
        options.project_name.clone_from(&self.project_name);
        options.project_directory.clone_from(&self.project_directory);
        options.env_files.clone_from(&self.env_files);
        options.profiles.clone_from(&self.profiles);
        options.interpolate = interpolate;
        let loaded = load(&options)?;
        for unset in &loaded.unset {
            tracing::warn!("The {:?} variable is not set. Defaulting to a blank string.", unset.name);
        }
        Ok(loaded)
    }

    /// The project's name and model from its compose files; with `-p` and no
    /// compose file (as `down -p NAME` from anywhere), the name alone.
    fn project_or_name(&self) -> anyhow::Result<(String, Option<crate::compose::model::Project>)> {
        match self.load(true) {
            Ok(loaded) => Ok((loaded.project.name.clone(), Some(loaded.project))),
            Err(error) => match &self.project_name {
                Some(name) if self.files.is_empty() => {
                    tracing::debug!(%error, "no compose file; using the project name alone");
                    Ok((name.clone(), None))
                }
                _ => Err(error),
            },
        }
    }
}

pub fn run(args: ComposeArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        ComposeCommand::Config(config) => config::run(&args, config),
        ComposeCommand::Up(up) => up::run(&args, up),
        ComposeCommand::Down(down) => down::run(&args, down),
        ComposeCommand::Ps(ps) => ps::ps(&args, ps),
        ComposeCommand::Ls(ls) => ps::ls(ls),
        ComposeCommand::Logs(logs) => logs::run(&args, logs),
        ComposeCommand::Events(events) => events::run(&args, events),
        ComposeCommand::Pull(a) => images::transfer(&args, "pull", a),
        ComposeCommand::Push(a) => images::transfer(&args, "push", a),
        ComposeCommand::Images(a) => images::images(&args, a),
        ComposeCommand::Port(a) => images::port(&args, a),
        ComposeCommand::Wait(a) => images::wait(&args, a),
        ComposeCommand::Stop(a) => verbs::run(&args, "stop", a),
        ComposeCommand::Start(a) => verbs::run(&args, "start", a),
        ComposeCommand::Restart(a) => verbs::run(&args, "restart", a),
        ComposeCommand::Kill(a) => verbs::run(&args, "kill", a),
        ComposeCommand::Rm(a) => verbs::run(&args, "rm", a),
        ComposeCommand::Exec(a) => exec::run(&args, a),
        ComposeCommand::Run(a) => run::run(&args, a),
        ComposeCommand::Top(a) => top::run(&args, a),
        ComposeCommand::Pause(a) => verbs::pause(&args, "pause", a),
        ComposeCommand::Unpause(a) => verbs::pause(&args, "unpause", a),
    }
}
