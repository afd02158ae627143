//! `berth-monitor`: the monitor spawner the daemon starts (`berth-monitor
//! spawner ROOT RUN`) and, forked from it, every container's monitor.
//!
//! A binary of its own, next to `berth`, made of the runtime's container code
//! alone: every monitor is a copy of it, and a process of the whole berth
//! binary (CLI, compose, daemon, registry client) carries ~0.8 MB of relocated
//! data and touches far more code before it does anything. Single-threaded:
//! no async runtime, ever (it forks).

use std::ffi::OsString;
use std::process::ExitCode;

use berth_runtime::container::spawner;
use tracing_subscriber::filter::Targets;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    init_logging();
    match args.first().and_then(|a| a.to_str()) {
        Some(spawner::SUBCOMMAND) => spawner::main(&args[1..]),
        _ => {
            eprintln!("berth-monitor: started by the berth daemon, not by hand");
            ExitCode::FAILURE
        }
    }
}

/// `BERTH_LOG` as the berth binary reads it (a level, or `target=level,...`),
/// to stderr (the monitor's log file, or the daemon's).
fn init_logging() {
    let Some(filter) = std::env::var("BERTH_LOG").ok().and_then(|f| f.parse::<Targets>().ok()) else { return };
    use tracing_subscriber::prelude::*;
    let stamped = tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_target(false);
    tracing_subscriber::registry().with(stamped.with_filter(filter)).init();
}
