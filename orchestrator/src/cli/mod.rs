//! Command-line interface: argument parsing and printing only; the work is in the library.

mod compose;

use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "berth", version, about = "A container engine and declarative multi-container orchestrator")]
pub struct Cli {
    /// More log output: -v info, -vv debug, -vvv trace (BERTH_LOG overrides, e.g. BERTH_LOG=berth=debug).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Define and run multi-container applications.
    Compose(compose::ComposeArgs),
}

/// Logs go to stderr; warnings are on by default, as compose prints them.
pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("BERTH_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Compose(args) => compose::run(args),
    }
}
