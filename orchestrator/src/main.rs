use std::process::ExitCode;

use clap::Parser;

use berth::cli::{self, Cli};

fn main() -> ExitCode {
    // The monitor spawner, a monitor or an exec helper: berth re-executed, single-threaded,
    // before anything else starts (no async runtime may exist when it forks).
    let mut args = std::env::args_os();
    if args.nth(1).is_some_and(|a| a == "internal") {
        return internal(&args.collect::<Vec<_>>());
    }
    let cli = Cli::parse();
    cli::init_logging(cli.verbose, matches!(cli.command, cli::Command::Daemon(_)));
    match cli::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// `berth internal spawner|monitor|exec ...` (hidden; started by berth itself).
fn internal(args: &[std::ffi::OsString]) -> ExitCode {
    use berth_runtime::container::{exec, monitor, spawner};
    if std::env::var_os("BERTH_LOG").is_some() {
        cli::init_logging(0, true);
    }
    match args.first().and_then(|a| a.to_str()) {
        Some(spawner::SUBCOMMAND) => spawner::main(&args[1..]),
        Some(monitor::SUBCOMMAND) => monitor::main(&args[1..]),
        Some(exec::SUBCOMMAND) => exec::main(&args[1..]),
        _ => {
            eprintln!("berth internal: unknown helper");
            ExitCode::FAILURE
        }
    }
}
